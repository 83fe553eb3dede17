//! `scripts/bench usage`: how fast the usage endpoints answer with 1M and 5M stored answers
//! (`BENCH_ANSWERS`, default `1000000,5000000`): 5,000 answers per user over the last 30 days
//! (1M: 200 users; 5M: 1,000), three models, 2 % errors, random latencies. The answers are
//! stored as messages, and rolled up by the same function the answer-storing statement calls
//! (`sluice_roll_up`). Each endpoint is asked 30 times per case, one request at a time, through
//! the API; the table gives p50 and p95.

use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    ms, percentile,
    stack::{self, Workers},
};

const PER_USER: i64 = 5000;
const ASKS: usize = 30;

fn sizes() -> Vec<i64> {
    std::env::var("BENCH_ANSWERS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 5_000_000])
}

pub async fn run(bin_dir: &str) -> anyhow::Result<()> {
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    let (token, me, db) = stack::guest_with_db(&stack).await?;
    // The bench's user may read everyone's usage.
    sqlx::query(
        "INSERT INTO user_roles (user_id, role) VALUES ($1, 'admin') ON CONFLICT DO NOTHING",
    )
    .bind(me)
    .execute(&db)
    .await?;
    println!("\nSluice usage endpoints — 5,000 answers per user over 30 days, {ASKS} asks each\n");
    println!(
        "| stored answers | rollup rows (per user / everyone) | endpoint | scope | p50 | p95 |"
    );
    println!(
        "|----------------|-----------------------------------|----------|-------|-----|-----|"
    );
    let mut stored = 0;
    for size in sizes() {
        let filled = Instant::now();
        fill(&db, me, stored, size).await?;
        stored = size;
        sqlx::query("ANALYZE").execute(&db).await?;
        let (per_user, everyone): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM usage_rollups), (SELECT count(*) FROM usage_rollups_all)",
        )
        .fetch_one(&db)
        .await?;
        eprintln!(
            "stored {size} answers in {:.0} s",
            filled.elapsed().as_secs_f64()
        );
        let cases = [
            (
                "overview",
                "yours, 30 days",
                "/api/usage/overview?interval=1D".to_string(),
            ),
            (
                "timeseries",
                "yours, 15M × 1 day",
                "/api/usage/timeseries?interval=15M".into(),
            ),
            (
                "latency",
                "yours, 7 days",
                "/api/usage/latency?interval=1H".into(),
            ),
            (
                "cost",
                "yours, 30 days",
                "/api/usage/cost?interval=1D".into(),
            ),
            (
                "errors",
                "yours, 30 days",
                "/api/usage/errors?interval=1D".into(),
            ),
            (
                "overview",
                "everyone, 30 days",
                "/api/admin/usage/overview?interval=1D".into(),
            ),
            (
                "timeseries",
                "everyone, 1H × 7 days",
                "/api/admin/usage/timeseries?interval=1H".into(),
            ),
            (
                "latency",
                "everyone, 26 weeks",
                "/api/admin/usage/latency?interval=7D".into(),
            ),
            (
                "cost",
                "everyone, 30 days",
                "/api/admin/usage/cost?interval=1D".into(),
            ),
            (
                "errors",
                "everyone, 30 days",
                "/api/admin/usage/errors?interval=1D".into(),
            ),
            (
                "overview",
                "one user, 26 weeks",
                format!("/api/admin/usage/overview?interval=7D&user={me}"),
            ),
        ];
        for (endpoint, scope, path) in cases {
            let mut times = Vec::with_capacity(ASKS);
            for _ in 0..ASKS {
                let started = Instant::now();
                let body: Value = stack::get_json(&stack, &token, &path).await?;
                times.push(started.elapsed());
                anyhow::ensure!(body.get("error").is_none(), "{path}: {body}");
            }
            println!(
                "| {size:>14} | {per_user:>15} / {everyone:<15} | {endpoint:<10} | {scope} | {:.1} ms | {:.1} ms |",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.95)),
            );
        }
    }
    Ok(())
}

/// Stores answers `from..to` as ended assistant messages (user `i % users`, user 0 being `me`,
/// each with one conversation), then rebuilds both rollups from all of them, six hours of
/// answers per call of the rollup function the settlement trigger uses.
async fn fill(db: &sqlx::PgPool, me: uuid::Uuid, from: i64, to: i64) -> anyhow::Result<()> {
    let users = to / PER_USER;
    sqlx::query(
        "INSERT INTO users (id, display_name)
         SELECT md5('bench-user-' || u)::uuid, 'bench ' || u FROM generate_series(1, $1 - 1) u
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(users)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, model)
         SELECT md5('bench-conversation-' || u)::uuid,
                CASE WHEN u = 0 THEN $1 ELSE md5('bench-user-' || u)::uuid END, 'bench', 'demo'
         FROM generate_series(0, $2 - 1) u
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(me)
    .bind(users)
    .execute(db)
    .await?;
    let chunk = 500_000;
    let mut start = from;
    while start < to {
        let end = (start + chunk).min(to);
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                                   provider, attempt, input_tokens, output_tokens, cost_usd,
                                   ttft_ms, latency_ms, error_code, created_at, completed_at)
             SELECT gen_random_uuid(), md5('bench-conversation-' || u)::uuid,
                    CASE WHEN u = 0 THEN $1 ELSE md5('bench-user-' || u)::uuid END,
                    'assistant', '', CASE WHEN failed THEN 'error' ELSE 'done' END,
                    (ARRAY['gpt-4o', 'claude-sonnet', 'gemini-flash'])[1 + i % 3],
                    (ARRAY['openai', 'anthropic', 'gemini'])[1 + i % 3], 1,
                    input, output, (input * 2.5 + output * 10) / 1000000,
                    ttft, ttft + (random() * 5000)::int,
                    CASE WHEN failed THEN (ARRAY['upstream_error', 'rate_limited'])[1 + i % 2] END,
                    at, at + interval '3 seconds'
             FROM generate_series($2, $3 - 1) i,
                  LATERAL (SELECT i % $4 AS u, random() < 0.02 AS failed,
                                  200 + (random() * 800)::int AS input,
                                  50 + (random() * 500)::int AS output,
                                  150 + (random() * 600)::int AS ttft,
                                  now() - random() * interval '30 days' AS at) r",
        )
        .bind(me)
        .bind(start)
        .bind(end)
        .bind(users)
        .execute(db)
        .await?;
        start = end;
    }
    sqlx::query("TRUNCATE usage_rollups, usage_rollups_all")
        .execute(db)
        .await?;
    for quarter_day in 0..(31 * 4) {
        sqlx::query(
            "SELECT sluice_roll_up(COALESCE(jsonb_agg(sluice_usage_fields(m)), '[]'))
             FROM messages m
             WHERE m.role = 'assistant' AND m.status IN ('done', 'error', 'cancelled')
               AND m.created_at >= now() - interval '31 days' + $1 * interval '6 hours'
               AND m.created_at < now() - interval '31 days' + ($1 + 1) * interval '6 hours'",
        )
        .bind(quarter_day)
        .execute(db)
        .await?;
    }
    Ok(())
}
