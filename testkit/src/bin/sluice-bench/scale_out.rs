//! `scripts/bench scale-out`: the same total capacity as 1, 2 and 4 worker processes, against
//! an upstream paced like a model (20 tokens, 50 ms apart: an answer takes 1 s), so the
//! figures measure how jobs find free slots rather than CPU. Each layout runs C = capacity
//! (every client should start at once) and C = 2 × capacity (half wait for a slot: the wait
//! should be queueing alone, in arrival order).

use std::time::{Duration, Instant};

use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    env_or,
    load::{Phases, load},
    report::{ms, percentile},
    stack::{self, Stack, Workers},
};

const TOKENS: u32 = 20;
const PACING: Duration = Duration::from_millis(50);

pub async fn run(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    let capacity: usize = env_or("BENCH_CAPACITY", 16);
    let answer_time = PACING * TOKENS;
    let fake = FakeOpenAi::start(TOKENS, PACING).await;
    println!(
        "\nSluice scale-out — upstream: {TOKENS} tokens {} ms apart (an answer takes {} ms), total capacity {capacity}, {seconds} s per row\n",
        PACING.as_millis(),
        answer_time.as_millis()
    );
    println!(
        "| workers × K | C | answers/s | of ideal | start wait p50 | p99 | added TTFT p50 | p99 | started out of order |"
    );
    println!(
        "|-------------|---|-----------|----------|----------------|-----|----------------|-----|----------------------|"
    );
    for processes in [1, 2, 4] {
        let workers = Workers {
            processes,
            concurrency: capacity / processes,
            batch_size: 1,
        };
        let stack = stack::start(bin_dir, &fake, &workers).await?;
        wait_for_workers(&stack, processes).await?;
        let users = stack::guests(&stack, 2 * capacity).await?;
        load(&stack, &users, capacity, Duration::from_secs(2)).await?;
        for c in [capacity, 2 * capacity] {
            fake.take_upstream_ttft();
            let row = load(&stack, &users, c, Duration::from_secs(seconds)).await?;
            let upstream = fake.take_upstream_ttft();
            let per_s = row.chats as f64 / row.elapsed.as_secs_f64();
            // At most `capacity` answers run at once, each taking `answer_time`.
            let ideal = c.min(capacity) as f64 / answer_time.as_secs_f64();
            let starts: Vec<Duration> = row.phases.iter().map(|p| p.start).collect();
            let ttft: Vec<Duration> = row.phases.iter().map(|p| p.first_token).collect();
            let added = |q| ms(percentile(&ttft, q).saturating_sub(percentile(&upstream, q)));
            println!(
                "| {processes} × {:<2} | {c} | {per_s:.1} | {:.0} % | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} of {} |",
                workers.concurrency,
                100.0 * per_s / ideal,
                ms(percentile(&starts, 0.5)),
                ms(percentile(&starts, 0.99)),
                added(0.5),
                added(0.99),
                out_of_order(&row.phases),
                row.chats,
            );
        }
    }
    println!();
    println!(
        "Start wait: from sending to the `start` event (the worker claimed the answer). Added TTFT: the client's time to first token less the upstream's own ({} ms), at the same percentile. Out of order: chats that started after a chat sent more than 10 ms later.",
        PACING.as_millis()
    );
    Ok(())
}

/// Waits until `n` workers have registered with the queue, so no row starts short of them.
async fn wait_for_workers(stack: &Stack, n: usize) -> anyhow::Result<()> {
    let db = sqlx::PgPool::connect(&stack.db_url).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let registered: i64 =
            sqlx::query_scalar("SELECT count(*) FROM apalis.workers WHERE worker_type = 'chat'")
                .fetch_one(&db)
                .await?;
        if registered as usize >= n {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {registered} of {n} workers registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Chats that started after some chat sent more than 10 ms after them: jobs served out of
/// arrival order.
fn out_of_order(phases: &[Phases]) -> usize {
    let mut chats: Vec<(Instant, Instant)> =
        phases.iter().map(|p| (p.sent, p.sent + p.start)).collect();
    chats.sort();
    let margin = Duration::from_millis(10);
    let mut late = 0;
    // For each chat, the earliest start among chats sent more than `margin` after it.
    let mut earliest_later_start: Option<Instant> = None;
    let mut j = chats.len();
    for i in (0..chats.len()).rev() {
        let (sent, started) = chats[i];
        while j > 0 && chats[j - 1].0 > sent + margin {
            j -= 1;
            let s = chats[j].1;
            earliest_later_start = Some(earliest_later_start.map_or(s, |e| e.min(s)));
        }
        if earliest_later_start.is_some_and(|e| e < started) {
            late += 1;
        }
    }
    late
}
