//! The WebSocket's JSON frames, both ways, and its close codes. Events carry the same `id`,
//! `event` and `data` as the SSE streams (README, "Streams: the contract"), so a client resumes
//! a subscription by sending back the last `id` it saw.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::stream::Scope;

/// What a client sends. `ref` is the client's own tag, echoed on the reply.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Follow a stream from after `last_event_id` (from its start without one).
    Subscribe {
        #[serde(flatten)]
        target: Scope,
        last_event_id: Option<u64>,
    },
    Unsubscribe {
        #[serde(flatten)]
        target: Scope,
    },
    /// Send a message (to a new conversation without `conversation_id`); the reply is `sent`,
    /// and the answer is subscribed to at once.
    Send {
        #[serde(rename = "ref")]
        reference: Option<String>,
        conversation_id: Option<Uuid>,
        content: String,
        model: Option<String>,
        /// Files to send with it (ids from `POST /api/files`).
        #[serde(default)]
        attachments: Vec<Uuid>,
    },
    /// Stop an answer: the reply is `cancelling`; its stream then ends with `cancelled`.
    Cancel {
        #[serde(rename = "ref")]
        reference: Option<String>,
        message_id: Uuid,
    },
    Ping,
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Subscribed {
        #[serde(flatten)]
        target: Scope,
    },
    /// One event of a subscribed stream: `id` as on SSE (`null` only in a rebuilt old answer,
    /// whose last event carries one), `event` the type, `data` the event.
    Event {
        #[serde(flatten)]
        target: Scope,
        id: Option<u64>,
        event: &'static str,
        data: Value,
    },
    /// Nothing more will come on this subscription.
    Ended {
        #[serde(flatten)]
        target: Scope,
        reason: EndReason,
    },
    Sent {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: Uuid,
        user_message_id: Uuid,
        message_id: Uuid,
    },
    Cancelling {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        message_id: Uuid,
    },
    /// A frame that could not be done, with the API's error code; for a subscription, which.
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        target: Option<Scope>,
        code: String,
        message: String,
    },
    Pong,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Its terminal event was sent.
    Done,
    /// `last_event_id` was at or past its terminal event.
    AlreadyEnded,
    /// The answer or conversation was deleted.
    Deleted,
    /// The relay stopped before the end: subscribe again with the last id.
    Interrupted,
}

impl ServerFrame {
    /// An error frame for `e` (a subscription's when `target` is given).
    pub fn error(
        reference: Option<String>,
        target: Option<Scope>,
        e: crate::error::ApiError,
    ) -> Self {
        let (code, message) = e.code_and_message();
        Self::Error {
            reference,
            target,
            code,
            message,
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("frames serialize")
    }
}

/// Why the server closed the socket (4000–4999 are the application's own codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The server is shutting down: connect again (another API, or this one restarted).
    ShuttingDown,
    /// The credential expired or was revoked: connect again with a fresh one.
    AuthExpired,
    /// The one stream a stream token reads was deleted.
    Deleted,
    /// The client did not read its frames in time: connect again and resubscribe with the
    /// last ids seen.
    TooSlow,
    /// No pong came back to our pings.
    NoPong,
}

impl CloseReason {
    pub fn code(self) -> u16 {
        match self {
            Self::ShuttingDown => 1001,
            Self::AuthExpired => 4401,
            Self::Deleted => 4404,
            Self::TooSlow => 4408,
            Self::NoPong => 4409,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::ShuttingDown => "server shutting down",
            Self::AuthExpired => "authentication expired: connect again",
            Self::Deleted => "the stream was deleted",
            Self::TooSlow => "too slow reading: connect again and resubscribe with the last ids",
            Self::NoPong => "no pong",
        }
    }
}
