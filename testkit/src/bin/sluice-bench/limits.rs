//! `scripts/bench limits`: what limits cost per chat. Chats arrive at `BENCH_RATE` per second
//! (default 100, Poisson, an upstream paced like a model) in rounds that alternate (ABBA) between no
//! limits at all and every limit set for the `user` role (none ever reached, so each send is
//! checked against all five and nothing is refused). Every answer reserves and settles either
//! way; the difference is the checking. CPU milliseconds per chat by process, each round and
//! averaged. (To price the whole feature, run `scripts/bench open-loop` on this build and on
//! one before it, alternately.)

use std::time::Duration;

use sluice_testkit::fake_openai::FakeOpenAi;

use crate::{
    env_or,
    load::one_chat,
    open_loop::row,
    stack::{self, Workers},
};

const ROUNDS: usize = 4;

pub async fn run(bin_dir: &str, seconds: u64) -> anyhow::Result<()> {
    let rate: f64 = env_or("BENCH_RATE", 100.0);
    let fake = FakeOpenAi::start(10, Duration::from_millis(20)).await;
    let workers = Workers {
        processes: 1,
        concurrency: 1024,
        batch_size: 32,
    };
    let stack = stack::start(bin_dir, &fake, &workers).await?;
    let users = stack::guests(&stack, 64).await?;
    let processes = stack.processes().await;
    let db = sqlx::PgPool::connect(&stack.db_url).await?;
    let chat = |i: usize| one_chat(&stack, &users[i % users.len()]);
    row(rate, Duration::from_secs(3), chat).await?;
    sqlx::query("ANALYZE").execute(&db).await?;
    println!(
        "\nSluice limits — {rate} chats/s, {seconds} s per round, upstream 20 ms × 10 tokens\n"
    );
    println!("| round | limits | chats | CPU ms/chat: api | worker | postgres | all three |");
    println!("|-------|--------|-------|------------------|--------|----------|-----------|");
    let mut totals = [[0.0; 3]; 2];
    // Off, on, on, off, off, on: Postgres' cost per chat drifts up as the tables grow, and this
    // order gives both settings the same share of early and late rounds.
    for round in 1..=ROUNDS {
        let order = if round % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            sqlx::query("DELETE FROM limits").execute(&db).await?;
            if on {
                sqlx::query(
                    "INSERT INTO limits (role, requests_per_minute, tokens_per_day,
                                         cost_per_day_usd, cost_per_month_usd, concurrent_answers)
                     VALUES ('user', 1000000, 1000000000000, 1000000, 1000000, 1000000)",
                )
                .execute(&db)
                .await?;
            }
            let before = processes.sample();
            let chats = row(rate, Duration::from_secs(seconds), chat).await?;
            let cpu = processes.sample().per_chat_ms(&before, chats.len());
            let refused = chats.iter().filter(|c| c.tokens == 0).count();
            anyhow::ensure!(refused == 0, "{refused} chats got no answer");
            for i in 0..3 {
                totals[on as usize][i] += cpu[i] / ROUNDS as f64;
            }
            println!(
                "| {round} | {:<6} | {:>5} | {:>16.2} | {:>6.2} | {:>8.2} | {:>9.2} |",
                if on { "on" } else { "off" },
                chats.len(),
                cpu[0],
                cpu[1],
                cpu[2],
                cpu[0] + cpu[1] + cpu[2],
            );
        }
    }
    let sum = |t: &[f64; 3]| t.iter().sum::<f64>();
    println!(
        "| mean | off | | {:>16.2} | {:>6.2} | {:>8.2} | {:>9.2} |",
        totals[0][0],
        totals[0][1],
        totals[0][2],
        sum(&totals[0])
    );
    println!(
        "| mean | on | | {:>16.2} | {:>6.2} | {:>8.2} | {:>9.2} |",
        totals[1][0],
        totals[1][1],
        totals[1][2],
        sum(&totals[1])
    );
    println!(
        "\nLimits on cost {:+.1} % CPU per chat (api + worker + postgres).",
        (sum(&totals[1]) / sum(&totals[0]) - 1.0) * 100.0
    );
    Ok(())
}
