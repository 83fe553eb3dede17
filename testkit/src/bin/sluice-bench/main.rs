//! `scripts/bench`: the whole stack under load, printed as a table. Postgres and NATS are real
//! (started by testkit), the API and the worker run as their own release processes (so their
//! RSS is theirs alone), and the upstream is the fake OpenAI server at 0 ms pacing and 64-token
//! replies. A target to watch, never a test.

mod cpu;
mod durable_streams;
mod idle_sockets;
mod limits;
mod live_streams;
mod load;
mod open_loop;
mod report;
mod scale_out;
mod search;
mod stack;
mod streams;
mod usage;

use std::time::Duration;

use sluice_testkit::fake_openai::FakeOpenAi;

use load::{Phases, load};
use report::{CpuRow, StatementCounts, ms, percentile, print_cpu, rss_mib};
use stack::{Workers, guest};

/// Concurrency of each load row (`BENCH_ROWS`, default `1,16,64`).
fn rows() -> Vec<usize> {
    std::env::var("BENCH_ROWS")
        .ok()
        .map(|s| s.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64])
}

/// Reply length of the fake upstream (`BENCH_TOKENS`, default 64).
fn tokens() -> u32 {
    env_or("BENCH_TOKENS", 64)
}

/// A number from the environment, or `default` when unset or not a number.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `sluice-bench BIN_DIR [spine|scale-out|open-loop|compare URL…|live-streams|idle-sockets]`: the
/// closed-loop rows on one worker (the default), the scale-out rows (1, 2 and 4 workers of
/// equal total capacity, a paced upstream), the open-loop rows (Poisson arrivals at fixed
/// rates, a paced upstream), one streaming load against the upstream, Sluice's `/v1` and any
/// other endpoints given, many answers streaming at once at a model's speed, or what an idle
/// WebSocket costs.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bin_dir = args.next().unwrap_or_else(|| "target/release".into());
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    match args.next().as_deref() {
        None | Some("spine") => spine(&bin_dir, seconds).await,
        Some("scale-out") => scale_out::run(&bin_dir, seconds).await,
        Some("open-loop") => open_loop::run(&bin_dir, seconds).await,
        Some("compare") => open_loop::compare(&bin_dir, seconds, args.collect()).await,
        Some("live-streams") => live_streams::run(&bin_dir, seconds).await,
        Some("idle-sockets") => idle_sockets::run(&bin_dir).await,
        Some("usage") => usage::run(&bin_dir).await,
        Some("search") => search::run(&bin_dir).await,
        Some("limits") => limits::run(&bin_dir, seconds).await,
        Some("durable-streams") => durable_streams::run(&bin_dir, seconds).await,
        Some(other) => anyhow::bail!(
            "unknown scenario {other:?}: spine, scale-out, open-loop, compare, live-streams, \
             idle-sockets, usage, search, limits or durable-streams"
        ),
    }
}

