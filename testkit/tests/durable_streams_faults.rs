//! Exactly-once under faults: an agent appends 400 steps with the producer headers through a
//! balancer in front of two APIs, retrying whatever gets no answer, while one API is killed
//! with SIGKILL (twice) and the nats-server is stopped and started again; a reader follows by
//! long-poll through the same balancer. Both the stream and what the reader saw hold every
//! step exactly once, in order.

use std::{
    process::Child,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use reqwest::Method;
use sluice_testkit::{
    Options, TestApp,
    durable_streams::{Streams, header},
    proxy::BalancingProxy,
    services, wait,
};

const API: &str = env!("CARGO_BIN_EXE_sluice-test-api");
const STEPS: u64 = 400;

fn step(i: u64) -> String {
    format!("step {i}\n")
}

/// Appends every step in order, each retried until the stream has it (200, or 204: it had).
async fn produce(streams: Streams, done: Arc<AtomicU64>, retried: Arc<AtomicU64>) {
    for i in 0..STEPS {
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(tries < 500, "step {i} never got in");
            let sent = streams
                .request(Method::POST, "agent")
                .header("content-type", "text/plain")
                .header("producer-id", "agent-1")
                .header("producer-epoch", "0")
                .header("producer-seq", i.to_string())
                .body(step(i))
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match sent.map(|r| r.status().as_u16()) {
                Ok(200 | 204) => break,
                // The API died under it, or could not reach NATS (503): send it again.
                Err(_) | Ok(502 | 503) => {
                    retried.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(other) => panic!("step {i}: {other}"),
            }
        }
        done.store(i + 1, Ordering::SeqCst);
    }
}

/// Follows the stream by long-poll from its start until it has `bytes` bytes.
async fn follow(streams: Streams, bytes: usize) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut offset = "-1".to_string();
    while seen.len() < bytes {
        let url = format!("{}?offset={offset}&live=long-poll", streams.url("agent"));
        let answer = streams
            .http
            .get(url)
            .bearer_auth(&streams.credential)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let Ok(answer) = answer else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        match answer.status().as_u16() {
            200 | 204 => {
                let next = header(&answer, "stream-next-offset").expect("an offset");
                let Ok(body) = answer.bytes().await else {
                    continue;
                };
                seen.extend_from_slice(&body);
                offset = next;
            }
            502 | 503 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("read: {other}"),
        }
    }
    seen
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_is_stored_once_in_order_through_api_kills_and_a_nats_restart() {
    let (nats_port, nats_store) = services::private_nats();
    let app = TestApp::spawn_with(
        Options {
            in_process_worker: false,
            ..Options::default()
        }
        .and(move |c| {
            c.nats_url = format!("nats://127.0.0.1:{nats_port}");
            c.durable_streams.long_poll_timeout_ms = 1000;
        }),
    )
    .await;
    let killable_port = services::free_port();
    let in_process = app.base.trim_start_matches("http://").to_string();
    let balancer =
        BalancingProxy::start(vec![format!("127.0.0.1:{killable_port}"), in_process]).await;
    let mut killable = Killed(app.api_process(API, killable_port, &balancer.base));
    let ready = |base: String| {
        let http = app.http.clone();
        async move {
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let killable_base = format!("http://127.0.0.1:{killable_port}");
    wait::until(
        "the API process is ready",
        Duration::from_secs(30),
        || ready(killable_base.clone()),
        |s| *s == 200,
    )
    .await;

    let token = app.guest().await;
    let key = app.create_key(&token, "agent").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let mut streams = Streams::new(&balancer.base, &key);
    // A connection per request, so requests alternate between the two APIs.
    streams.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    streams.create("agent", "text/plain").await;

    let expected: String = (0..STEPS).map(step).collect();
    let done = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let producer = tokio::spawn(produce(streams.clone(), done.clone(), retried.clone()));
    let reader = tokio::spawn(follow(streams.clone(), expected.len()));
    let reached = |n: u64| {
        let done = done.clone();
        async move {
            wait::until(
                &format!("{n} steps in"),
                Duration::from_secs(60),
                || async { done.load(Ordering::SeqCst) },
                |d| *d >= n,
            )
            .await;
        }
    };

    reached(STEPS / 5).await;
    killable.0.kill().expect("SIGKILL the API");
    let _ = killable.0.wait();
    reached(2 * STEPS / 5).await;
    killable = Killed(app.api_process(API, killable_port, &balancer.base));
    reached(3 * STEPS / 5).await;
    services::stop_nats(&nats_store);
    // The outage's length (the scenario, not a wait for something).
    tokio::time::sleep(Duration::from_millis(700)).await;
    services::restart_nats(nats_port, &nats_store);
    reached(4 * STEPS / 5).await;
    killable.0.kill().expect("SIGKILL the API again");

    tokio::time::timeout(Duration::from_secs(120), producer)
        .await
        .expect("the producer finishes")
        .unwrap();
    let followed = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the reader catches up")
        .unwrap();
    let stored = streams.read_all("agent").await;
    assert_eq!(
        String::from_utf8(stored).unwrap(),
        expected,
        "the stream holds each step once, in order"
    );
    assert_eq!(
        String::from_utf8(followed).unwrap(),
        expected,
        "the reader saw each step once, in order"
    );
    let retried = retried.load(Ordering::SeqCst);
    // Not asserted: whether a kill lands on a request in flight is chance.
    eprintln!("appends sent again after a fault: {retried}");
    drop(killable);
    services::stop_nats(&nats_store);
}
