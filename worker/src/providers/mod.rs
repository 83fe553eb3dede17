//! LLM providers behind one trait. A provider turns a prompt into a stream of text deltas
//! followed by one `Finished`. Dropping the stream aborts the upstream call (that is how
//! cancellation and time limits stop a generation).

pub mod anthropic;
pub mod demo;
pub mod gemini;
mod http;
pub mod openai;
pub mod routes;

pub use http::{HttpProvider, WireFormat};

use futures::{future::BoxFuture, stream::BoxStream};
use sluice_shared::{events::Usage, job::GenerationOptions};

/// One turn of the prompt, in OpenAI's role vocabulary.
#[derive(Debug, Clone)]
pub struct PromptMessage {
    pub role: &'static str,
    pub content: String,
    /// Images sent with it (a question's attachments, for a model that sees).
    pub images: Vec<PromptImage>,
}

impl PromptMessage {
    pub fn text(role: &'static str, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            images: Vec::new(),
        }
    }
}

/// An attached image: which file, and (once read from storage) its bytes as base64.
#[derive(Debug, Clone)]
pub struct PromptImage {
    pub owner: uuid::Uuid,
    pub id: uuid::Uuid,
    pub name: String,
    pub content_type: String,
    pub base64: String,
}

#[derive(Debug, Clone)]
pub struct ProviderRequest {
    /// The provider's own model name.
    pub model: String,
    pub messages: Vec<PromptMessage>,
    /// The answer's length limit: the client's `max_tokens`, else the model's.
    pub max_output_tokens: u32,
    /// Sampling as the client asked (temperature, top_p, stop); `max_tokens` is folded into
    /// `max_output_tokens`.
    pub options: GenerationOptions,
    /// The user's own key for this deployment's provider (`chat_job::own_keys`), used instead
    /// of the server's. (Its `Debug` is redacted.)
    pub api_key: Option<secrecy::SecretString>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderChunk {
    Delta(String),
    Finished {
        finish_reason: String,
        usage: Option<Usage>,
    },
}

/// Why a generation failed; `code` is what clients see in the `error` event.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProviderError {
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
}

impl ProviderError {
    pub fn new(code: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            code,
            message: message.into(),
            retryable,
        }
    }
}

pub type ChunkStream = BoxStream<'static, Result<ProviderChunk, ProviderError>>;

pub trait Provider: Send + Sync {
    /// The name shown in `start` events and stored on the message.
    fn name(&self) -> &'static str;

    /// Starts a streaming generation. Resolves once the provider has accepted the request
    /// (after any retries), so errors before the first token surface here.
    fn stream(&self, request: ProviderRequest)
    -> BoxFuture<'_, Result<ChunkStream, ProviderError>>;
}
