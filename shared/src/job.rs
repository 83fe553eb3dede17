//! The chat job: what the API enqueues and a worker runs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The apalis queue name. Set explicitly so moving the type never orphans queued jobs.
pub const CHAT_QUEUE: &str = "chat";

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
}
