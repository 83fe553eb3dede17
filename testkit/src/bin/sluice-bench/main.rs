//! `scripts/bench`: the whole stack under load, printed as a table. Postgres and NATS are real
//! (started by testkit), the API and the worker run as their own release processes (so their
//! RSS is theirs alone), and the upstream is the fake OpenAI server at 0 ms pacing and 64-token
//! replies. A target to watch, never a test.

mod cpu;

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::join_all;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sluice_testkit::{fake_openai::FakeOpenAi, services, sse::SseStream, test_config};
use tokio::sync::Mutex;

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

/// `BENCH_TRACE`: print the events of every chat slower than 300 ms (to find stalls).
static TRACE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var("BENCH_TRACE").is_ok());

struct Stack {
    base: String,
    http: reqwest::Client,
    api: Child,
    worker: Child,
    prefix: String,
    nats_url: String,
    db_url: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.api.kill();
        let _ = self.worker.kill();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin_dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release".into());
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let fake = FakeOpenAi::start(tokens(), Duration::ZERO).await;
    let stack = start_stack(&bin_dir, &fake).await?;
    // One guest per client, as real traffic has many users (measured against one shared user,
    // it made no difference).
    let clients = rows().into_iter().max().unwrap_or(1).max(16);
    let users = join_all((0..clients).map(|_| guest(&stack)))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    let token = users[0].clone();
    let servers = services::services().await;
    let processes = cpu::Processes {
        api: stack.api.id(),
        worker: stack.worker.id(),
        postgres: servers.postgres_pid(),
        nats: servers.nats_pid(),
    };

    println!(
        "\nSluice benchmark — fake upstream: 0 ms pacing, {}-token replies, {seconds} s per row\n",
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
        rss_mib(stack.worker.id(), "VmHWM")
    );

    if let Some(statements) = statements {
        statements.print(chats).await?;
    }
    idle_streams(&stack, &token, 1000).await?;
    reattach_at_scale(&stack, &token).await?;
    Ok(())
}

