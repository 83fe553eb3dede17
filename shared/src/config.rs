//! Layered configuration: compiled-in defaults → optional `sluice.toml` → `SLUICE_*`
//! environment (nested keys with `__`, e.g. `SLUICE_WORKER__CONCURRENCY=32`). Every key is
//! documented in `sluice.example.toml`; `Config::load` validates before anything starts.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The whole configuration of API and worker (one file serves both).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Public base URL, used in links the API hands out.
    pub public_url: String,
    /// Postgres connection URL.
    #[serde(serialize_with = "redact")]
    pub database_url: SecretString,
    /// Postgres pool size per process. Each batched statement has one connection more of its
    /// own (`db::dedicated`): the API opens 2 beyond this, each worker 3.
    pub database_max_connections: u32,
    /// NATS server URL.
    pub nats_url: String,
    /// Prefix for every NATS subject and the stream name (`sluice` → `SLUICE_EVENTS`).
    pub nats_prefix: String,
    /// How long JetStream keeps token events; older messages are served from Postgres.
    pub stream_max_age_secs: u64,
    /// HMAC key for access tokens (at least 32 bytes).
    #[serde(serialize_with = "redact")]
    pub jwt_secret: SecretString,
    /// Access token lifetime.
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime (sliding).
    pub refresh_token_ttl_secs: u64,
    /// Requests per minute per client IP on `/api/auth/*` (over it: 429 with Retry-After).
    pub auth_rate_per_minute: u32,
    /// Burst allowed above that rate.
    pub auth_burst: u32,
    /// Password sign-in attempts per account per 15 minutes, whatever the address.
    pub login_attempts_per_account: u32,
    /// Accounts with these (verified) emails become admins when they sign in. In the
    /// environment a comma-separated list: `SLUICE_ADMIN_EMAILS=ada@example.com,bob@example.com`.
    #[serde(deserialize_with = "list_or_commas")]
    pub admin_emails: Vec<String>,
    pub device: DeviceConfig,
    pub github: OAuthProviderConfig,
    pub google: OAuthProviderConfig,
    /// Largest request body accepted, in bytes (larger → 413).
    pub body_limit_bytes: usize,
    /// Longest user message accepted, in characters (longer → 413).
    pub max_message_chars: usize,
    /// Seconds between `: keep-alive` comments on SSE responses.
    pub keepalive_secs: u64,
    /// Model used when a request names none.
    pub default_model: String,
    /// System prompt put before every conversation's history.
    pub system_prompt: String,
    pub worker: WorkerConfig,
    pub demo: DemoConfig,
    pub openai: OpenAiConfig,
    /// Models users may pick, by name.
    pub models: BTreeMap<String, ModelConfig>,
}

/// How a worker process takes and runs jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once per worker process.
    pub concurrency: usize,
    /// Jobs fetched per queue poll. A worker fetches only with a slot free, but takes the
    /// whole batch: jobs beyond its free slots then wait on it while another worker may be
    /// idle. 1 (the default) keeps every queued job free for whichever worker can start it;
    /// raise it only for a single worker process.
    pub batch_size: usize,
    /// A job running longer than this fails with `timeout`.
    pub job_timeout_secs: u64,
    /// Attempts per job (crashed workers and failures count).
    pub max_attempts: u32,
    /// Worker heartbeat; a worker silent for `heartbeat_ms × missed_heartbeats` is presumed
    /// dead and its jobs go to another worker (the lease).
    pub heartbeat_ms: u64,
    pub missed_heartbeats: usize,
    /// On shutdown, in-flight jobs get this long to finish before they are released.
    pub shutdown_grace_secs: u64,
    /// The API offers each new job straight to a worker over core NATS and waits this long for
    /// one to take it; if none does, the job is made due in the queue and workers are woken by
    /// LISTEN/NOTIFY. 0: no offers, every job goes through the queue's wake-up (see
    /// `sluice_shared::handoff`).
    pub handoff_ms: u64,
}

/// The built-in `demo` provider: no network, a deterministic reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Delay between tokens.
    pub pacing_ms: u64,
    /// Tokens in each `echo` reply.
    pub reply_tokens: u32,
    /// `guide` (a short markdown text on configuring a real model: what a person trying Sluice
    /// should read) or `echo` (the last message's words, numbered: what tests and benchmarks
    /// predict token by token).
    #[serde(default)]
    pub reply: DemoReply,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoReply {
    #[default]
    Guide,
    Echo,
}

/// Any OpenAI-compatible server (OpenAI, vLLM, Ollama, LiteLLM...).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    #[serde(serialize_with = "redact_opt")]
    pub api_key: Option<SecretString>,
    /// Retries on 429, 5xx and connect errors before the first token.
    pub max_retries: u32,
    /// First back-off; doubles per retry unless the server sends `Retry-After`.
    pub retry_base_ms: u64,
    /// Longest `Retry-After` honoured; longer waits fail the attempt as rate-limited.
    pub max_retry_after_secs: u64,
    /// Give up on a stream that sends nothing for this long.
    pub idle_timeout_secs: u64,
}

