//! Test and benchmark support: real Postgres and NATS (`services`), a fake OpenAI-compatible
//! upstream (`fake_openai`), an SSE client (`sse`), and `TestApp`, the real API and worker
//! started on port 0 with their own database and NATS prefix, so tests run in parallel.
#![forbid(unsafe_code)]

pub mod browser;
pub mod chaos;
pub mod chat_page;
pub mod clients;
pub mod event_source;
pub mod fake_oauth;
pub mod fake_openai;
pub mod handoff_watch;
pub mod nginx;
pub mod proxy;
pub mod services;
pub mod sse;
pub mod wait;
pub mod webdriver;
pub mod ws;

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sluice_shared::config::ProviderKind;
use sluice_shared::{Config, db, dto::SentOut};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use sse::SseEvent;

/// The password `TestApp::register` gives accounts.
pub const PASSWORD: &str = "correct horse battery";

/// A client whose requests come from another loopback address (`127.0.0.{last}`), for tests
/// of per-address limits.
pub fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .expect("client")
}

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

/// A configuration for a fresh database and NATS prefix on the shared test services.
pub async fn test_config() -> Config {
    let s = services::services().await;
    let db_name = format!("t_{}", Uuid::new_v4().simple());
    let admin_url = format!("postgres://postgres@127.0.0.1:{}/postgres", s.pg_port);
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .expect("connect to test postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
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
    config.demo.pacing_ms = 2;
    config.demo.reply_tokens = 24;
    // Tests predict every token of the echo reply (the web app's tests read the guide).
    config.demo.reply = sluice_shared::config::DemoReply::Echo;
    config.worker.heartbeat_ms = 500;
    config.worker.missed_heartbeats = 4;
    config.worker.shutdown_grace_secs = 5;
    config.openai.retry_base_ms = 50;
    config
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

    /// A new guest's access token.
    pub async fn guest(&self) -> String {
        let body: Value = self
            .http
            .post(self.url("/api/auth/guest"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Registers an account with password `correct horse battery`; returns the sign-in answer.
    pub async fn register(&self, email: &str) -> Value {
        let r = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register {email}");
        r.json().await.unwrap()
    }

    /// `method path` as `token` (an access token or API key), with an optional JSON body.
    pub async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// Creates an API key named `name`: `{id, name, prefix, key, ...}` (the key shown once).
    pub async fn create_key(&self, token: &str, name: &str) -> Value {
        let body = json!({ "name": name });
        let r = self
            .call(token, reqwest::Method::POST, "/api/keys", Some(body))
            .await;
        assert_eq!(r.status(), 201, "create key");
        r.json().await.expect("a key")
    }

    /// A stream token for `{message_id}` or `{conversation_id}` (`POST /api/stream-tokens`).
    pub async fn stream_token(&self, token: &str, body: Value) -> String {
        let r = self
            .call(
                token,
                reqwest::Method::POST,
                "/api/stream-tokens",
                Some(body),
            )
            .await;
        assert_eq!(r.status(), 201, "mint a stream token");
        let out: Value = r.json().await.expect("a token");
        assert!(out["expires_at"].is_string());
        out["token"].as_str().expect("a token").to_string()
    }

    pub async fn create_conversation(&self, token: &str) -> Uuid {
        let r = self
            .call(
                token,
                reqwest::Method::POST,
                "/api/conversations",
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status(), 201, "create conversation");
        let body: Value = r.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn send(&self, token: &str, conversation: Uuid, content: &str) -> SentOut {
        let path = format!("/api/conversations/{conversation}/messages");
        let body = json!({ "content": content });
        let r = self
            .call(token, reqwest::Method::POST, &path, Some(body))
            .await;
        assert_eq!(r.status(), 202, "send message");
        r.json().await.unwrap()
    }

    /// Rows in the job queue (`apalis.jobs`) of this stack's database.
    pub async fn queue_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
            .fetch_one(&self.pool)
            .await
            .expect("count queue rows")
    }

    pub async fn message(&self, token: &str, id: Uuid) -> Value {
        self.get_json(token, &format!("/api/messages/{id}")).await
    }

    /// `GET path` as `token`.
    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.call(token, reqwest::Method::GET, path, None).await
    }

    /// `GET path` as `token`, expecting 200 and JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("a JSON body")
    }

    /// `POST /api/messages/{id}/cancel`.
    pub async fn cancel(&self, token: &str, id: Uuid) -> reqwest::Response {
        let path = format!("/api/messages/{id}/cancel");
        self.call(token, reqwest::Method::POST, &path, None).await
    }

    /// Sends `content` and reads its answer's stream to the end.
    pub async fn send_answered(&self, token: &str, conversation: Uuid, content: &str) -> SentOut {
        let sent = self.send(token, conversation, content).await;
        self.read_to_end(token, &sent.stream_url).await;
        sent
    }

    /// Every event of an answer's stream, to its end.
    pub async fn read_to_end(&self, token: &str, stream_url: &str) -> Vec<sse::SseEvent> {
        self.sse(token, stream_url, None).await.collect().await
    }

    /// Opens an SSE stream (optionally resuming after `last_event_id`).
    pub async fn sse(&self, token: &str, path: &str, last_event_id: Option<u64>) -> sse::SseStream {
        let mut req = self.http.get(self.url(path)).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200, "open {path}");
        sse::SseStream::new(response)
    }

    /// Starts a real worker process on this app's database and NATS prefix. Integration
    /// tests pass `env!("CARGO_BIN_EXE_sluice-test-worker")`.
    pub fn worker_process(&self, binary: &str) -> Child {
        self.worker_process_sized(binary, self.config.worker.concurrency)
    }

    /// The same, running `concurrency` answers at once.
    pub fn worker_process_sized(&self, binary: &str, concurrency: usize) -> Child {
        self.process(binary)
            .env("SLUICE_WORKER__CONCURRENCY", concurrency.to_string())
            .spawn()
            .expect("start worker process")
    }

    /// Starts a real API process on this app's database and NATS prefix, listening on `port`,
    /// reached by clients at `public_url` (every API behind one address must share it: it is
    /// the issuer of the tokens they accept from each other). Integration tests pass
    /// `env!("CARGO_BIN_EXE_sluice-test-api")`.
    pub fn api_process(&self, binary: &str, port: u16, public_url: &str) -> Child {
        self.process(binary)
            .env("SLUICE_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLUICE_PUBLIC_URL", public_url)
            .spawn()
            .expect("start API process")
    }

    /// A process of the stack (`binary`), configured like this app.
    fn process(&self, binary: &str) -> Command {
        let c = &self.config;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // `SLUICE_PROCESS_LOG` (a `RUST_LOG` filter) makes them say more, e.g. in a chaos run.
            .env(
                "RUST_LOG",
                std::env::var("SLUICE_PROCESS_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("SLUICE_CONFIG", "/nonexistent/sluice.toml")
            .env("SLUICE_DATABASE_URL", c.database_url.expose_secret())
            .env("SLUICE_NATS_URL", &c.nats_url)
            .env("SLUICE_NATS_PREFIX", &c.nats_prefix)
            .env("SLUICE_JWT_SECRET", c.jwt_secret.expose_secret())
            .env("SLUICE_DEMO__PACING_MS", c.demo.pacing_ms.to_string())
            .env("SLUICE_DEMO__REPLY_TOKENS", c.demo.reply_tokens.to_string())
            .env("SLUICE_DEMO__REPLY", "echo")
            .env("SLUICE_WORKER__BATCH_SIZE", c.worker.batch_size.to_string())
            .env(
                "SLUICE_WORKER__MAX_ATTEMPTS",
                c.worker.max_attempts.to_string(),
            )
            .env(
                "SLUICE_WORKER__HEARTBEAT_MS",
                c.worker.heartbeat_ms.to_string(),
            )
            .env(
                "SLUICE_WORKER__MISSED_HEARTBEATS",
                c.worker.missed_heartbeats.to_string(),
            )
            .env("SLUICE_AUTH_BURST", c.auth_burst.to_string())
            .env(
                "SLUICE_AUTH_RATE_PER_MINUTE",
                c.auth_rate_per_minute.to_string(),
            )
            .stdin(Stdio::null());
        command
    }
}

/// Options for a stack whose GitHub and Google sign-in go to `fake`.
pub fn with_fake_oauth(fake: &fake_oauth::FakeOAuth) -> Options {
    let fake = fake.clone();
    Options {
        configure: Box::new(move |c| fake.configure(c)),
        ..Options::default()
    }
}

/// Options for a stack whose `fake-gpt` model is served by `fake` (an OpenAI-compatible fake).
pub fn with_fake_openai(fake: &fake_openai::FakeOpenAi) -> Options {
    with_fake_provider(fake, ProviderKind::Openai)
}

/// The fake upstream as `provider`'s server (short retries and idle timeout), with one model on
/// it, `fake-gpt` (the default model), whose upstream name is `gpt-fake-1`.
pub fn with_fake_provider(fake: &fake_openai::FakeOpenAi, provider: ProviderKind) -> Options {
    let (base_url, gemini_base_url) = (fake.base_url.clone(), fake.gemini_base_url());
    Options {
        configure: Box::new(move |c| {
            let section = match provider {
                ProviderKind::Anthropic => &mut c.anthropic,
                ProviderKind::Gemini => &mut c.gemini,
                _ => &mut c.openai,
            };
            section.base_url = match provider {
                ProviderKind::Gemini => gemini_base_url,
                _ => base_url,
            };
            section.api_key = Some("fake-key".to_string().into());
            section.idle_timeout_secs = 1;
            section.max_retries = 2;
            section.retry_base_ms = 50;
            c.models.insert(
                "fake-gpt".into(),
                sluice_shared::config::ModelConfig {
                    provider,
                    upstream_model: Some("gpt-fake-1".into()),
                    context_tokens: 4096,
                    max_output_tokens: 256,
                    display_name: Some("Fake GPT".into()),
                    price: None,
                    fallbacks: Vec::new(),
                },
            );
            c.default_model = "fake-gpt".into();
        }),
        ..Options::default()
    }
}
