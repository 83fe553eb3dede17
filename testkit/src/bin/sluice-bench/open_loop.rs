//! `scripts/bench open-loop`: chats arrive at R per second with Poisson arrivals, whatever the
//! answers do, against an upstream paced like a model. Unlike the closed loop (where each
//! client waits for its answer before the next, so latency measures the queue it builds), this
//! is the latency a user feels at a given load: time to first token and the gaps between
//! tokens that Sluice adds, at p50, p99 and p99.9, and the CPU each chat costs.

use std::time::{Duration, Instant};

use futures::{StreamExt, stream::FuturesUnordered};
use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    env_or, guest,
    load::{Chat, one_chat, openai_chat},
    ms, percentile,
    stack::{self, Workers},
};

/// Arrival rates of the rows (`BENCH_RATES`, default `100,300,600` chats per second).
fn rates() -> Vec<f64> {
    std::env::var("BENCH_RATES")
        .ok()
        .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100.0, 300.0, 600.0])
}

/// Exponentially distributed gaps (Poisson arrivals) from a small deterministic generator, so
/// runs of two builds see the same arrival pattern.
struct Arrivals {
    state: u64,
    rate: f64,
}

impl Arrivals {
    fn next_gap(&mut self) -> Duration {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        let uniform = (bits as f64 + 0.5) / (1u64 << 53) as f64;
        Duration::from_secs_f64(-uniform.ln() / self.rate)
    }
}

pub async fn run(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    let pacing = Duration::from_millis(env_or("BENCH_PACING_MS", 20));
    let tokens: u32 = env_or("BENCH_TOKENS", 10);
    let fake = FakeOpenAi::start(tokens, pacing).await;
    let workers = Workers {
        processes: 1,
        concurrency: 1024,
        batch_size: 32,
    };
    let stack = stack::start(bin_dir, &fake, &workers).await?;
    let users = stack::guests(&stack, 64).await?;
    let processes = stack.processes().await;
    println!(
        "\nSluice open loop — Poisson arrivals, upstream {} ms before each of {tokens} tokens, {seconds} s per row\n",
        pacing.as_millis()
    );
    println!(
        "| rate | chats | answered/s | TTFT overhead p50 | p99 | p99.9 | added gap p50 | p99 | CPU ms/chat: api | worker | postgres | nats | client+fake | cores busy |"
    );
    println!(
        "|------|-------|------------|-------------------|-----|-------|---------------|-----|------------------|--------|----------|------|-------------|------------|"
    );
    // Warm up at the lowest rate (connections, prepared statements), then give the planner
    // statistics, as the closed loop does.
    let lowest = rates().into_iter().fold(f64::MAX, f64::min);
    let chat = |i: usize| one_chat(&stack, &users[i % users.len()]);
    row(lowest, Duration::from_secs(3), chat).await?;
    let db = sqlx::PgPool::connect(&stack.db_url).await?;
    sqlx::query("ANALYZE").execute(&db).await?;
    db.close().await;
    for rate in rates() {
        fake.take_upstream_ttft();
        let before = processes.sample();
        let started = Instant::now();
        let chats = row(rate, Duration::from_secs(seconds), chat).await?;
        let elapsed = started.elapsed();
        let cpu = processes.sample().per_chat_ms(&before, chats.len());
        let upstream = fake.take_upstream_ttft();
        let overhead: Vec<Duration> = chats
            .iter()
            .map(|c| {
                c.phases
                    .first_token
                    .saturating_sub(percentile(&upstream, 0.5))
            })
            .collect();
        let added_gaps: Vec<Duration> = chats
            .iter()
            .flat_map(|c| c.gaps.iter().map(|g| g.saturating_sub(pacing)))
            .collect();
        let busy: f64 =
            cpu.iter().sum::<f64>() * chats.len() as f64 / 1000.0 / elapsed.as_secs_f64();
        println!(
            "| {rate:>4.0} | {:>5} | {:>10.1} | {:>14.2} ms | {:>6.2} ms | {:>6.2} ms | {:>10.2} ms | {:>6.2} ms | {:>13.2} | {:>6.2} | {:>8.2} | {:>4.2} | {:>11.2} | {busy:>10.2} |",
            chats.len(),
            chats.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&overhead, 0.5)),
            ms(percentile(&overhead, 0.99)),
            ms(percentile(&overhead, 0.999)),
            ms(percentile(&added_gaps, 0.5)),
            ms(percentile(&added_gaps, 0.99)),
            cpu[0],
            cpu[1],
            cpu[2],
            cpu[3],
            cpu[4],
        );
    }
    Ok(())
}