/// The OAuth 2.0 Device Authorization Grant (RFC 8628), used by the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Lifetime of a device code and its user code.
    pub code_ttl_secs: u64,
    /// Seconds a client waits between polls (grows by 5 on every `slow_down`).
    pub poll_interval_secs: u32,
    /// Wrong user codes one address may enter per code lifetime.
    pub misses_per_ip: u32,
    /// Wrong user codes all addresses together may enter per code lifetime. With 20^8 codes,
    /// 5 keeps the chance of guessing a given live code within RFC 8628's 2^-32.
    pub misses_global: u32,
    /// Clients allowed to ask for device codes, by `client_id` (all public clients).
    pub clients: BTreeMap<String, DeviceClient>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceClient {
    /// Shown on the approval page: "Sluice CLI wants to sign in".
    pub name: String,
}

/// An OAuth 2.0 sign-in provider (GitHub or Google). Off until `client_id` is set; the URLs
/// default to the real provider and point at a fake one in tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthProviderConfig {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default, serialize_with = "redact_opt")]
    pub client_secret: Option<SecretString>,
    pub authorize_url: String,
    pub token_url: String,
    /// The signed-in user's profile (GitHub `/user`, Google OpenID `userinfo`).
    pub userinfo_url: String,
    /// GitHub only: the user's addresses, to find the primary verified one.
    #[serde(default)]
    pub emails_url: Option<String>,
}

impl OAuthProviderConfig {
    pub fn enabled(&self) -> bool {
        self.client_id.is_some()
    }
}

/// One selectable model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `demo` or `openai`.
    pub provider: ProviderKind,
    /// The provider's own model name (defaults to the key).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Context window in tokens; history is trimmed to fit.
    pub context_tokens: u32,
    /// Tokens reserved for the answer.
    pub max_output_tokens: u32,
    /// The name people see in the model picker (defaults to the key).
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Demo,
    Openai,
}

/// A list from TOML (`["a", "b"]`) or from the environment (`a,b`).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    let items = match Either::deserialize(d)? {
        Either::List(items) => items,
        Either::One(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect())
}

fn redact<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

fn redact_opt<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut models = BTreeMap::new();
        models.insert(
            "demo".to_string(),
            ModelConfig {
                provider: ProviderKind::Demo,
                upstream_model: None,
                context_tokens: 8192,
                max_output_tokens: 1024,
                display_name: Some("Demo (no network)".into()),
            },
        );
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: SecretString::from("postgres://sluice@127.0.0.1:5432/sluice"),
            database_max_connections: 20,
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_prefix: "sluice".into(),
            stream_max_age_secs: 24 * 3600,
            jwt_secret: SecretString::from(""),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 7 * 24 * 3600,
            auth_rate_per_minute: 30,
            auth_burst: 20,
            login_attempts_per_account: 10,
            admin_emails: Vec::new(),
            device: DeviceConfig {
                code_ttl_secs: 900,
                poll_interval_secs: 5,
                misses_per_ip: 3,
                misses_global: 5,
                clients: BTreeMap::from([(
                    "sluice-cli".to_string(),
                    DeviceClient {
                        name: "Sluice CLI".into(),
                    },
                )]),
            },
            github: OAuthProviderConfig {
                client_id: None,
                client_secret: None,
                authorize_url: "https://github.com/login/oauth/authorize".into(),
                token_url: "https://github.com/login/oauth/access_token".into(),
                userinfo_url: "https://api.github.com/user".into(),
                emails_url: Some("https://api.github.com/user/emails".into()),
            },
            google: OAuthProviderConfig {
                client_id: None,
                client_secret: None,
                authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token_url: "https://oauth2.googleapis.com/token".into(),
                userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".into(),
                emails_url: None,
            },
            body_limit_bytes: 256 * 1024,
            max_message_chars: 32_000,
            keepalive_secs: 15,
            default_model: "demo".into(),
            system_prompt: "You are a helpful assistant.".into(),
            worker: WorkerConfig {
                concurrency: 32,
                batch_size: 1,
                job_timeout_secs: 300,
                max_attempts: 3,
                heartbeat_ms: 2000,
                missed_heartbeats: 3,
                shutdown_grace_secs: 20,
                handoff_ms: 1000,
            },
            demo: DemoConfig {
                pacing_ms: 30,
                reply_tokens: 48,
                reply: DemoReply::Guide,
            },
            openai: OpenAiConfig {
                base_url: "https://api.openai.com/v1".into(),
                api_key: None,
                max_retries: 3,
                retry_base_ms: 500,
                max_retry_after_secs: 30,
                idle_timeout_secs: 60,
            },
            models,
        }
    }
}

