//! `scripts/bench durable-streams`: the Durable Streams protocol (`/v1/stream/…`) on the real
//! stack (the API a release process; Postgres and NATS real, durable).
//!
//! 1. Appends per second on one stream and spread over `BENCH_DS_STREAMS` streams (default
//!    10,000), with `BENCH_ROWS` writers (default 1,16,64) appending 100-byte bodies back to
//!    back for `BENCH_SECONDS`: appends/s, latency p50/p99, and CPU per append by process.
//!    And spread over the streams as JSON appends of `BENCH_DS_BATCH` items each (default
//!    100), as a batching client (`@durable-streams/client`'s producer) sends them: items/s.
//! 2. SSE fan-out: `BENCH_READERS` readers (default 1,1000) of one stream live by SSE, one
//!    writer appending 20 times a second (below saturation): from the append's send to each
//!    reader's receipt, p50/p99 over every delivery.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use sluice_testkit::fake_openai::FakeOpenAi;
use tokio::sync::Mutex;

use crate::{
    env_or, ms, percentile, rows,
    stack::{self, Stack, Workers},
};

pub async fn run(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    let token = stack::guest(&stack).await?;
    let processes = stack.processes().await;
    let streams: usize = env_or("BENCH_DS_STREAMS", 10_000);
    let batch: usize = env_or("BENCH_DS_BATCH", 100);

    println!(
        "\nSluice durable streams — appends of 100 bytes (JSON: items of 100 bytes), {seconds} s per row\n"
    );
    println!(
        "| streams | writers | items/s | p50 ms | p99 ms | CPU ms per item: api | postgres | nats | all |"
    );
    println!("|---------|---------|---------|--------|--------|-----|-----|-----|-----|");
    let one = vec![create(&stack, &token, "bench/one", TEXT).await?];
    let started = Instant::now();
    let many = create_many(&stack, &token, streams, TEXT).await?;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "created {streams} streams in {elapsed:.1} s ({:.0}/s)",
        streams as f64 / elapsed
    );
    let json_many = create_many(&stack, &token, streams, JSON).await?;
    let item = format!(r#"{{"step":"{}"}}"#, "x".repeat(88));
    let text = Body {
        content_type: TEXT,
        bytes: "x".repeat(100),
        items: 1,
    };
    let json = Body {
        content_type: JSON,
        bytes: format!("[{}]", vec![item; batch].join(",")),
        items: batch,
    };
    let rows_of = [
        ("1".to_string(), &one, &text),
        (streams.to_string(), &many, &text),
        (
            format!("{streams}, JSON ×{batch} per append"),
            &json_many,
            &json,
        ),
    ];
    for (label, paths, body) in rows_of {
        for writers in rows() {
            let before = processes.sample();
            let (appended, latencies) =
                appends(&stack, &token, paths, body, writers, seconds).await;
            let items = appended * body.items;
            let per = processes.sample().per_chat_ms(&before, items);
            let (api, pg, nats) = (per[0], per[2], per[3]);
            println!(
                "| {label} | {writers} | {:.0} | {:.2} | {:.2} | {api:.3} | {pg:.3} | {nats:.3} | {:.3} |",
                items as f64 / seconds as f64,
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                api + pg + nats,
            );
        }
    }

    println!(
        "\nSSE fan-out — one writer, 20 appends/s, {seconds} s; send → receipt by each reader\n"
    );
    println!("| readers | deliveries | p50 ms | p99 ms | max ms |");
    println!("|---------|------------|--------|--------|--------|");
    let readers: Vec<usize> = std::env::var("BENCH_READERS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 1000]);
    for n in readers {
        let path = format!("bench/fan-out-{n}");
        create(&stack, &token, &path, TEXT).await?;
        let latencies = fan_out(&stack, &token, &path, n, seconds).await?;
        println!(
            "| {n} | {} | {:.2} | {:.2} | {:.2} |",
            latencies.len(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(percentile(&latencies, 1.0)),
        );
    }
    Ok(())
}

const TEXT: &str = "text/plain";
const JSON: &str = "application/json";

/// What each writer appends: one text append, or `items` JSON values in one append.
struct Body {
    content_type: &'static str,
    bytes: String,
    items: usize,
}

fn url(stack: &Stack, path: &str) -> String {
    format!("{}/v1/stream/{path}", stack.base)
}

async fn create(
    stack: &Stack,
    token: &str,
    path: &str,
    content_type: &str,
) -> anyhow::Result<String> {
    let r = stack
        .http
        .put(url(stack, path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "create {path}: {}", r.status());
    Ok(path.to_string())
}

async fn create_many(
    stack: &Stack,
    token: &str,
    n: usize,
    content_type: &str,
) -> anyhow::Result<Vec<String>> {
    let paths: Vec<String> = (0..n)
        .map(|i| format!("bench/{content_type}/{i}"))
        .collect();
    let created =
        futures::stream::iter(paths.iter().map(|p| create(stack, token, p, content_type)))
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
    created.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(paths)
}

/// `writers` clients appending `body` back to back to `paths` (each to the next one, round
/// robin from its own start) for `seconds`: how many appends were stored, each one's latency.
async fn appends(
    stack: &Stack,
    token: &str,
    paths: &[String],
    body: &Body,
    writers: usize,
    seconds: u64,
) -> (usize, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (http, token, stop) = (stack.http.clone(), token.to_string(), stop.clone());
            let (content_type, body) = (body.content_type, body.bytes.clone());
            let urls: Vec<String> = paths.iter().map(|p| url(stack, p)).collect();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = w * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let target = &urls[i % urls.len()];
                    i += 1;
                    let sent = Instant::now();
                    let r = http
                        .post(target)
                        .bearer_auth(&token)
                        .header("content-type", content_type)
                        .body(body.clone())
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status() == 204) {
                        latencies.push(sent.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    (all.len(), all)
}

/// `n` SSE readers of `path`; one writer appends its send time (µs since `base`) 20 times a
/// second; each reader notes, for each, when it arrived.
async fn fan_out(
    stack: &Stack,
    token: &str,
    path: &str,
    n: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Duration>> {
    let base = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let connected = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Readers on connections of their own (a client with no pooling between them).
    let mut readers = Vec::new();
    for _ in 0..n {
        let (token, latencies, connected, stop) = (
            token.to_string(),
            latencies.clone(),
            connected.clone(),
            stop.clone(),
        );
        let target = format!("{}?offset=now&live=sse", url(stack, path));
        let http = stack.http.clone();
        readers.push(tokio::spawn(async move {
            let Ok(r) = http.get(target).bearer_auth(&token).send().await else {
                return;
            };
            connected.fetch_add(1, Ordering::SeqCst);
            let mut body = r.bytes_stream();
            let mut pending = String::new();
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(Ok(chunk))) =
                    tokio::time::timeout(Duration::from_millis(200), body.next()).await
                else {
                    continue;
                };
                let arrived = base.elapsed();
                pending.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = pending.find("\n\n") {
                    let event: String = pending.drain(..end + 2).collect();
                    if !event.starts_with("event: data") {
                        continue;
                    }
                    for line in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                        for sent in line.split(';').filter_map(|t| t.parse::<u64>().ok()) {
                            mine.push(arrived.saturating_sub(Duration::from_micros(sent)));
                        }
                    }
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    while connected.load(Ordering::SeqCst) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let target = url(stack, path);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        tick.tick().await;
        let sent = base.elapsed().as_micros();
        stack
            .http
            .post(&target)
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body(format!("{sent};"))
            .send()
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    let mut all = latencies.lock().await.clone();
    all.sort();
    Ok(all)
}
