//! Attaching to one answer without scanning the stream (docs/design.md §6). The row says where the
//! answer's events start; Direct Get reads them from there (or from `Last-Event-ID` + 1) up to
//! the end, then the process-wide live feed (`hub.rs`) takes over. The subscription is made
//! before the first read, and events are de-duplicated by sequence, so nothing falls between
//! the two. Answers older than the stream's retention are rebuilt from the stored row.
//!
//! The contract clients rely on (README, "Streams"): ids strictly increase over everything one
//! client receives for an answer, across any number of reconnects, and a reconnect at or past
//! the terminal event gets no events at all (`Attach::Ended`, answered `204`).

use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use sluice_shared::{events::StreamEvent, message_status::MessageStatus};

use super::{
    Relayed, Stored,
    attempts::{self, Attempts},
    hub::{Subscription, Topic},
    read_stored, terminal,
};
use crate::{
    error::ApiError,
    messages::store::{self as messages, MessageRow},
    state::AppState,
};

/// How long a live answer may stay silent before its row is read again: a worker that died
/// between storing the answer and publishing its end leaves only the row to say it is over.
const RECHECK: Duration = Duration::from_secs(5);

/// What a client attaching to an answer gets.
pub enum Attach {
    /// Events after its `Last-Event-ID`, ending with the terminal event.
    Events(BoxStream<'static, Relayed>),
    /// It already has the terminal event: nothing more will ever come.
    Ended,
}

/// The events of one answer after `after` (a `Last-Event-ID`), ending with its terminal event.
pub async fn message_events(
    state: AppState,
    row: MessageRow,
    after: Option<u64>,
) -> Result<Attach, ApiError> {
    // An answer not started yet is seen from its enqueue: its first token and end are timed.
    let fresh = after.is_none() && row.status == MessageStatus::Queued;
    let enqueued = row.created_at;
    let observe = |events| {
        state
            .metrics
            .observe_answer(events, fresh, enqueued)
            .boxed()
    };
    let first = row.replay_start();
    let start = attempts::read_from(first, after, row.attempt > 1);
    // The client may hold text when it saw more than the answer's first event.
    let client_has_text = after.is_some_and(|a| a > first);
    if let Some(ending) = row.ending() {
        let end = terminal::settle(&state, &row, &ending).await?;
        if after.is_some_and(|a| a >= end.seq) {
            return Ok(Attach::Ended);
        }
        if end.expired {
            return Ok(Attach::Events(observe(
                stream::iter(from_row(&row, end.seq, client_has_text)).boxed(),
            )));
        }
        let row = MessageRow {
            last_seq: Some(end.seq as i64),
            ..row
        };
        return Ok(Attach::Events(observe(answer_events(
            state.clone(),
            row,
            Resume { start, after },
            None,
            client_has_text,
        ))));
    }
    // Live answers subscribe before reading anything.
    let live = state.hub.subscribe(Topic::Message(row.id));
    Ok(Attach::Events(observe(answer_events(
        state.clone(),
        row,
        Resume { start, after },
        Some(live),
        client_has_text,
    ))))
}

/// Where a response starts reading (`attempts::read_from`), and the client's `Last-Event-ID`:
/// events up to it are read only to learn the client's attempt.
struct Resume {
    start: u64,
    after: Option<u64>,
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
    /// Sequence of the last event sent (or the client's `Last-Event-ID`): every later event
    /// has a higher id.
    sent: u64,
    /// The client holds text of this answer (a `reset` would have something to clear).
    client_has_text: bool,
    /// Tokens of superseded attempts are dropped.
    attempts: Attempts,
}

fn answer_events(
    state: AppState,
    row: MessageRow,
    resume: Resume,
    live: Option<Subscription>,
    client_has_text: bool,
) -> BoxStream<'static, Relayed> {
    let subject = state.subjects.message(row.conversation_id, row.id);
    let cursor = Cursor {
        attempts: Attempts::default(),
        state,
        row,
        subject,
        live,
        phase: Phase::CatchUp { next: resume.start },
        sent: resume.after.unwrap_or(0).max(resume.start - 1),
        client_has_text,
    };
    stream::unfold(cursor, |mut c| async move {
        loop {
            match c.phase {
                Phase::Finished => return None,
                Phase::CatchUp { next } => match read_stored(&c.state, &c.subject, next).await {
                    Ok(Some(stored)) if stored.seq <= c.sent => {
                        // The client has it: read only to learn its attempt. Past its end,
                        // there is nothing more to send.
                        c.attempts.note(c.row.id, &stored);
                        c.phase = match stored.is_terminal() {
                            true => Phase::Finished,
                            false => Phase::CatchUp {
                                next: stored.seq + 1,
                            },
                        };
                    }
                    Ok(Some(stored)) => return Some((c.emit(stored), c)),
                    Ok(None) if c.live.is_some() => c.phase = Phase::Live,
                    Ok(None) => {
                        // Finished, yet its events are gone (retention): answer from the row.
                        c.phase = Phase::Finished;
                        let end = c.row.last_seq.map_or(c.sent, |s| s as u64).max(c.sent);
                        let events = from_row(&c.row, end, c.client_has_text);
                        return Some((stream::iter(events), c));
                    }
                    Err(e) => {
                        // Going on could skip events: end, and let the client resume with
                        // Last-Event-ID.
                        tracing::warn!(error = %e, message_id = %c.row.id, "replay read failed");
                        return None;
                    }
                },
                Phase::Live => {
                    let live = c.live.as_mut().expect("live phase has a subscription");
                    let delivered = match tokio::time::timeout(RECHECK, live.events.recv()).await {
                        Ok(delivered) => delivered,
                        Err(_) => {
                            c.recheck_row().await;
                            continue;
                        }
                    };
                    let Some(d) = delivered else {
                        // Cut off (a stalled client) or shutting down: the client resumes.
                        return None;
                    };
                    if d.stored.seq > c.sent {
                        return Some((c.emit(d.stored), c));
                    }
                    if d.stored.is_terminal() {
                        // The client's Last-Event-ID was past this end: nothing more to send.
                        return None;
                    }
                }
            }
        }
    })
    .flatten()
    .boxed()
}

