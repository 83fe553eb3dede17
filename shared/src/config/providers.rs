//! `[demo]`, `[openai]`, `[anthropic]`, `[gemini]`: the providers a model can name.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::redact_opt;

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

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            pacing_ms: 30,
            reply_tokens: 48,
            reply: DemoReply::Guide,
        }
    }
}

/// A provider reached over HTTP: OpenAI's Chat Completions (and every server that speaks it:
/// vLLM, Ollama, LM Studio, LiteLLM), Anthropic's Messages, Google's Gemini.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProviderConfig {
    /// Base URL the API's paths hang off: `https://api.openai.com/v1`,
    /// `https://api.anthropic.com/v1`, `https://generativelanguage.googleapis.com/v1beta`.
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
    /// Give up on a request whose response has not begun after this long (retried like a 5xx).
    pub first_byte_timeout_secs: u64,
}

impl HttpProviderConfig {
    /// The defaults, at `base_url`.
    fn at(base_url: &str) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            max_retries: 3,
            retry_base_ms: 500,
            max_retry_after_secs: 30,
            idle_timeout_secs: 60,
            first_byte_timeout_secs: 30,
        }
    }

    pub fn openai() -> Self {
        Self::at("https://api.openai.com/v1")
    }

    pub fn anthropic() -> Self {
        Self::at("https://api.anthropic.com/v1")
    }

    pub fn gemini() -> Self {
        Self::at("https://generativelanguage.googleapis.com/v1beta")
    }
}
