//! Attaching to one answer without scanning the stream (DESIGN §2.5). The row says where the
//! answer's events start; Direct Get reads them from there (or from `Last-Event-ID` + 1) up to
//! the end, then the process-wide live feed (`hub.rs`) takes over. The subscription is made
//! before the first read, and events are de-duplicated by sequence, so nothing falls between
//! the two. Answers older than the stream's retention are rebuilt from the stored row.

use axum::response::sse::Event;
use futures::stream::{self, BoxStream, StreamExt};
use sluice_shared::events::StreamEvent;

use super::{
    Stored,
    hub::{Subscription, Topic},
    read_stored,
};
use crate::{error::ApiError, messages::store::MessageRow, state::AppState};

/// The events of one answer after `after` (a `Last-Event-ID`), ending with its terminal event.
pub async fn message_events(
    state: AppState,
    row: MessageRow,
    after: Option<u64>,
) -> Result<BoxStream<'static, Event>, ApiError> {
    let first = row.first_seq.unwrap_or(1).max(1) as u64;
    let start = after.map_or(first, |a| first.max(a + 1));
    if row.is_finished()
        && let (Some(last), Some(after)) = (row.last_seq, after)
        && after >= last as u64
    {
        return Ok(stream::empty().boxed());
    }
    // Finished answers need no live feed; live ones subscribe before reading anything.
    let live = (!row.is_finished()).then(|| state.hub.subscribe(Topic::Message(row.id)));
    Ok(answer_events(state, row, start, live))
}

enum Phase {
    CatchUp { next: u64 },
    Live,
    Finished,
}

struct Cursor {
    state: AppState,
    row: MessageRow,
    subject: String,
    live: Option<Subscription>,
    phase: Phase,
    /// Sequence of the last event sent; live events at or below it were already replayed.
    sent: u64,
    /// The client holds part of the answer (sent here, or before its `Last-Event-ID`).
    client_has_text: bool,
}

fn answer_events(
    state: AppState,
    row: MessageRow,
    start: u64,
    live: Option<Subscription>,
) -> BoxStream<'static, Event> {
    let subject = state.subjects.message(row.conversation_id, row.id);
    let client_has_text = start > row.first_seq.unwrap_or(1).max(1) as u64;
    let cursor = Cursor {
        state,
        row,
        subject,
        live,
        phase: Phase::CatchUp { next: start },
        sent: start - 1,
        client_has_text,
    };
    stream::unfold(cursor, |mut c| async move {
        loop {
            match c.phase {
                Phase::Finished => return None,
                Phase::CatchUp { next } => match read_stored(&c.state, &c.subject, next).await {
                    Ok(Some(stored)) => return Some((c.emit(stored), c)),
                    Ok(None) if c.live.is_some() => c.phase = Phase::Live,
                    Ok(None) => {
                        // Finished, yet its events are gone (retention): answer from the row.
                        c.phase = Phase::Finished;
                        let events = from_row(&c.row, c.client_has_text);
                        return Some((stream::iter(events), c));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, message_id = %c.row.id, "replay read failed");
                        if c.live.is_some() {
                            // Going live now could skip events: end, and let the client resume
                            // with Last-Event-ID.
                            return None;
                        }
                        c.phase = Phase::Finished;
                        let events = from_row(&c.row, c.client_has_text);
                        return Some((stream::iter(events), c));
                    }
                },
                Phase::Live => {
                    let delivered = c
                        .live
                        .as_mut()
                        .expect("live phase has a subscription")
                        .events
                        .recv()
                        .await;
                    let Some(d) = delivered else {
                        // Cut off (a stalled client) or shutting down: the client resumes.
                        return None;
                    };
                    if d.stored.seq > c.sent {
                        return Some((c.emit(d.stored), c));
                    }
                }
            }
        }
    })
    .flatten()
    .boxed()
}

impl Cursor {
    fn emit(&mut self, stored: Stored) -> stream::Iter<std::vec::IntoIter<Event>> {
        self.sent = stored.seq;
        self.client_has_text = true;
        self.phase = if stored.is_terminal() {
            Phase::Finished
        } else {
            match self.phase {
                Phase::CatchUp { .. } => Phase::CatchUp {
                    next: stored.seq + 1,
                },
                _ => Phase::Live,
            }
        };
        stream::iter(vec![stored.to_event()])
    }
}

/// The stored answer as events, for answers whose events the stream no longer holds. The
/// `id` is the answer's last sequence, so a reconnect with it gets nothing more.
fn from_row(row: &MessageRow, client_has_text: bool) -> Vec<Event> {
    let id = row.last_seq.unwrap_or(0) as u64;
    let message_id = row.id;
    let mut events = Vec::new();
    if client_has_text {
        events.push(StreamEvent::Reset {
            message_id,
            attempt: row.attempt,
        });
    }
    if !row.content.is_empty() {
        events.push(StreamEvent::Token {
            message_id,
            seq: 0,
            delta: row.content.clone(),
        });
    }
    events.push(match row.status.as_str() {
        "cancelled" => StreamEvent::Cancelled { message_id },
        "error" => StreamEvent::Error {
            message_id,
            code: row.error_code.clone().unwrap_or_else(|| "error".into()),
            message: row.error_message.clone().unwrap_or_default(),
            retryable: false,
        },
        _ => StreamEvent::Done {
            message_id,
            finish_reason: row.finish_reason.clone().unwrap_or_else(|| "stop".into()),
            usage: row.usage().unwrap_or_default(),
        },
    });
    events
        .into_iter()
        .map(|e| {
            let payload = serde_json::to_vec(&e).expect("events serialize").into();
            Stored {
                seq: id,
                kind: e.kind(),
                payload,
            }
            .to_event()
        })
        .collect()
}
