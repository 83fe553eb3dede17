//! Attaching to one answer without scanning the stream (DESIGN §2.5): the row says where its
//! events start. Finished answers replay by Direct Get up to their terminal event; live ones
//! follow an ordered consumer filtered on their one subject, from that sequence. Answers older
//! than the stream's retention are rebuilt from the stored row.

use async_nats::jetstream::{
    consumer::{DeliverPolicy, pull::OrderedConfig},
    stream::DirectGetErrorKind,
};
use axum::response::sse::Event;
use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use sluice_shared::events::{StreamEvent, is_terminal_kind, payload_kind};

use super::event;
use crate::{error::ApiError, messages::store::MessageRow, state::AppState};

/// The events of one answer after `after` (a `Last-Event-ID`), ending with its terminal event.
pub async fn message_events(
    state: AppState,
    row: MessageRow,
    after: Option<u64>,
) -> Result<BoxStream<'static, Event>, ApiError> {
    let first = row.first_seq.unwrap_or(1).max(1) as u64;
    let start = after.map_or(first, |a| first.max(a + 1));
    if row.is_finished() {
        if let (Some(last), Some(after)) = (row.last_seq, after)
            && after >= last as u64
        {
            return Ok(stream::empty().boxed());
        }
        return Ok(replay_finished(state, row, start));
    }
    let subject = subject_of(&state, &row);
    follow(state, subject, start).await
}

fn subject_of(state: &AppState, row: &MessageRow) -> String {
    state.subjects.message(row.conversation_id, row.id)
}

/// Direct Get, one event at a time, stopping at the terminal event (never asking past it).
fn replay_finished(state: AppState, row: MessageRow, start: u64) -> BoxStream<'static, Event> {
    struct Cursor {
        state: AppState,
        row: MessageRow,
        subject: String,
        next: u64,
        sent_any: bool,
        finished: bool,
    }
    let subject = subject_of(&state, &row);
    let cursor = Cursor {
        state,
        row,
        subject,
        next: start,
        sent_any: false,
        finished: false,
    };
    stream::unfold(cursor, |mut c| async move {
        if c.finished {
            return None;
        }
        match c.state.events.direct_get_next_for_subject(c.subject.as_str(), Some(c.next)).await {
            Ok(message) => {
                let kind = payload_kind(&message.payload).unwrap_or("token");
                c.finished = is_terminal_kind(kind);
                c.next = message.sequence + 1;
                c.sent_any = true;
                let events = vec![event(message.sequence, kind, &message.payload)];
                Some((stream::iter(events), c))
            }
            Err(e) => {
                c.finished = true;
                if !matches!(e.kind(), DirectGetErrorKind::NotFound) {
                    tracing::warn!(error = %e, message_id = %c.row.id, "replay failed; answering from the stored row");
                }
                Some((stream::iter(from_row(&c.row, c.sent_any)), c))
            }
        }
    })
    .flatten()
    .boxed()
}

/// The stored answer as events, for answers whose events the stream no longer holds. The
/// `id` is the answer's last sequence, so a reconnect with it gets nothing more.
fn from_row(row: &MessageRow, after_partial_replay: bool) -> Vec<Event> {
    let id = row.last_seq.unwrap_or(0) as u64;
    let message_id = row.id;
    let mut events = Vec::new();
    if after_partial_replay {
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
            event(
                id,
                e.kind(),
                &serde_json::to_vec(&e).expect("events serialize"),
            )
        })
        .collect()
}

/// Replays from `start` and follows live until the terminal event, with an ordered consumer
/// on the answer's one subject. The consumer is deleted at the end instead of lingering.
async fn follow(
    state: AppState,
    subject: String,
    start: u64,
) -> Result<BoxStream<'static, Event>, ApiError> {
    let (name, messages) = open_ordered(&state, subject, start).await?;
    let events = stream::unfold((messages, false), |(mut messages, finished)| async move {
        if finished {
            return None;
        }
        match messages.next().await? {
            Ok(message) => {
                let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
                let kind = payload_kind(&message.payload).unwrap_or("token");
                let terminal = is_terminal_kind(kind);
                Some((event(seq, kind, &message.payload), (messages, terminal)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "live stream broke; the client resumes with Last-Event-ID");
                None
            }
        }
    });
    Ok(with_cleanup(state, name, events).boxed())
}

/// Creates an ordered consumer from `start` on `filter` (one subject, or one conversation's
/// messages), holding an attach permit only while the server creates it.
pub(super) async fn open_ordered(
    state: &AppState,
    filter: String,
    start: u64,
) -> Result<(String, async_nats::jetstream::consumer::pull::Ordered), ApiError> {
    let _permit = state
        .attach_limit
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("shutting down"))?;
    let config = OrderedConfig {
        filter_subject: filter,
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: start,
        },
        ..Default::default()
    };
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "could not attach to the event stream");
        ApiError::unavailable("the event stream (NATS) is unavailable; try again shortly")
    };
    let consumer = state
        .events
        .create_consumer(config)
        .await
        .map_err(|e| unavailable(&e))?;
    let name = consumer.cached_info().name.clone();
    let messages = consumer.messages().await.map_err(|e| unavailable(&e))?;
    Ok((name, messages))
}

/// Deletes the consumer once the event stream is done or dropped (client gone).
pub(super) fn with_cleanup(
    state: AppState,
    consumer: String,
    events: impl futures::Stream<Item = Event> + Send + 'static,
) -> impl futures::Stream<Item = Event> + Send + 'static {
    struct DeleteOnDrop {
        state: AppState,
        consumer: String,
    }
    impl Drop for DeleteOnDrop {
        fn drop(&mut self) {
            let stream = self.state.events.clone();
            let name = std::mem::take(&mut self.consumer);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = stream.delete_consumer(&name).await;
                });
            }
        }
    }
    let guard = DeleteOnDrop { state, consumer };
    events.map(move |e| {
        let _keep = &guard;
        e
    })
}