/// Sends chats (`chat(i)` makes the i-th) at `rate` per second for `length`, whatever the
/// answers do, and waits for every answer; fails if any chat fails.
pub async fn row<F: Future<Output = anyhow::Result<Chat>>>(
    rate: f64,
    length: Duration,
    chat: impl Fn(usize) -> F,
) -> anyhow::Result<Vec<Chat>> {
    let mut arrivals = Arrivals {
        state: 0x9E37_79B9_7F4A_7C15,
        rate,
    };
    let end = Instant::now() + length;
    let mut next = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut done = Vec::new();
    let mut sent = 0;
    while next < end {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {
                in_flight.push(chat(sent));
                sent += 1;
                next += arrivals.next_gap();
            }
            Some(chat) = in_flight.next(), if !in_flight.is_empty() => done.push(chat?),
        }
    }
    while let Some(chat) = in_flight.next().await {
        done.push(chat?);
    }
    Ok(done)
}

/// `scripts/bench compare [URL…]`: the same streaming load, at `BENCH_RATE` chats per second
/// (default 100), against the paced fake upstream directly, through Sluice's
/// `/v1/chat/completions`, and at each OpenAI-compatible endpoint given (`…/chat/completions`
/// on loopback; `BENCH_TARGET_KEY` is sent as its bearer key, `BENCH_TARGET_MODEL` as the
/// model). One table: what each door adds to the upstream's own first token and gaps.
pub async fn compare(bin_dir: &str, seconds: u64, targets: Vec<String>) -> anyhow::Result<()> {
    for target in &targets {
        let host = reqwest::Url::parse(target)?
            .host_str()
            .unwrap_or_default()
            .to_string();
        anyhow::ensure!(
            matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"),
            "the bench only loads endpoints on this machine (loopback), not {target}"
        );
    }
    let pacing = Duration::from_millis(env_or("BENCH_PACING_MS", 20));
    let tokens: u32 = env_or("BENCH_TOKENS", 10);
    let rate: f64 = env_or("BENCH_RATE", 100.0);
    let fake = FakeOpenAi::start(tokens, pacing).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    let token = guest(&stack).await?;
    let http = reqwest::Client::new();
    let key = std::env::var("BENCH_TARGET_KEY").ok();
    let model = std::env::var("BENCH_TARGET_MODEL").unwrap_or_else(|_| "fake".into());
    let mut doors = vec![
        (
            "fake upstream, direct".to_string(),
            format!("{}/chat/completions", fake.base_url),
            None,
        ),
        (
            "Sluice /v1".to_string(),
            format!("{}/v1/chat/completions", stack.base),
            Some(token),
        ),
    ];
    doors.extend(targets.into_iter().map(|t| (t.clone(), t, key.clone())));
    println!(
        "\nOne streaming load through each door — {rate} chats/s (Poisson), upstream {} ms before each of {tokens} tokens, {seconds} s each\n",
        pacing.as_millis()
    );
    println!(
        "| door | chats | TTFT p50 | p99 | upstream TTFT p50 | added p50 | added p99 | gap p99 |"
    );
    println!(
        "|------|-------|----------|-----|-------------------|-----------|-----------|---------|"
    );
    for (name, endpoint, key) in doors {
        let chat = |_| openai_chat(&http, &endpoint, key.as_deref(), &model);
        row(rate, Duration::from_secs(2), chat).await?;
        fake.take_upstream_ttft();
        let chats = row(rate, Duration::from_secs(seconds), chat).await?;
        let upstream = percentile(&fake.take_upstream_ttft(), 0.5);
        let ttft: Vec<Duration> = chats.iter().map(|c| c.phases.first_token).collect();
        let added: Vec<Duration> = ttft.iter().map(|t| t.saturating_sub(upstream)).collect();
        let gaps: Vec<Duration> = chats.iter().flat_map(|c| c.gaps.clone()).collect();
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            chats.len(),
            ms(percentile(&ttft, 0.5)),
            ms(percentile(&ttft, 0.99)),
            ms(upstream),
            ms(percentile(&added, 0.5)),
            ms(percentile(&added, 0.99)),
            ms(percentile(&gaps, 0.99)),
        );
    }
    Ok(())
}
