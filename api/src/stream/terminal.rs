//! Where a finished answer's events end. The worker stores the answer, then publishes its
//! terminal event, then records that event's sequence on the row (`last_seq`). A reader can
//! arrive between those steps, and a worker can die between them, so a finished row without
//! `last_seq` is normal for a moment — it must never be taken for "events expired".
//!
//! [`settle`] answers for every finished row. When the terminal event is not on the stream
//! yet, the API publishes it itself, from the stored row, under the same `Nats-Msg-Id` the
//! finishing attempt uses: JetStream keeps whichever publish comes first and answers the other
//! with the same sequence, so the answer ends exactly once whoever wins.

use async_nats::jetstream::stream::DirectGetErrorKind;
use sluice_shared::events::{Ending, StreamEvent, TERMINAL_KEY, nats_msg_id};
use uuid::Uuid;

use super::Stored;
use crate::{
    error::ApiError,
    messages::store::{self as messages, MessageRow},
    state::AppState,
};

/// The end of a finished answer's events.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Stream sequence of the terminal event: the last id any client gets for this answer.
    pub seq: u64,
    /// The answer's events are past the stream's retention: rebuild it from the row.
    pub expired: bool,
}

/// The terminal sequence of a finished answer (`row`, which ended as `ending`), publishing the
/// terminal event if no one has.
pub async fn settle(
    state: &AppState,
    row: &MessageRow,
    ending: &Ending,
) -> Result<Terminal, ApiError> {
    if let Some(seq) = row.last_seq {
        return Ok(Terminal {
            seq: seq as u64,
            expired: false,
        });
    }
    let subject = state.subjects.message(row.conversation_id, row.id);
    let terminal = match last_stored(state, &subject).await? {
        // Published; only its sequence was not recorded yet.
        Some(last) if last.is_terminal() => Terminal {
            seq: last.seq,
            expired: false,
        },
        // Tokens are there, the end is not: the worker is between storing and publishing (or
        // died there). Publish the end for it.
        Some(_) => Terminal {
            seq: publish(
                state,
                row.conversation_id,
                row.id,
                row.attempt,
                &ending.event(row.id),
            )
            .await?,
            expired: false,
        },
        // Nothing left on the subject: the events expired. Every sequence this answer ever
        // had is at or below the stream's high-water mark, so that is a safe last id.
        None => Terminal {
            seq: state.hub.next_seq_lower_bound() - 1,
            expired: true,
        },
    };
    messages::set_last_seq(&state.pool, row.id, terminal.seq).await?;
    Ok(terminal)
}

/// Publishes an answer's terminal event (idempotently, see the module docs) and returns its
/// stream sequence.
pub async fn publish(
    state: &AppState,
    conversation_id: Uuid,
    message_id: Uuid,
    attempt: i32,
    event: &StreamEvent,
) -> Result<u64, ApiError> {
    let mut headers = async_nats::HeaderMap::new();
    let id = nats_msg_id(message_id, attempt, TERMINAL_KEY);
    headers.insert("Nats-Msg-Id", id.as_str());
    let subject = state.subjects.message(conversation_id, message_id);
    let payload = serde_json::to_vec(event)?.into();
    let ack = state
        .js
        .publish_with_headers(subject, headers, payload)
        .await?
        .await?;
    Ok(ack.sequence)
}

/// The last event on `subject`, if the stream still holds any.
async fn last_stored(state: &AppState, subject: &str) -> Result<Option<Stored>, ApiError> {
    match state.events.direct_get_last_for_subject(subject).await {
        Ok(m) => Ok(Some(Stored::new(m.sequence, m.payload, Some(&m.headers)))),
        Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "reading an answer's last event failed");
            Err(ApiError::unavailable(
                "the event stream (NATS) is unavailable; try again shortly",
            ))
        }
    }
}
