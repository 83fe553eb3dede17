//! Figures and tables: percentiles, CPU per chat, Postgres statements per chat, memory.

use std::time::Duration;

use crate::cpu;

/// One load row's CPU figures.
pub struct CpuRow {
    pub c: usize,
    /// Milliseconds per chat, by `cpu::ROLES`.
    pub per_chat: [f64; 5],
    pub jobs_per_s: f64,
    /// Where in each client's cycle (C / jobs per second) the first token lands, p50.
    pub share: f64,
}

/// CPU per chat by process, and what it implies for time to first token (see `cpu.rs`).
pub fn print_cpu(rows: &[CpuRow]) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "CPU time per chat, by process (ms). Saturated, TTFT p50 ≈ share × C × all / cores ({cores} here):"
    );
    println!();
    let roles = cpu::ROLES.join(" | ");
    println!("| C  | {roles} | all | cores busy | share of cycle before the first token |");
    println!(
        "|----|{}-----|------------|------|",
        "-----|".repeat(cpu::ROLES.len())
    );
    for CpuRow {
        c,
        per_chat,
        jobs_per_s,
        share,
    } in rows
    {
        let all: f64 = per_chat.iter().sum();
        let cells: Vec<String> = per_chat.iter().map(|v| format!("{v:.2}")).collect();
        println!(
            "| {c:<2} | {} | {all:.2} | {:.2} | {share:.2} |",
            cells.join(" | "),
            all * jobs_per_s / 1000.0,
        );
    }
}

/// Postgres statements run during the load rows (`BENCH_PG_STATS`): what each chat costs the
/// database in round trips, the figure batching moves.
pub struct StatementCounts(sqlx::PgPool);

impl StatementCounts {
    pub async fn start(database_url: &str) -> anyhow::Result<Self> {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&pool)
            .await?;
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&pool)
            .await?;
        Ok(Self(pool))
    }

    pub async fn print(self, chats: usize) -> anyhow::Result<()> {
        let rows: Vec<(i64, f64, f64, String)> = sqlx::query_as(
            "SELECT calls, mean_exec_time, total_plan_time / greatest(calls, 1),
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 80)
             FROM pg_stat_statements WHERE calls >= 10 ORDER BY calls DESC",
        )
        .fetch_all(&self.0)
        .await?;
        println!();
        println!("Postgres statements over the {chats} chats of the rows above:");
        println!();
        println!("| calls | per chat | mean exec | mean plan | statement |");
        println!("|-------|----------|-----------|-----------|-----------|");
        let mut total = 0.0;
        for (calls, mean, plan, query) in rows {
            let per_chat = calls as f64 / chats.max(1) as f64;
            total += per_chat;
            println!("| {calls} | {per_chat:.2} | {mean:.3} ms | {plan:.3} ms | `{query}` |");
        }
        println!("| | **{total:.2}** | | | all statements |");
        Ok(())
    }
}

pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut s = samples.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * q).round() as usize;
    s[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/{pid}/status` memory line in MiB (VmHWM = peak RSS, VmRSS = current).
pub fn rss_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