async fn start_stack(bin_dir: &str, fake: &FakeOpenAi) -> anyhow::Result<Stack> {
    let config = test_config().await;
    let pool = sluice_shared::db::connect(&config).await?;
    sluice_shared::db::migrate(&pool).await?;
    let port = services::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env: Vec<(String, String)> = vec![
        ("SLUICE_CONFIG".into(), "/nonexistent.toml".into()),
        ("SLUICE_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("SLUICE_PUBLIC_URL".into(), base.clone()),
        (
            "SLUICE_DATABASE_URL".into(),
            config.database_url.expose_secret().to_string(),
        ),
        // The pool keeps its default size (20 per process): with 40, Postgres spent ~10 % more
        // CPU per chat, as the pool hands statements round the idle backends, each one colder.
        ("SLUICE_NATS_URL".into(), config.nats_url.clone()),
        ("SLUICE_NATS_PREFIX".into(), config.nats_prefix.clone()),
        (
            "SLUICE_JWT_SECRET".into(),
            config.jwt_secret.expose_secret().to_string(),
        ),
        ("SLUICE_OPENAI__BASE_URL".into(), fake.base_url.clone()),
        ("SLUICE_MODELS__FAKE__PROVIDER".into(), "openai".into()),
        ("SLUICE_MODELS__FAKE__CONTEXT_TOKENS".into(), "8192".into()),
        (
            "SLUICE_MODELS__FAKE__MAX_OUTPUT_TOKENS".into(),
            "256".into(),
        ),
        ("SLUICE_DEMO__PACING_MS".into(), "50".into()),
        ("SLUICE_DEMO__REPLY_TOKENS".into(), "64".into()),
        ("SLUICE_DEMO__REPLY".into(), "echo".into()),
        ("SLUICE_WORKER__CONCURRENCY".into(), "128".into()),
        // The load client signs in one guest per client from one address.
        ("SLUICE_AUTH_BURST".into(), "1000".into()),
        ("SLUICE_WORKER__BATCH_SIZE".into(), "32".into()),
        (
            "RUST_LOG".into(),
            std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    ];
    let spawn = |name: &str| {
        Command::new(format!("{bin_dir}/{name}"))
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(match std::env::var("BENCH_LOG_DIR") {
                Ok(dir) => Stdio::from(std::fs::File::create(format!("{dir}/{name}.log"))?),
                Err(_) => Stdio::inherit(),
            })
            .spawn()
    };
    let api = spawn("sluice-api")?;
    let worker = spawn("sluice-worker")?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2048)
        .build()?;
    let stack = Stack {
        base,
        http,
        api,
        worker,
        prefix: config.nats_prefix.clone(),
        nats_url: config.nats_url.clone(),
        db_url: config.database_url.expose_secret().to_string(),
    };
    for _ in 0..200 {
        if let Ok(r) = stack
            .http
            .get(format!("{}/readyz", stack.base))
            .send()
            .await
            && r.status().is_success()
        {
            return Ok(stack);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the API did not become ready")
}

async fn guest(stack: &Stack) -> anyhow::Result<String> {
    let body: Value = stack
        .http
        .post(format!("{}/api/auth/guest", stack.base))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("guest sign-in gave no access token"))
}

struct Row {
    chats: usize,
    /// Upstream tokens the clients received (counted in the text they assembled).
    tokens: usize,
    /// `token` events the clients received (a burst may share one event).
    events: usize,
    phases: Vec<Phases>,
    elapsed: Duration,
}

/// When one chat's first events arrived, from sending the request.
#[derive(Clone, Copy, Default)]
struct Phases {
    meta: Duration,
    start: Duration,
    first_token: Duration,
    done: Duration,
}

/// What one client saw of one chat.
struct Chat {
    phases: Phases,
    tokens: usize,
    events: usize,
}

/// One load row's CPU figures.
struct CpuRow {
    c: usize,
    /// Milliseconds per chat, by `cpu::ROLES`.
    per_chat: [f64; 5],
    jobs_per_s: f64,
    /// Where in each client's cycle (C / jobs per second) the first token lands, p50.
    share: f64,
}

/// CPU per chat by process, and what it implies for time to first token (see `cpu.rs`).
fn print_cpu(rows: &[CpuRow]) {
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

/// C clients, each sending chats back to back for `length`; client i signs in as `users[i]`.
async fn load(stack: &Stack, users: &[String], c: usize, length: Duration) -> anyhow::Result<Row> {
    let phases = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + length;
    let clients = (0..c).map(|i| {
        let phases = phases.clone();
        let token = users[i % users.len()].as_str();
        async move {
            let (mut chats, mut tokens, mut events) = (0usize, 0usize, 0usize);
            while Instant::now() < deadline {
                let chat = one_chat(stack, token).await?;
                phases.lock().await.push(chat.phases);
                chats += 1;
                tokens += chat.tokens;
                events += chat.events;
            }
            anyhow::Ok((chats, tokens, events))
        }
    });
    let results = join_all(clients).await;
    let elapsed = started.elapsed();
    let (mut chats, mut tokens, mut events) = (0, 0, 0);
    for r in results {
        let (c, t, e) = r?;
        chats += c;
        tokens += t;
        events += e;
    }
    let phases = std::mem::take(&mut *phases.lock().await);
    Ok(Row {
        chats,
        tokens,
        events,
        phases,
        elapsed,
    })
}

/// `POST /api/chat`: the response is the answer's SSE stream, `meta` first.
async fn post_chat(
    stack: &Stack,
    token: &str,
    message: &str,
    model: &str,
) -> reqwest::Result<reqwest::Response> {
    stack
        .http
        .post(format!("{}/api/chat", stack.base))
        .bearer_auth(token)
        .json(&json!({"message": message, "model": model}))
        .send()
        .await
}

/// One `POST /api/chat` read to its end. Checks that the whole answer arrived: the tokens in
/// the assembled text must equal the upstream's `usage.output_tokens`.
async fn one_chat(stack: &Stack, token: &str) -> anyhow::Result<Chat> {
    let sent = Instant::now();
    let response = post_chat(stack, token, "benchmark prompt", "fake").await?;
    anyhow::ensure!(
        response.status().is_success(),
        "chat failed: {}",
        response.status()
    );
    let mut events = SseStream::new(response);
    let (mut first, mut count, mut text) = (None, 0, String::new());
    // Only kept when tracing: the load client shares the CPU with what it measures.
    let mut marks = Vec::new();
    let mut phases = Phases::default();
    while let Some(e) = events.next().await {
        let at = sent.elapsed();
        match e.event.as_str() {
            "meta" => phases.meta = at,
            "start" => phases.start = at,
            "done" => phases.done = at,
            "token" => {
                first.get_or_insert(at);
                count += 1;
                text.push_str(e.data["delta"].as_str().unwrap_or_default());
            }
            _ => {}
        }
        if *TRACE {
            let id = match e.event.as_str() {
                "meta" => e.data["message_id"].to_string(),
                _ => e.id.unwrap_or(0).to_string(),
            };
            marks.push((format!("{} {id}", e.event), at));
        }
        if e.is_terminal() {
            anyhow::ensure!(
                e.event == "done",
                "answer ended with {}: {}",
                e.event,
                e.data
            );
            let tokens = text.split_whitespace().count();
            let reported = e.data["usage"]["output_tokens"].as_u64().unwrap_or(0) as usize;
            anyhow::ensure!(tokens == reported, "received {tokens} tokens of {reported}");
            break;
        }
    }
    if *TRACE && sent.elapsed() > Duration::from_millis(300) {
        eprintln!(
            "slow chat: {:?} in all, first token {first:?}; {marks:?}",
            sent.elapsed()
        );
    }
    phases.first_token = first.unwrap_or_default();
    Ok(Chat {
        phases,
        tokens: text.split_whitespace().count(),
        events: count,
    })
}

/// Postgres statements run during the load rows (`BENCH_PG_STATS`): what each chat costs the
/// database in round trips, the figure batching moves.
struct StatementCounts(sqlx::PgPool);

impl StatementCounts {
    async fn start(database_url: &str) -> anyhow::Result<Self> {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&pool)
            .await?;
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&pool)
            .await?;
        Ok(Self(pool))
    }

    async fn print(self, chats: usize) -> anyhow::Result<()> {
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

/// API memory with `n` open, idle SSE streams (conversation event streams).
async fn idle_streams(stack: &Stack, token: &str, n: usize) -> anyhow::Result<()> {
    let before = rss_mib(stack.api.id(), "VmRSS");
    let mut open = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let batch = chunk.iter().map(|_| async {
            let r: Value = stack
                .http
                .post(format!("{}/api/conversations", stack.base))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await?
                .json()
                .await?;
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let response = stack
                .http
                .get(format!("{}/api/conversations/{id}/events", stack.base))
                .bearer_auth(token)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "open stream: {}",
                response.status()
            );
            anyhow::Ok(response)
        });
        for r in join_all(batch).await {
            open.push(r?);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(stack.api.id(), "VmRSS");
    println!();
    println!("| idle SSE streams | API RSS before | API RSS with them open | per stream |");
    println!("|------------------|----------------|------------------------|------------|");
    println!(
        "| {n:>16} | {before:>10.1} MiB | {after:>18.1} MiB | {:>6.1} KiB |",
        (after - before) * 1024.0 / n as f64
    );
    drop(open);
    Ok(())
}

/// Loads ≥100,000 message subjects into the stream, then times re-attaching to one message
/// with `Last-Event-ID`: a finished one (Direct Get replay) and an in-flight one (ordered
/// consumer from its own sequence).
async fn reattach_at_scale(stack: &Stack, token: &str) -> anyhow::Result<()> {
    let subjects = bulk_load(stack, 100_000, 4).await?;
    // A finished answer among them.
    let (finished_id, finished_mid) = finished_answer(stack, token).await?;
    let finished = time_reattach(stack, token, &finished_id, finished_mid, 20, true).await?;
    // An in-flight answer (the paced demo model: 64 tokens at 50 ms).
    let r = post_chat(stack, token, "in flight", "demo").await?;
    let mut events = SseStream::new(r);
    let meta = events
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no meta"))?;
    let id = meta.data["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut mid = 0;
    for _ in 0..4 {
        mid = events.next().await.and_then(|e| e.id).unwrap_or(mid);
    }
    let live = time_reattach(stack, token, &id, mid, 20, false).await?;
    println!();
    println!(
        "| re-attach with Last-Event-ID ({subjects} message subjects in the stream) | p50 | max |"
    );
    println!("|-----------------------------------------------------------------|-----|-----|");
    println!(
        "| finished message: request → terminal event                     | {:.2} ms | {:.2} ms |",
        ms(percentile(&finished, 0.5)),
        ms(percentile(&finished, 1.0))
    );
    println!(
        "| in-flight message: request → next event                        | {:.2} ms | {:.2} ms |",
        ms(percentile(&live, 0.5)),
        ms(percentile(&live, 1.0))
    );
    Ok(())
}

async fn bulk_load(stack: &Stack, subjects: usize, per_subject: usize) -> anyhow::Result<usize> {
    let client = async_nats::connect(&stack.nats_url).await?;
    let js = async_nats::jetstream::new(client);
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let payload = bytes::Bytes::from_static(br#"{"type":"token","message_id":"00000000-0000-0000-0000-000000000000","seq":0,"delta":"bulk "}"#);
    for i in 0..subjects {
        let conv = uuid::Uuid::new_v4();
        let msg = uuid::Uuid::new_v4();
        let subject = format!("{}.conv.{conv}.msg.{msg}", stack.prefix);
        for _ in 0..per_subject {
            pending.push_back(js.publish(subject.clone(), payload.clone()).await?);
            if pending.len() >= 2000 {
                pending.pop_front().expect("non-empty").await?;
            }
        }
        if i % 20_000 == 0 {
            eprintln!("bulk load: {i} subjects");
        }
    }
    while let Some(ack) = pending.pop_front() {
        ack.await?;
    }
    eprintln!(
        "bulk load: {subjects} subjects × {per_subject} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(subjects)
}

/// A complete answer, and the id of an event in its middle.
async fn finished_answer(stack: &Stack, token: &str) -> anyhow::Result<(String, u64)> {
    let r = post_chat(stack, token, "finish me", "fake").await?;
    let events = SseStream::new(r).collect().await;
    let id = events[0].data["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mid = events[events.len() / 2].id.unwrap_or(0);
    Ok((id, mid))
}

async fn time_reattach(
    stack: &Stack,
    token: &str,
    id: &str,
    after: u64,
    n: usize,
    to_end: bool,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = stack
            .http
            .get(format!("{}/api/messages/{id}/stream", stack.base))
            .bearer_auth(token)
            .header("Last-Event-ID", after.to_string())
            .send()
            .await?;
        let mut events = SseStream::new(r);
        if to_end {
            while let Some(e) = events.next().await {
                if e.is_terminal() {
                    break;
                }
            }
        } else {
            events.next().await;
        }
        times.push(started.elapsed());
    }
    Ok(times)
}

fn percentile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut s = samples.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * q).round() as usize;
    s[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/{pid}/status` memory line in MiB (VmHWM = peak RSS, VmRSS = current).
fn rss_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