/// Why the configuration cannot be used, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `sluice.toml` (or the file named by `SLUICE_CONFIG`), then `SLUICE_*`.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("SLUICE_CONFIG").unwrap_or_else(|_| "sluice.toml".into());
        Self::figment(Path::new(&file))
            .extract::<Config>()
            .map_err(|e| ConfigError::Parse(Box::new(e)))?
            .validated()
    }

    fn figment(file: &Path) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("SLUICE_").split("__").ignore(&["config"]))
    }

    /// Checks what serde cannot: cross-field rules and sane ranges.
    pub fn validated(self) -> Result<Self, ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.jwt_secret.expose_secret().len() < 32 {
            return bad("jwt_secret (SLUICE_JWT_SECRET) must be set to at least 32 bytes".into());
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad(format!(
                "public_url must start with http:// or https://, got {:?}",
                self.public_url
            ));
        }
        if self.nats_prefix.is_empty()
            || !self
                .nats_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return bad(format!(
                "nats_prefix must be letters, digits, '_' or '-', got {:?}",
                self.nats_prefix
            ));
        }
        if !self.models.contains_key(&self.default_model) {
            return bad(format!(
                "default_model {:?} is not one of models: {:?}",
                self.default_model,
                self.models.keys().collect::<Vec<_>>()
            ));
        }
        for (name, m) in &self.models {
            if m.context_tokens <= m.max_output_tokens {
                return bad(format!(
                    "models.{name}: context_tokens must exceed max_output_tokens"
                ));
            }
        }
        let w = &self.worker;
        if w.concurrency == 0
            || w.batch_size == 0
            || w.max_attempts == 0
            || w.heartbeat_ms == 0
            || w.missed_heartbeats == 0
        {
            return bad("worker.concurrency, batch_size, max_attempts, heartbeat_ms and missed_heartbeats must be above 0".into());
        }
        if self.auth_rate_per_minute == 0
            || self.auth_burst == 0
            || self.login_attempts_per_account == 0
        {
            return bad(
                "auth_rate_per_minute, auth_burst and login_attempts_per_account must be above 0"
                    .into(),
            );
        }
        let d = &self.device;
        if d.code_ttl_secs == 0
            || d.poll_interval_secs == 0
            || d.misses_per_ip == 0
            || d.misses_global == 0
        {
            return bad("device.code_ttl_secs, poll_interval_secs, misses_per_ip and misses_global must be above 0".into());
        }
        for (name, p) in [("github", &self.github), ("google", &self.google)] {
            if p.client_id.is_some() && p.client_secret.is_none() {
                return bad(format!(
                    "{name}.client_secret must be set when {name}.client_id is"
                ));
            }
        }
        if self.body_limit_bytes < 1024 || self.max_message_chars == 0 || self.keepalive_secs == 0 {
            return bad("body_limit_bytes must be at least 1024; max_message_chars and keepalive_secs above 0".into());
        }
        Ok(self)
    }

    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.keepalive_secs)
    }

    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secret() -> Config {
        Config {
            jwt_secret: SecretString::from("x".repeat(32)),
            ..Config::default()
        }
    }

    #[test]
    fn defaults_need_only_a_jwt_secret() {
        assert!(Config::default().validated().is_err());
        assert!(with_secret().validated().is_ok());
    }

    #[test]
    fn an_unknown_default_model_is_named_in_the_error() {
        let c = Config {
            default_model: "gpt-9".into(),
            ..with_secret()
        };
        let err = c.validated().unwrap_err().to_string();
        assert!(err.contains("gpt-9"), "{err}");
    }

    #[test]
    fn admin_emails_come_as_a_list_or_comma_separated() {
        let from_env: Config = Figment::from(Serialized::defaults(with_secret()))
            .merge(("admin_emails", " Ada@Example.com, bob@example.com ,"))
            .extract()
            .unwrap();
        assert_eq!(
            from_env.admin_emails,
            ["ada@example.com", "bob@example.com"]
        );
        let from_toml: Config = Figment::from(Serialized::defaults(with_secret()))
            .merge(("admin_emails", vec!["Ada@Example.com"]))
            .extract()
            .unwrap();
        assert_eq!(from_toml.admin_emails, ["ada@example.com"]);
    }

    #[test]
    fn secrets_never_serialize() {
        let json = serde_json::to_string(&with_secret()).unwrap();
        assert!(!json.contains("xxxxxxxx"), "{json}");
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// `sluice.example.toml` documents every key with its default: it must parse to exactly
    /// the compiled-in defaults, so the two cannot drift apart.
    #[test]
    fn the_example_file_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice.example.toml");
        let from_file: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .extract()
            .expect("example parses");
        let a = serde_json::to_value(&from_file).unwrap();
        let b = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(a, b);
    }
}