impl Cursor {
    fn emit(&mut self, stored: Stored) -> stream::Iter<std::vec::IntoIter<Relayed>> {
        self.sent = stored.seq;
        let stale = self.attempts.is_stale(self.row.id, &stored);
        match stored.kind {
            "token" if !stale => self.client_has_text = true,
            "reset" => self.client_has_text = false,
            _ => {}
        }
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
        if stale {
            return stream::iter(Vec::new());
        }
        stream::iter(vec![Relayed::Stored(stored)])
    }

    /// A silent live answer: if its row is finished, make sure its end is on the stream and
    /// read up to it; if the row is gone, end.
    async fn recheck_row(&mut self) {
        let row = match messages::reload(&self.state.pool, self.row.id).await {
            Ok(Some(row)) => row,
            // Deleted with its conversation: it will never end. End the response; the
            // client's reconnect gets 404.
            Ok(None) => {
                self.phase = Phase::Finished;
                return;
            }
            Err(_) => return,
        };
        let Some(ending) = row.ending() else {
            return;
        };
        match terminal::settle(&self.state, &row, &ending).await {
            Ok(end) => {
                self.row = MessageRow {
                    last_seq: Some(end.seq as i64),
                    ..row
                };
                self.live = None;
                self.phase = Phase::CatchUp {
                    next: self.sent + 1,
                };
            }
            Err(e) => tracing::warn!(?e, "settling a silent answer's end failed"),
        }
    }
}

/// The stored answer as events, for answers whose events the stream no longer holds. Only the
/// last event carries an id (`end`, the answer's terminal sequence): a client cut off before
/// it reconnects with its earlier id and gets the whole rebuild again, `reset` first.
fn from_row(row: &MessageRow, end: u64, client_has_text: bool) -> Vec<Relayed> {
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
    // Without an `id:`, a client keeps its last id.
    let mut events: Vec<Relayed> = events
        .into_iter()
        .map(|event| Relayed::Rebuilt { event, id: None })
        .collect();
    // Rebuilt only for finished rows, which always have an ending.
    if let Some(ending) = row.ending() {
        events.push(Relayed::Rebuilt {
            event: ending.event(message_id),
            id: Some(end),
        });
    }
    events
}
