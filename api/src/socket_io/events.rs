//! What one stored event of a conversation becomes on Socket.IO: `message:new` for an answer
//! first seen, then `message:stream`, `message:update` (a reset) or `message:done`, each with
//! the SSE stream's `id`.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::json;
use sluice_shared::events::{StreamEvent, Usage};
use uuid::Uuid;

use crate::stream::Stored;

/// One Socket.IO event of an answer (`id`: the SSE stream's).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Emitted {
    message_id: Uuid,
    id: u64,
    #[serde(flatten)]
    what: What,
}

#[derive(Serialize)]
#[serde(untagged)]
enum What {
    New {
        #[serde(rename = "conversationId")]
        conversation_id: Uuid,
    },
    Stream {
        delta: String,
    },
    Update {
        content: String,
        reset: bool,
    },
    Done {
        status: &'static str,
        #[serde(rename = "finishReason", skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<serde_json::Value>,
    },
}

/// The Socket.IO events one stored event becomes: (name, payload).
pub fn translate(
    conversation_id: Uuid,
    started: &mut HashSet<Uuid>,
    stored: &Stored,
) -> Vec<(&'static str, Emitted)> {
    let Ok(event) = serde_json::from_slice::<StreamEvent>(&stored.payload) else {
        return Vec::new();
    };
    let id = stored.seq;
    let emitted = |message_id, what| Emitted {
        message_id,
        id,
        what,
    };
    let message_id = match &event {
        StreamEvent::Meta { message_id, .. }
        | StreamEvent::Start { message_id, .. }
        | StreamEvent::Token { message_id, .. }
        | StreamEvent::Reset { message_id, .. }
        | StreamEvent::Done { message_id, .. }
        | StreamEvent::Error { message_id, .. }
        | StreamEvent::Cancelled { message_id } => *message_id,
        // The socket's `message:*` events are about messages; its clients read a conversation's
        // title from the conversation (and the account feed).
        StreamEvent::Title { .. } => return Vec::new(),
    };
    let mut out = Vec::new();
    if started.insert(message_id) {
        out.push((
            "message:new",
            emitted(message_id, What::New { conversation_id }),
        ));
    }
    let done = |status, finish_reason, usage, error| What::Done {
        status,
        finish_reason,
        usage,
        error,
    };
    let what = match event {
        StreamEvent::Token { delta, .. } => ("message:stream", What::Stream { delta }),
        StreamEvent::Reset { .. } => (
            "message:update",
            What::Update {
                content: String::new(),
                reset: true,
            },
        ),
        StreamEvent::Done {
            finish_reason,
            usage,
            ..
        } => (
            "message:done",
            done("done", Some(finish_reason), Some(usage), None),
        ),
        StreamEvent::Error {
            code,
            message,
            retryable,
            ..
        } => {
            let error = json!({ "code": code, "message": message, "retryable": retryable });
            ("message:done", done("error", None, None, Some(error)))
        }
        StreamEvent::Cancelled { .. } => ("message:done", done("cancelled", None, None, None)),
        StreamEvent::Meta { .. } | StreamEvent::Start { .. } | StreamEvent::Title { .. } => {
            return out;
        }
    };
    out.push((what.0, emitted(message_id, what.1)));
    out
}
