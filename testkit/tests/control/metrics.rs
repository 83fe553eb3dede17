//! `/metrics` on the API's and the worker's own addresses: after real chats, each counter an
//! operator watches moved by exactly what happened, and the public address serves no metrics.

use std::{net::SocketAddr, time::Duration};

use sluice_testkit::{
    TestApp,
    fake_openai::{FakeOpenAi, Fault},
    with_fake_openai,
};

/// The metrics the API and the worker describe (their `# HELP` lists).
const DESCRIBED: [&str; 2] = [
    include_str!("../../../api/src/metrics.rs"),
    include_str!("../../../worker/src/metrics.rs"),
];

/// A loopback address no one listens on now.
fn free_addr() -> SocketAddr {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

async fn scrape(addr: SocketAddr) -> String {
    let r = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    r.text().await.unwrap()
}

/// The value of one series (`name{labels}` exactly as rendered); 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn counters_move_by_what_the_chats_did() {
    let fake = FakeOpenAi::start(6, Duration::from_millis(2)).await;
    let (api_metrics, worker_metrics) = (free_addr(), free_addr());
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(move |c| {
        c.metrics_listen = Some(api_metrics);
        c.worker.metrics_listen = Some(worker_metrics);
    }))
    .await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;

    let api_before = scrape(api_metrics).await;
    let worker_before = scrape(worker_metrics).await;
    // One answer the provider rate-limits once (retried), and one straight through.
    fake.push_fault(Fault::RateLimit {
        retry_after_secs: 0,
    });
    let first = app.send_answered(&token, conversation, "one").await;
    // The second through `POST /api/chat`, whose stream is attached before the answer can
    // start: its time to first token is always observed (a stream opened after a fast worker
    // began is not timed from the enqueue).
    let chat = app
        .call(
            &token,
            reqwest::Method::POST,
            "/api/chat",
            Some(serde_json::json!({ "message": "two", "conversation_id": conversation })),
        )
        .await;
    assert_eq!(chat.status(), 200);
    let events = sluice_testkit::sse::SseStream::new(chat).collect().await;
    let second: uuid::Uuid = events[0].data["message_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token_events = events.iter().filter(|e| e.event == "token").count() as f64;
    assert!(token_events >= 1.0);
    let stored = app.message(&token, second).await;
    let output_tokens = stored["usage"]["output_tokens"].as_f64().unwrap();
    assert_eq!(
        app.message(&token, first.assistant_message.id).await["status"],
        "done"
    );

    let api = scrape(api_metrics).await;
    let worker = scrape(worker_metrics).await;
    let moved =
        |before: &str, after: &str, series: &str| value(after, series) - value(before, series);

    // The API: the sends and the stream by route pattern (never by id), the relayed tokens,
    // first-token and whole-answer times of the answers streamed from their start.
    let sends = r#"sluice_http_requests_total{route="/api/conversations/{id}/messages",method="POST",status="202"}"#;
    assert_eq!(moved(&api_before, &api, sends), 1.0, "{api}");
    let chats = r#"sluice_http_requests_total{route="/api/chat",method="POST",status="200"}"#;
    assert_eq!(moved(&api_before, &api, chats), 1.0, "{api}");
    let streams = r#"sluice_http_requests_total{route="/api/messages/{id}/stream",method="GET",status="200"}"#;
    assert!(moved(&api_before, &api, streams) >= 1.0, "{api}");
    assert!(!api.contains(&second.to_string()), "no series per id");
    assert!(
        moved(&api_before, &api, "sluice_token_events_relayed_total") >= token_events,
        "{api}"
    );
    assert!(
        moved(
            &api_before,
            &api,
            "sluice_time_to_first_token_seconds_count"
        ) >= 1.0
    );
    assert!(moved(&api_before, &api, "sluice_answer_duration_seconds_count") >= 1.0);
    assert_eq!(
        value(&api, "sluice_sse_streams_open"),
        0.0,
        "every stream ended: {api}"
    );
    assert_eq!(value(&api, "sluice_queue_due_jobs"), 0.0, "{api}");
    assert!(api.contains("# HELP sluice_http_requests_total"), "{api}");

    // The worker: two attempts done, the provider called twice and retried once, the tokens it
    // reported, the offers it took, nothing in flight now.
    let done = r#"sluice_attempts_total{outcome="done"}"#;
    assert_eq!(moved(&worker_before, &worker, done), 2.0, "{worker}");
    let calls = r#"sluice_provider_requests_total{provider="openai"}"#;
    assert_eq!(moved(&worker_before, &worker, calls), 2.0, "{worker}");
    let retries = r#"sluice_provider_retries_total{provider="openai"}"#;
    assert_eq!(moved(&worker_before, &worker, retries), 1.0, "{worker}");
    let tokens = r#"sluice_output_tokens_total{provider="openai"}"#;
    assert_eq!(
        moved(&worker_before, &worker, tokens),
        2.0 * output_tokens,
        "{worker}"
    );
    let taken = r#"sluice_offers_total{decision="taken"}"#;
    assert_eq!(moved(&worker_before, &worker, taken), 2.0, "{worker}");
    assert_eq!(value(&worker, "sluice_answers_in_flight"), 0.0, "{worker}");
    assert_eq!(value(&worker, "sluice_resets_total"), 0.0, "{worker}");
    assert!(
        value(&worker, "sluice_postgres_connections_opened_total") >= 1.0,
        "{worker}"
    );

    // Every metric the Grafana dashboard plots is one these processes serve.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/grafana/dashboards/sluice.json"),
    )
    .unwrap();
    let plotted: std::collections::BTreeSet<&str> = dashboard
        .match_indices("sluice_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| name.len() > "sluice_".len())
        .collect();
    assert!(plotted.len() > 15, "{plotted:?}");
    for name in plotted {
        let family = name.trim_end_matches("_bucket");
        // Series with run-time labels appear only once something happened (no provider
        // errors here), so the names are checked against what each process describes.
        assert!(
            DESCRIBED
                .iter()
                .any(|source| source.contains(&format!("\"{family}\""))),
            "the dashboard plots {name}, which nothing serves"
        );
    }

    // Not on the public address.
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}

#[tokio::test]
async fn open_streams_and_queued_jobs_show_while_they_last() {
    let api_metrics = free_addr();
    // No worker: the answer waits in the queue.
    let app = TestApp::spawn_with(
        sluice_testkit::Options {
            in_process_worker: false,
            ..sluice_testkit::Options::default()
        }
        .and(move |c| c.metrics_listen = Some(api_metrics)),
    )
    .await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app.send(&token, conversation, "wait for me").await;
    let stream = app.sse(&token, &sent.stream_url, None).await;
    sluice_testkit::wait::until(
        "the stream and the queued job show",
        Duration::from_secs(10),
        || async { scrape(api_metrics).await },
        |text| {
            value(text, "sluice_sse_streams_open") == 1.0
                && value(text, "sluice_queue_due_jobs") == 1.0
                && value(text, "sluice_queue_oldest_due_age_seconds") > 0.0
        },
    )
    .await;
    drop(stream);
    sluice_testkit::wait::until(
        "the closed stream is no longer counted",
        Duration::from_secs(10),
        || async { scrape(api_metrics).await },
        |text| value(text, "sluice_sse_streams_open") == 0.0,
    )
    .await;
}