/// Chats through one worker with room for all, against a 0 ms upstream: what each chat costs.
async fn spine(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    // BENCH_PACING_MS paces the upstream like a model (its first token too); 0 by default.
    let pacing = Duration::from_millis(env_or("BENCH_PACING_MS", 0));
    let fake = FakeOpenAi::start(tokens(), pacing).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    // One guest per client, as real traffic has many users (measured against one shared user,
    // it made no difference).
    let clients = rows().into_iter().max().unwrap_or(1).max(16);
    let users = stack::guests(&stack, clients).await?;
    let token = users[0].clone();
    let processes = stack.processes().await;

    println!(
        "\nSluice benchmark — fake upstream: {} ms pacing, {}-token replies, {seconds} s per row\n",
        pacing.as_millis(),
        tokens()
    );
    println!(
        "| C  | chats | jobs/s | tokens/s | token events/s | TTFT client p50 | p99 | upstream TTFT p50 | overhead p50 | overhead p99 |"
    );
    println!(
        "|----|-------|--------|----------|----------------|-----------------|-----|-------------------|--------------|--------------|"
    );
    // Warm up first (connections opened, statements prepared, caches filled), so the first row
    // measures the same steady state as the others.
    load(&stack, &users, 16, Duration::from_secs(3)).await?;
    // A deployment's tables have statistics (autovacuum analyzes them within a minute or so of
    // filling); the bench's database was created empty seconds ago. Without statistics Postgres
    // plans the hot statements for empty tables (sequential scans, cached in the connections'
    // prepared statements), and the rows would measure those scans growing with the table.
    let db = sqlx::PgPool::connect(&stack.db_url).await?;
    sqlx::query("ANALYZE").execute(&db).await?;
    db.close().await;
    let statements = match std::env::var_os("BENCH_PG_STATS") {
        Some(_) => Some(StatementCounts::start(&stack.db_url).await?),
        None => None,
    };
    let mut phases = Vec::new();
    let mut cpu_rows = Vec::new();
    let mut chats = 0;
    for c in rows() {
        fake.take_upstream_ttft();
        let before = processes.sample();
        let row = load(&stack, &users, c, Duration::from_secs(seconds)).await?;
        let cpu = processes.sample().per_chat_ms(&before, row.chats);
        chats += row.chats;
        let upstream = fake.take_upstream_ttft();
        let up50 = percentile(&upstream, 0.50);
        let up99 = percentile(&upstream, 0.99);
        let ttft: Vec<Duration> = row.phases.iter().map(|p| p.first_token).collect();
        let (t50, t99) = (percentile(&ttft, 0.50), percentile(&ttft, 0.99));
        let jobs_per_s = row.chats as f64 / row.elapsed.as_secs_f64();
        // Each client's cycle is C / (jobs per second); where in it the first token lands.
        let share = ms(t50) / (c as f64 * 1000.0 / jobs_per_s);
        cpu_rows.push(CpuRow {
            c,
            per_chat: cpu,
            jobs_per_s,
            share,
        });
        println!(
            "| {c:<2} | {:>5} | {:>6.0} | {:>8.0} | {:>14.0} | {:>12.2} ms | {:>6.2} ms | {:>14.2} ms | {:>9.2} ms | {:>9.2} ms |",
            row.chats,
            jobs_per_s,
            row.tokens as f64 / row.elapsed.as_secs_f64(),
            row.events as f64 / row.elapsed.as_secs_f64(),
            ms(t50),
            ms(t99),
            ms(up50),
            ms(t50.saturating_sub(up50)),
            ms(t99.saturating_sub(up99)),
        );
        phases.push((c, row.phases));
    }
    println!();
    println!("Where the first token's time goes (p50 from sending the request):");
    println!();
    println!(
        "| C  | `meta` (stored + queued) | `start` (worker claimed it) | first token | `done` | `done` p99 | max |"
    );
    println!(
        "|----|--------------------------|-----------------------------|-------------|--------|------------|-----|"
    );
    for (c, p) in phases {
        let at = |f: fn(&Phases) -> Duration, q: f64| {
            ms(percentile(&p.iter().map(f).collect::<Vec<_>>(), q))
        };
        let p50 = |f: fn(&Phases) -> Duration| at(f, 0.5);
        println!(
            "| {c:<2} | {:>21.2} ms | {:>24.2} ms | {:>8.2} ms | {:>6.2} ms | {:>7.2} ms | {:.2} ms |",
            p50(|p| p.meta),
            p50(|p| p.start),
            p50(|p| p.first_token),
            p50(|p| p.done),
            at(|p| p.done, 0.99),
            at(|p| p.done, 1.0),
        );
    }
    print_cpu(&cpu_rows);
    println!();
    println!("| process | peak RSS after load |");
    println!("|---------|---------------------|");
    println!(
        "| api     | {:>10.1} MiB |",
        rss_mib(stack.api.id(), "VmHWM")
    );
    println!(
        "| worker  | {:>10.1} MiB |",
        rss_mib(stack.workers[0].id(), "VmHWM")
    );

    if let Some(statements) = statements {
        statements.print(chats).await?;
    }
    // `BENCH_STREAMS=0` skips these (when comparing builds by the rows above).
    if env_or("BENCH_STREAMS", 1) != 0 {
        streams::idle_streams(&stack, &token, 1000).await?;
        streams::reattach_at_scale(&stack, &token).await?;
    }
    Ok(())
}
