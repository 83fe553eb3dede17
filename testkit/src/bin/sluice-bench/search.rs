//! `scripts/bench search`: how fast one user's search answers with 1M messages in the table
//! (`BENCH_MESSAGES`, default 1000000): 200 users of 5,000 messages each (1,000 conversations
//! of 5 messages), texts of 8 to 40 words drawn from a 2,000-word vocabulary (Zipf-like: a few
//! words are in most texts, most in few), one identifier-like token (`ident_N_fn`) in every tenth. Each query
//! is asked 30 times, one at a time, through the API, as the bench's user (one of the 200);
//! the table gives p50 and p95 and how many hits the user has.

use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    ms, percentile,
    stack::{self, Workers},
};

const PER_USER: i64 = 5000;
const ASKS: usize = 30;

pub async fn run(bin_dir: &str) -> anyhow::Result<()> {
    let total: i64 = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    let (token, me, db) = stack::guest_with_db(&stack).await?;
    let filled = Instant::now();
    fill(&db, me, total).await?;
    sqlx::query("ANALYZE").execute(&db).await?;
    let in_table: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&db)
        .await?;
    eprintln!(
        "stored {in_table} messages in {:.0} s",
        filled.elapsed().as_secs_f64()
    );
    println!(
        "\nSluice search — {in_table} messages in the table, the user's own {PER_USER}, \
         {ASKS} asks each\n"
    );
    println!("| query | kind | the user's hits | p50 | p95 |");
    println!("|-------|------|-----------------|-----|-----|");
    let cases = [
        ("w1", "common word (in most texts)"),
        ("w40", "frequent word"),
        ("w1500", "rare word"),
        ("w1 w40", "two words"),
        ("\"w1 w2\"", "phrase"),
        ("w40 -w1", "exclusion"),
        // The user's messages hold `ident_0_fn` (message i holds `ident_{i % 1000}_fn` when i is
        // a multiple of 10, and the user's are those of every 200th conversation of 5).
        ("ident_0_fn", "identifier (full text + trigram)"),
        ("dent_0", "part of an identifier (trigram)"),
        ("zzzz", "nothing"),
    ];
    for (query, kind) in cases {
        let path = format!(
            "/api/search?limit=20&q={}",
            query.replace(' ', "%20").replace('"', "%22")
        );
        let mut times = Vec::with_capacity(ASKS);
        for _ in 0..ASKS {
            let started = Instant::now();
            let body: Value = stack::get_json(&stack, &token, &path).await?;
            times.push(started.elapsed());
            anyhow::ensure!(body.get("error").is_none(), "{path}: {body}");
        }
        // As the API decides: a query with operators is full text's alone.
        let substring =
            !query.contains('"') && !query.split_whitespace().any(|w| w.starts_with('-'));
        let hits: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages m
             WHERE m.user_id = $1 AND (m.search @@ websearch_to_tsquery('english', $2)
                                       OR ($3 AND m.content ILIKE '%' || $2 || '%'))",
        )
        .bind(me)
        .bind(query)
        .bind(substring)
        .fetch_one(&db)
        .await?;
        println!(
            "| `{query}` | {kind} | {hits} | {:.1} ms | {:.1} ms |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
        );
    }
    Ok(())
}

/// `total` messages of `total / 5000` users (user 0 being `me`), 5 per conversation, in
/// chunks of 200,000 (the generated tsvector and the indexes are built as they are inserted,
/// as in production).
async fn fill(db: &sqlx::PgPool, me: uuid::Uuid, total: i64) -> anyhow::Result<()> {
    let users = total / PER_USER;
    sqlx::query(
        "INSERT INTO users (id, display_name)
         SELECT md5('bench-user-' || u)::uuid, 'bench ' || u FROM generate_series(1, $1 - 1) u
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(users)
    .execute(db)
    .await?;
    let conversations = total / 5;
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, model)
         SELECT md5('bench-conversation-' || c)::uuid,
                CASE WHEN c % $2 = 0 THEN $1 ELSE md5('bench-user-' || c % $2)::uuid END,
                'w' || (1 + (c % 300)) || ' notes', 'demo'
         FROM generate_series(0, $3 - 1) c
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(me)
    .bind(users)
    .bind(conversations)
    .execute(db)
    .await?;
    let chunk = 200_000;
    let mut start = 0;
    while start < total {
        let end = (start + chunk).min(total);
        // Message i is in conversation i / 5; its words: w{floor(2000^r)} for r uniform in
        // [0, 1) (a few words common, most rare).
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, user_id, role, content, status, created_at)
             SELECT gen_random_uuid(), md5('bench-conversation-' || (i / 5))::uuid,
                    CASE WHEN (i / 5) % $1 = 0 THEN $2 ELSE md5('bench-user-' || (i / 5) % $1)::uuid END,
                    CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                    (SELECT string_agg('w' || floor(power(2000, random()))::int, ' ')
                     FROM generate_series(1, 8 + (i % 33)) w WHERE i >= 0)
                    || CASE WHEN i % 10 = 0 THEN ' call ident_' || (i % 1000) || '_fn' ELSE '' END,
                    CASE WHEN i % 2 = 0 THEN 'complete' ELSE 'done' END,
                    now() - random() * interval '90 days'
             FROM generate_series($3, $4 - 1) i",
        )
        .bind(users)
        .bind(me)
        .bind(start)
        .bind(end)
        .execute(db)
        .await?;
        start = end;
    }
    Ok(())
}
