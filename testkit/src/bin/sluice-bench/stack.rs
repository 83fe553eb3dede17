//! The stack under load: Postgres and NATS started by testkit, the API and the workers as their
//! own release processes (so their CPU and RSS are theirs alone).

use std::{
    process::{Child, Stdio},
    time::Duration,
};

use secrecy::ExposeSecret;
use serde_json::Value;
use sluice_shared::{
    Config,
    config::{DemoReply, HttpProviderConfig, ModelConfig, ProviderKind, WorkerConfig},
};
use sluice_testkit::{fake_openai::FakeOpenAi, processes, services, test_config};

/// A running API and its workers, killed on drop.
pub struct Stack {
    pub base: String,
    pub http: reqwest::Client,
    pub api: Child,
    pub workers: Vec<Child>,
    pub prefix: String,
    pub nats_url: String,
    pub db_url: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.api.kill();
        for worker in &mut self.workers {
            let _ = worker.kill();
        }
    }
}

/// How the stack's workers are set up.
pub struct Workers {
    /// Worker processes.
    pub processes: usize,
    /// `worker.concurrency` of each.
    pub concurrency: usize,
    /// `worker.batch_size` of each.
    pub batch_size: usize,
}

impl Workers {
    /// One worker with room for every load row: the rows measure the API and one worker.
    pub fn one_large() -> Self {
        Self {
            processes: 1,
            concurrency: 128,
            batch_size: 32,
        }
    }
}

/// Starts the API and the workers (release binaries in `bin_dir`) on a database and NATS
/// prefix of their own, with `fake` as the OpenAI upstream of model `fake`.
pub async fn start(bin_dir: &str, fake: &FakeOpenAi, workers: &Workers) -> anyhow::Result<Stack> {
    let mut config = test_config().await;
    let pool = sluice_shared::db::connect(&config).await?;
    // Migrated already (test_config copies a migrated template): this only checks it.
    sluice_shared::db::migrate(&pool).await?;
    let port = services::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // The bench measures the shipped defaults, not the tests' quick settings (their short
    // heartbeats and retries, their smaller pool), but for what it says here.
    let defaults = Config::default();
    config.listen = format!("127.0.0.1:{port}").parse()?;
    config.public_url = base.clone();
    // The pool keeps its default size (20 per process): with 40, Postgres spent ~10 % more
    // CPU per chat, as the pool hands statements round the idle backends, each one colder.
    config.database_max_connections = defaults.database_max_connections;
    config.worker = WorkerConfig {
        concurrency: workers.concurrency,
        batch_size: workers.batch_size,
        ..defaults.worker
    };
    config.openai = HttpProviderConfig {
        base_url: fake.base_url.clone(),
        ..defaults.openai
    };
    config.models.insert(
        "fake".into(),
        ModelConfig {
            provider: ProviderKind::Openai,
            upstream_model: None,
            context_tokens: 8192,
            max_output_tokens: 256,
            display_name: None,
            price: None,
            vision: false,
            fallbacks: Vec::new(),
        },
    );
    config.demo.pacing_ms = 50;
    config.demo.reply_tokens = 64;
    config.demo.reply = DemoReply::Echo;
    // The load client signs in one guest per client from one address.
    config.auth_burst = 1000;
    // Every chat here starts a conversation: title jobs (one per conversation, a second call to
    // the provider) would be counted as every chat's cost.
    config.worker.auto_titles = false;
    let spawn = |name: &str| {
        processes::command(&config, &format!("{bin_dir}/{name}"))
            .env(
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(match std::env::var("BENCH_LOG_DIR") {
                Ok(dir) => Stdio::from(std::fs::File::create(format!("{dir}/{name}.log"))?),
                Err(_) => Stdio::inherit(),
            })
            .spawn()
    };
    let api = spawn("sluice-api")?;
    let workers = (0..workers.processes)
        .map(|_| spawn("sluice-worker"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2048)
        .build()?;
    let stack = Stack {
        base,
        http,
        api,
        workers,
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

/// `GET path` as `token`, its JSON body (an error body too: callers check `error`).
pub async fn get_json(stack: &Stack, token: &str, path: &str) -> anyhow::Result<Value> {
    Ok(stack
        .http
        .get(format!("{}{path}", stack.base))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?)
}

pub async fn guest(stack: &Stack) -> anyhow::Result<String> {
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

/// `n` guests' access tokens: one user per client, as real traffic has many users.
pub async fn guests(stack: &Stack, n: usize) -> anyhow::Result<Vec<String>> {
    futures::future::join_all((0..n).map(|_| guest(stack)))
        .await
        .into_iter()
        .collect()
}

impl Stack {
    /// The processes whose CPU a row counts: the API, the first worker, Postgres and NATS.
    pub async fn processes(&self) -> crate::cpu::Processes {
        let servers = services::services().await;
        crate::cpu::Processes {
            api: self.api.id(),
            worker: self.workers[0].id(),
            postgres: servers.postgres_pid(),
            nats: servers.nats_pid(),
        }
    }
}

/// A guest of `stack` (its token and id) and a pool on the stack's database, for the benches
/// that fill the database directly before they measure.
pub async fn guest_with_db(stack: &Stack) -> anyhow::Result<(String, uuid::Uuid, sqlx::PgPool)> {
    let token = guest(stack).await?;
    let me: Value = get_json(stack, &token, "/api/auth/me").await?;
    let me = me["id"]
        .as_str()
        .unwrap_or_default()
        .parse::<uuid::Uuid>()?;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack.db_url)
        .await?;
    Ok((token, me, db))
}
