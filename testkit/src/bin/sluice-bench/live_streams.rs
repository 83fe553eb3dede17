//! `scripts/bench live-streams`: many answers streaming at once at a model's speed (50 ms
//! between tokens, 200 tokens: 10 s each), each client starting its next when one ends. What
//! it costs to hold N live streams: token events delivered per second, the gap Sluice adds
//! between tokens, and each process's CPU (cores) and memory.

use std::time::{Duration, Instant};

use futures::future::join_all;
use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    env_or,
    load::one_chat,
    ms, percentile, rss_mib,
    stack::{self, Workers},
};

/// Live streams per row (`BENCH_LIVE`, default `100,200,400`).
fn sizes() -> Vec<usize> {
    std::env::var("BENCH_LIVE")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 200, 400])
}

pub async fn run(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    let pacing = Duration::from_millis(env_or("BENCH_PACING_MS", 50));
    let tokens: u32 = env_or("BENCH_TOKENS", 200);
    let largest = sizes().into_iter().max().unwrap_or(1);
    let fake = FakeOpenAi::start(tokens, pacing).await;
    let workers = Workers {
        processes: 1,
        concurrency: largest.max(1),
        batch_size: 32,
    };
    let stack = stack::start(bin_dir, &fake, &workers).await?;
    let users = stack::guests(&stack, 64).await?;
    let processes = stack.processes().await;
    println!(
        "\nSluice live streams — upstream {} ms before each of {tokens} tokens, {seconds} s per row\n",
        pacing.as_millis()
    );
    println!(
        "| streams | token events/s | added gap p50 | p99 | cores: api | worker | postgres | nats | client+fake | API RSS | worker RSS |"
    );
    println!(
        "|---------|----------------|---------------|-----|------------|--------|----------|------|-------------|---------|------------|"
    );
    for n in sizes() {
        let before = processes.sample();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let clients = (0..n).map(|i| {
            let token = users[i % users.len()].clone();
            let stack = &stack;
            async move {
                // Spread the starts over a second, as real traffic is.
                tokio::time::sleep(Duration::from_secs_f64(i as f64 / n as f64)).await;
                let (mut events, mut gaps) = (0usize, Vec::new());
                while Instant::now() < deadline {
                    let chat = one_chat(stack, &token).await?;
                    events += chat.events;
                    gaps.extend(chat.gaps);
                }
                anyhow::Ok((events, gaps))
            }
        });
        let (mut events, mut gaps) = (0, Vec::new());
        for result in join_all(clients).await {
            let (e, g) = result?;
            events += e;
            gaps.extend(g);
        }
        let elapsed = started.elapsed().as_secs_f64();
        // CPU seconds per second of the row: cores busy, by process.
        let cores = processes
            .sample()
            .per_chat_ms(&before, 1)
            .map(|ms| ms / 1000.0 / elapsed);
        let added: Vec<Duration> = gaps.iter().map(|g| g.saturating_sub(pacing)).collect();
        println!(
            "| {n:>7} | {:>14.0} | {:>10.2} ms | {:>6.2} ms | {:>10.2} | {:>6.2} | {:>8.2} | {:>4.2} | {:>11.2} | {:>4.0} MiB | {:>7.0} MiB |",
            events as f64 / elapsed,
            ms(percentile(&added, 0.5)),
            ms(percentile(&added, 0.99)),
            cores[0],
            cores[1],
            cores[2],
            cores[3],
            cores[4],
            rss_mib(stack.api.id(), "VmHWM"),
            rss_mib(stack.workers[0].id(), "VmHWM"),
        );
    }
    Ok(())
}
