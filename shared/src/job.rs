//! The chat job: what the API enqueues and a worker runs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The apalis queue name. Set explicitly so moving the type never orphans queued jobs.
pub const CHAT_QUEUE: &str = "chat";
/// The title jobs' queue (in the same `apalis.jobs` table, with a worker of their own).
pub const TITLE_QUEUE: &str = "title";

/// Name a conversation after its first answer (`worker/src/title_job.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TitleJob {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
}

/// Generate one assistant message. Idempotent: the message row is the source of truth, so a
/// job run twice (retry, crashed worker) never produces a second answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatJob {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub model: String,
    /// The API request id, so worker logs and NATS headers join the request's trace.
    pub request_id: Option<String>,
    /// Sampling settings the client chose (`/v1/chat/completions`); absent: the model's own.
    #[serde(default, skip_serializing_if = "GenerationOptions::is_default")]
    pub options: GenerationOptions,
    /// The W3C `traceparent` of the request that enqueued it, so the worker's spans join that
    /// request's trace (`telemetry`); absent when traces are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// How the provider should sample, as OpenAI's API names it. Every field the provider is
/// given; `None` leaves it to the provider (or, for `max_tokens`, the model's configured limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Up to 4 sequences; generation stops before any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// At most this many output tokens (never above the model's `max_output_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

impl GenerationOptions {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
