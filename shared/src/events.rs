//! The events a worker publishes for one assistant message (docs/design.md §6). The NATS payload is
//! this JSON; the SSE relay sends it unchanged as `data:` with `event: <type>`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::message_status::MessageStatus;

/// Token counts reported by the provider (or estimated by the demo provider).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// One event on a message's subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First event of `POST /api/chat` only; never published to NATS.
    Meta {
        conversation_id: Uuid,
        user_message_id: Uuid,
        message_id: Uuid,
    },
    Start {
        message_id: Uuid,
        conversation_id: Uuid,
        model: String,
        provider: String,
        attempt: i32,
    },
    Token {
        message_id: Uuid,
        seq: u32,
        delta: String,
    },
    /// A new attempt begins: clients discard text from earlier attempts.
    Reset {
        message_id: Uuid,
        attempt: i32,
    },
    Done {
        message_id: Uuid,
        finish_reason: String,
        usage: Usage,
    },
    Error {
        message_id: Uuid,
        code: String,
        message: String,
        /// Whether the same request may succeed later. `true` for what passes — the provider's
        /// rate limits, outages, timeouts, a dropped connection — that outlasted the worker's own
        /// retries and fail-over: a client may offer "Retry" (regenerate), best after a pause.
        /// `false` when the same request fails the same way (a refused or malformed prompt, a
        /// bad provider key, an unknown model): something must change first. Sluice itself never
        /// retries an answer that ended with an error.
        retryable: bool,
    },
    Cancelled {
        message_id: Uuid,
    },
    /// The conversation was named by its model after its first answer (the title job):
    /// only on the conversation's stream (`GET /api/conversations/{id}/events`).
    Title {
        conversation_id: Uuid,
        title: String,
    },
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Meta { .. } => "meta",
            Self::Start { .. } => "start",
            Self::Token { .. } => "token",
            Self::Reset { .. } => "reset",
            Self::Done { .. } => "done",
            Self::Error { .. } => "error",
            Self::Cancelled { .. } => "cancelled",
            Self::Title { .. } => "title",
        }
    }
}

/// How an answer ended, as its row stores it: the one source of its terminal event. The
/// worker that finishes an answer and the API that publishes the end for a worker that died
/// before it could (`api/src/stream/terminal.rs`) both build the event here, so they send the
/// same one under the same `Nats-Msg-Id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Done {
        finish_reason: String,
        usage: Usage,
    },
    Cancelled,
    Error {
        code: String,
        message: String,
        retryable: bool,
    },
}

impl Ending {
    pub fn status(&self) -> MessageStatus {
        match self {
            Self::Done { .. } => MessageStatus::Done,
            Self::Cancelled => MessageStatus::Cancelled,
            Self::Error { .. } => MessageStatus::Error,
        }
    }

    /// The terminal event of the answer `message_id`.
    pub fn event(&self, message_id: Uuid) -> StreamEvent {
        match self.clone() {
            Self::Done {
                finish_reason,
                usage,
            } => StreamEvent::Done {
                message_id,
                finish_reason,
                usage,
            },
            Self::Cancelled => StreamEvent::Cancelled { message_id },
            Self::Error {
                code,
                message,
                retryable,
            } => StreamEvent::Error {
                message_id,
                code,
                message,
                retryable,
            },
        }
    }
}

/// Every event type, as `StreamEvent::kind` names them.
const KINDS: [&str; 8] = [
    "meta",
    "start",
    "token",
    "reset",
    "done",
    "error",
    "cancelled",
    "title",
];

/// Peeks at the `type` of a raw payload without decoding the rest (the relay's hot path).
pub fn payload_kind(payload: &[u8]) -> Option<&'static str> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(borrow, rename = "type")]
        kind: &'a str,
    }
    let kind: Kind = serde_json::from_slice(payload).ok()?;
    KINDS.into_iter().find(|k| *k == kind.kind)
}

/// The `Nats-Msg-Id` of an event: `{message_id}:{attempt}:{key}`, where `key` is the token's
/// `seq` or [`TERMINAL_KEY`]. JetStream drops a second publish with the same id, which is what
/// lets the API publish an answer's terminal event on a dead worker's behalf without a
/// second one ever reaching the stream.
pub fn nats_msg_id(message_id: Uuid, attempt: i32, key: impl std::fmt::Display) -> String {
    format!("{message_id}:{attempt}:{key}")
}

/// The attempt a [`nats_msg_id`] names; `None` for an id not of that form.
pub fn attempt_of_msg_id(msg_id: &str) -> Option<i32> {
    msg_id.split(':').nth(1)?.parse().ok()
}

/// The `key` of every terminal event in [`nats_msg_id`]: one terminal per attempt.
pub const TERMINAL_KEY: &str = "end";

/// Whether an event type ends a message's stream.
pub fn is_terminal_kind(kind: &str) -> bool {
    TERMINAL_KINDS.contains(&kind)
}

/// The event types that end a message's stream, one of them exactly once per answer.
pub const TERMINAL_KINDS: [&str; 3] = ["done", "error", "cancelled"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_type_tag() {
        let e = StreamEvent::Token {
            message_id: Uuid::nil(),
            seq: 3,
            delta: "hi".into(),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.starts_with(r#"{"type":"token""#), "{json}");
        assert_eq!(payload_kind(json.as_bytes()), Some("token"));
        assert!(!is_terminal_kind(e.kind()));
        assert!(is_terminal_kind("done"));
    }

    #[test]
    fn the_attempt_is_read_back_from_the_msg_id() {
        let id = nats_msg_id(Uuid::nil(), 3, TERMINAL_KEY);
        assert_eq!(attempt_of_msg_id(&id), Some(3));
        assert_eq!(attempt_of_msg_id("not-ours"), None);
    }
}
