//! `scripts/bench durable-streams`: the Durable Streams protocol (`/v1/stream/…`) on the real
//! stack (the API a release process; Postgres and NATS real, durable).
//!
//! 1. Appends per second on one stream and spread over `BENCH_DS_STREAMS` streams (default
//!    10,000), with `BENCH_ROWS` writers (default 1,16,64) appending 100-byte bodies back to
//!    back for `BENCH_SECONDS`: appends/s, latency p50/p99, and CPU per append by process.
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

    println!("\nSluice durable streams — appends of 100 bytes, {seconds} s per row\n");
    println!(
        "| streams | writers | appends/s | p50 ms | p99 ms | CPU ms per append: api | postgres | nats | all |"
    );
    println!("|---------|---------|-----------|--------|--------|-----|-----|-----|-----|");
    let one = vec![create(&stack, &token, "bench/one").await?];
    let started = Instant::now();
    let many = create_many(&stack, &token, streams).await?;
    eprintln!(
        "created {streams} streams in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        streams as f64 / started.elapsed().as_secs_f64()
    );
    for (label, paths) in [("1", &one), (&*streams.to_string(), &many)] {
        for writers in rows() {
            let before = processes.sample();
            let (count, latencies) = appends(&stack, &token, paths, writers, seconds).await;
            let per = processes.sample().per_chat_ms(&before, count);
            let (api, pg, nats) = (per[0], per[2], per[3]);
            println!(
                "| {label} | {writers} | {:.0} | {:.2} | {:.2} | {api:.3} | {pg:.3} | {nats:.3} | {:.3} |",
                count as f64 / seconds as f64,
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
        create(&stack, &token, &path).await?;
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

fn url(stack: &Stack, path: &str) -> String {
    format!("{}/v1/stream/{path}", stack.base)
}

async fn create(stack: &Stack, token: &str, path: &str) -> anyhow::Result<String> {
    let r = stack
        .http
        .put(url(stack, path))
        .bearer_auth(token)
        .header("content-type", "text/plain")
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "create {path}: {}", r.status());
    Ok(path.to_string())
}

async fn create_many(stack: &Stack, token: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let paths: Vec<String> = (0..n).map(|i| format!("bench/many/{i}")).collect();
    let created = futures::stream::iter(paths.iter().map(|p| create(stack, token, p)))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    created.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(paths)
}

/// `writers` clients appending back to back to `paths` (each to the next one, round robin
/// from its own start) for `seconds`: how many were stored and each one's latency.
async fn appends(
    stack: &Stack,
    token: &str,
    paths: &[String],
    writers: usize,
    seconds: u64,
) -> (usize, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let body = "x".repeat(100);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (http, token, stop, body) = (
                stack.http.clone(),
                token.to_string(),
                stop.clone(),
                body.clone(),
            );
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
                        .header("content-type", "text/plain")
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
