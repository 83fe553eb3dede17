//! Layered configuration: compiled-in defaults → optional `sluice.toml` → `SLUICE_*`
//! environment (nested keys with `__`, e.g. `SLUICE_WORKER__CONCURRENCY=32`). Every key is
//! documented in `sluice.example.toml`; `Config::load` validates before anything starts.
//! One file per section, each with its defaults and its checks; this one holds the top-level
//! keys.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

mod durable_streams;
mod edge;
mod files;
mod master_key;
mod models;
mod providers;
mod secrets;
mod sign_in;
mod worker;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use durable_streams::DurableStreamsConfig;
pub use edge::CorsConfig;
pub use files::{FileStoreKind, FilesConfig};
pub use master_key::SecretsConfig;
pub use models::{Deployment, ModelConfig, ModelPrice, ProviderKind};
pub use providers::{DemoConfig, DemoReply, HttpProviderConfig};
use secrets::{list_or_commas, redact};
pub use sign_in::{DeviceClient, DeviceConfig, OAuthProviderConfig};
pub use worker::WorkerConfig;

/// The whole configuration of API and worker (one file serves both).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// `text` (human lines) or `json` (one object per line, for log collectors).
    pub log_format: LogFormat,
    /// An OTLP/HTTP collector for traces (`http://127.0.0.1:4318/v1/traces`). Unset: no traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otel_endpoint: Option<String>,
    /// Where the API serves `GET /metrics` (Prometheus). Unset: no metrics, and never on the
    /// public `listen` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
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
    /// Proxies (CIDRs or addresses) in front of the API whose `X-Forwarded-For` / `Forwarded`
    /// is believed: the client's address is the rightmost hop that is not one of them. None by
    /// default: the TCP peer is the client. Per-address limits key on it.
    #[serde(
        deserialize_with = "edge::proxies",
        serialize_with = "edge::proxies_as_text"
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub cors: CorsConfig,
    /// Life of a scoped stream token (`POST /api/stream-tokens`), at most 300 seconds.
    pub stream_token_ttl_secs: u64,
    pub device: DeviceConfig,
    pub github: OAuthProviderConfig,
    pub google: OAuthProviderConfig,
    /// Largest request body accepted, in bytes (larger → 413).
    pub body_limit_bytes: usize,
    /// Largest file `POST /api/import` takes, in bytes (larger → 413); a zip may unpack to
    /// four times this, no more.
    pub import_limit_bytes: u64,
    /// Longest user message accepted, in characters (longer → 413).
    pub max_message_chars: usize,
    /// Output tokens an answer reserves against its user's budgets until it ends (then it
    /// settles to what it really used): a bounded guess, not the model's maximum, which would
    /// block users whose real spend is near zero. A request's own `max_tokens` lowers it.
    pub reserve_output_tokens: u32,
    /// Seconds between `: keep-alive` comments on SSE responses.
    pub keepalive_secs: u64,
    /// Model used when a request names none.
    pub default_model: String,
    /// System prompt put before every conversation's history.
    pub system_prompt: String,
    pub worker: WorkerConfig,
    pub demo: DemoConfig,
    pub openai: HttpProviderConfig,
    pub anthropic: HttpProviderConfig,
    pub gemini: HttpProviderConfig,
    /// Models users may pick, by name.
    pub models: BTreeMap<String, ModelConfig>,
    /// The master key sealing users' provider keys.
    pub secrets: SecretsConfig,
    /// Attachments: where they are kept, and the limits on them.
    pub files: FilesConfig,
    /// Generic durable streams (`/v1/stream/{path}`): waits, sizes, sweeps.
    pub durable_streams: DurableStreamsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            log_format: LogFormat::Text,
            otel_endpoint: None,
            metrics_listen: None,
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
            trusted_proxies: Vec::new(),
            cors: CorsConfig::default(),
            stream_token_ttl_secs: 300,
            device: DeviceConfig::default(),
            github: OAuthProviderConfig::github(),
            google: OAuthProviderConfig::google(),
            body_limit_bytes: 256 * 1024,
            import_limit_bytes: 200 * 1024 * 1024,
            max_message_chars: 32_000,
            reserve_output_tokens: 500,
            keepalive_secs: 15,
            default_model: "demo".into(),
            system_prompt: "You are a helpful assistant.".into(),
            worker: WorkerConfig::default(),
            demo: DemoConfig::default(),
            openai: HttpProviderConfig::openai(),
            anthropic: HttpProviderConfig::anthropic(),
            gemini: HttpProviderConfig::gemini(),
            models: models::default_models(),
            secrets: SecretsConfig::default(),
            files: FilesConfig::default(),
            durable_streams: DurableStreamsConfig::default(),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
    /// This configuration's secrets as the `SLUICE_*` environment variables that set them (the
    /// ones that are set): what a process handed this configuration as a file — where secrets
    /// serialize redacted — needs beside it. A test keeps the list equal to the redacted keys.
    pub fn secrets_as_env(&self) -> Vec<(&'static str, String)> {
        [
            ("SLUICE_DATABASE_URL", Some(&self.database_url)),
            ("SLUICE_JWT_SECRET", Some(&self.jwt_secret)),
            (
                "SLUICE_GITHUB__CLIENT_SECRET",
                self.github.client_secret.as_ref(),
            ),
            (
                "SLUICE_GOOGLE__CLIENT_SECRET",
                self.google.client_secret.as_ref(),
            ),
            ("SLUICE_OPENAI__API_KEY", self.openai.api_key.as_ref()),
            ("SLUICE_ANTHROPIC__API_KEY", self.anthropic.api_key.as_ref()),
            ("SLUICE_GEMINI__API_KEY", self.gemini.api_key.as_ref()),
            (
                "SLUICE_SECRETS__MASTER_KEY",
                self.secrets.master_key.as_ref(),
            ),
            (
                "SLUICE_FILES__S3_SECRET_ACCESS_KEY",
                self.files.s3_secret_access_key.as_ref(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, secret)| Some((name, secret?.expose_secret().to_string())))
        .chain((!self.secrets.retired_master_keys.is_empty()).then(|| {
            let keys: Vec<&str> = (self.secrets.retired_master_keys.iter())
                .map(|k| k.expose_secret())
                .collect();
            ("SLUICE_SECRETS__RETIRED_MASTER_KEYS", keys.join(","))
        }))
        .collect()
    }

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
        if self.metrics_listen == Some(self.listen) {
            return bad(format!(
                "metrics_listen must not be the public listen address {}: metrics are for \
                 operators, not the internet",
                self.listen
            ));
        }
        models::validate(&self.models, &self.default_model).map_err(ConfigError::Invalid)?;
        self.worker.validate().map_err(ConfigError::Invalid)?;
        if self.auth_rate_per_minute == 0
            || self.auth_burst == 0
            || self.login_attempts_per_account == 0
        {
            return bad(
                "auth_rate_per_minute, auth_burst and login_attempts_per_account must be above 0"
                    .into(),
            );
        }
        self.device.validate().map_err(ConfigError::Invalid)?;
        self.durable_streams.check().map_err(ConfigError::Invalid)?;
        self.cors.validate().map_err(ConfigError::Invalid)?;
        if !(1..=300).contains(&self.stream_token_ttl_secs) {
            return bad("stream_token_ttl_secs must be from 1 to 300".into());
        }
        crate::envelope::MasterKeys::from_config(&self.secrets)
            .map_err(|e| ConfigError::Invalid(format!("secrets: {e}")))?;
        self.github
            .validate("github")
            .map_err(ConfigError::Invalid)?;
        self.google
            .validate("google")
            .map_err(ConfigError::Invalid)?;
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
mod tests;
