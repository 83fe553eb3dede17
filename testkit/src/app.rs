//! A test's stack: the real API (and, unless told otherwise, a worker) started on port 0 with
//! a database and NATS prefix of its own, on the shared services; restarted or stopped as a
//! test needs.

use std::{sync::Arc, time::Duration};

use sluice_shared::{Config, db};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgPoolOptions};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::services;

/// A running stack for one test.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    shutdown: CancellationToken,
    worker_shutdown: CancellationToken,
    api: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What differs between tests: the config, and whether a worker runs inside the test process.
pub struct Options {
    pub in_process_worker: bool,
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            in_process_worker: true,
            configure: Box::new(|_| {}),
        }
    }
}

impl Options {
    /// These options, with `more` applied to the configuration after their own changes.
    pub fn and(self, more: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        let first = self.configure;
        Self {
            configure: Box::new(move |c| {
                first(c);
                more(c);
            }),
            ..self
        }
    }
}

/// A configuration for a fresh, migrated database and NATS prefix on the shared test services.
pub async fn test_config() -> Config {
    let s = services::services().await;
    let db_name = format!("t_{}", Uuid::new_v4().simple());
    let admin_url = format!("postgres://postgres@127.0.0.1:{}/postgres", s.pg_port);
    let template = template(&admin_url, s.pg_port).await;
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("connect to test postgres");
    let create = format!("CREATE DATABASE {db_name} TEMPLATE {template}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut config = Config {
        database_url: format!("postgres://postgres@127.0.0.1:{}/{db_name}", s.pg_port).into(),
        database_max_connections: 10,
        nats_url: format!("nats://127.0.0.1:{}", s.nats_port),
        nats_prefix: format!("t{}", &Uuid::new_v4().simple().to_string()[..12]),
        jwt_secret: "test-secret-test-secret-test-secret!".into(),
        ..Config::default()
    };
    // Each stack's attachments in a directory of its own.
    config.files.dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/tmp/files")
        .join(&db_name)
        .display()
        .to_string();
    config.demo.pacing_ms = 2;
    config.demo.reply_tokens = 24;
    // Tests predict every token of the echo reply (the web app's tests read the guide).
    config.demo.reply = sluice_shared::config::DemoReply::Echo;
    config.worker.heartbeat_ms = 500;
    config.worker.missed_heartbeats = 4;
    config.worker.shutdown_grace_secs = 5;
    // Tests count and read the provider's requests: the title job's extra one is asked for by
    // the tests of titles (`titles.rs`).
    config.worker.auto_titles = false;
    config.openai.retry_base_ms = 50;
    // Users' own provider keys can be stored (`providers/own_keys.rs` tests without one too).
    config.secrets.master_key = Some(TEST_MASTER_KEY.to_string().into());
    config.secrets.master_key_id = "test-1".into();
    config
}

/// The test stacks' master key (base64 of 32 bytes).
pub const TEST_MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LXRlc3QtbWFzdGVyLWtleSE=";

/// The database every test's is copied from, migrated once per test process: copying a
/// database's files (`CREATE DATABASE … TEMPLATE`) is cheaper than running every migration
/// again for each test. (Migrating an existing database stays a no-op, as `sluice-api migrate`
/// is: see `operations.rs`.)
async fn template(admin_url: &str, pg_port: u16) -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async move {
            let name = format!("template_{}", Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(admin_url)
                .await
                .expect("connect to test postgres");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("create the template database");
            let url = format!("postgres://postgres@127.0.0.1:{pg_port}/{name}");
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect to the template database");
            db::migrate(&pool)
                .await
                .expect("migrate the template database");
            // A template may have no connection while it is copied.
            pool.close().await;
            name
        })
        .await
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// A stack with an in-process worker and `configure` applied to its config.
    pub async fn spawn_configured(configure: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        Self::spawn_with(Options {
            configure: Box::new(configure),
            ..Options::default()
        })
        .await
    }

    /// A stack with no worker: jobs wait in the queue (tests start worker processes, or
    /// check what happens to a job nobody takes).
    pub async fn spawn_without_worker() -> Self {
        Self::spawn_with(Options {
            in_process_worker: false,
            ..Options::default()
        })
        .await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let text = sluice_shared::config::LogFormat::Text;
        std::mem::forget(sluice_shared::telemetry::init(text, None, "sluice-test"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind api");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = test_config().await;
        // Links the API hands out (device verification, OAuth redirects) point at this stack.
        config.public_url = base.clone();
        (options.configure)(&mut config);
        let config = Arc::new(config.validated().expect("valid test config"));
        let pool = db::connect(&config).await.expect("connect test db");
        // A no-op on the usual copy of the migrated template; a test that points the stack at
        // a server of its own (an outage test) gets its database migrated here.
        db::migrate(&pool).await.expect("migrate test db");
        let nats = sluice_shared::nats::connect(&config)
            .await
            .expect("connect nats");
        let shutdown = CancellationToken::new();
        let api = tokio::spawn(sluice_api::run(config.clone(), listener, shutdown.clone()));
        let worker_shutdown = CancellationToken::new();
        if options.in_process_worker {
            let (config, shutdown) = (config.clone(), worker_shutdown.clone());
            tokio::spawn(async move {
                if let Err(e) = sluice_worker::run(config, shutdown).await {
                    eprintln!("the in-process worker stopped: {e:#}");
                }
            });
        }
        let mut app = Self {
            base,
            http: reqwest::Client::new(),
            config,
            pool,
            nats,
            shutdown,
            worker_shutdown,
            api,
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&mut self) {
        // Generous: CI runs many stacks at once on two cores.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut last = String::from("no answer yet");
        while tokio::time::Instant::now() < deadline {
            if self.api.is_finished() {
                let outcome = (&mut self.api).await;
                panic!("the API stopped while starting: {outcome:?}");
            }
            match self.http.get(self.url("/readyz")).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => last = format!("{}: {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => last = format!("{e}"),
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the API did not become ready in 60 s; last /readyz: {last}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the API (open SSE responses end) and starts a new one on the same address, as a
    /// deploy would; the worker keeps running.
    pub async fn restart_api(&mut self) {
        self.shutdown.cancel();
        let stopped = (&mut self.api).await;
        assert!(
            matches!(stopped, Ok(Ok(()))),
            "the API stopped cleanly: {stopped:?}"
        );
        let addr = self.base.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .expect("bind the API's address again");
        self.shutdown = CancellationToken::new();
        self.api = tokio::spawn(sluice_api::run(
            self.config.clone(),
            listener,
            self.shutdown.clone(),
        ));
        self.wait_ready().await;
    }

    /// Stops the API (open SSE responses end) and waits for it to exit.
    pub async fn stop_api(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.worker_shutdown.cancel();
        self.api.await?
    }

    /// Rows in the job queue (`apalis.jobs`) of this stack's database.
    pub async fn queue_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
            .fetch_one(&self.pool)
            .await
            .expect("count queue rows")
    }
}
