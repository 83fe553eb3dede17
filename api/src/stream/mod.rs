//! The SSE relay: JetStream events out as Server-Sent Events (`id` = stream sequence,
//! `event` = type, `data` = the JSON as published), and the account feed (`account.rs`).

pub mod account;
mod attempts;
mod conversation;
pub mod hub;
mod message;
pub mod terminal;
pub mod tokens;

use async_nats::jetstream::stream::{DirectGetError, DirectGetErrorKind};
use std::time::Duration;

use axum::response::IntoResponse;
use axum::{
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sluice_shared::events::{StreamEvent, attempt_of_msg_id, is_terminal_kind, payload_kind};

pub use conversation::conversation_stream;
pub use message::{Attach, message_events};
pub use tokens::{Scope, StreamReader};

/// The conversation's stream and stream tokens (an answer's stream is with the messages).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(conversation::conversation_events))
        .routes(routes!(account::account_events))
        .routes(routes!(tokens::create))
}

/// An answer's relayed events as Server-Sent Events.
pub fn as_sse(
    events: impl Stream<Item = Relayed> + Send + 'static,
) -> impl Stream<Item = Event> + Send + 'static {
    events.map(|relayed| relayed.to_sse())
}

use crate::{error::ApiError, state::AppState};

/// How soon a browser's `EventSource` reconnects after a dropped stream (it defaults to ~3 s).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The SSE response of Sluice's own streams: a `retry:` hint first (so a browser reconnects
/// within a second), keep-alive comments while idle, and a clean end on shutdown.
pub fn sse(
    state: &AppState,
    events: impl Stream<Item = Event> + Send + 'static,
) -> axum::response::Response {
    let retry = Event::default().retry(RECONNECT_AFTER);
    openai_sse(state, futures::stream::once(async { retry }).chain(events))
}

/// The SSE response of `/v1`, as OpenAI sends one — and the base of every SSE response:
/// keep-alive comments while idle (which every SSE parser skips), a clean end on shutdown, and
/// nothing but the events given. No `retry:`, `id:` or `event:` field of its own: OpenAI's
/// Python SDK turns a lone field into an event with empty `data` and fails to parse it as JSON.
pub fn openai_sse(
    state: &AppState,
    events: impl Stream<Item = Event> + Send + 'static,
) -> axum::response::Response {
    let open = state.metrics.stream_opened();
    let stream = events
        // The stream holds the guard: it is counted open until the response is dropped.
        .inspect(move |_| {
            let _ = &open;
        })
        .map(Ok::<_, std::convert::Infallible>)
        .take_until(state.shutdown.clone().cancelled_owned());
    let keep_alive = KeepAlive::new()
        .interval(state.config.keepalive())
        .text("keep-alive");
    let mut response = Sse::new(stream).keep_alive(keep_alive).into_response();
    // Proxies such as nginx buffer responses unless told not to; tokens must flow at once.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

/// `Last-Event-ID` as a stream sequence. A number too large for one is past every end; anything
/// else is a client bug worth a 400.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(text.parse::<u64>().unwrap_or(u64::MAX)));
    }
    Err(ApiError::bad_request(
        "invalid_last_event_id",
        "Last-Event-ID must be an event id this API sent",
    ))
}

/// One event as the stream stores it: sequence, type and the JSON payload.
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: u64,
    pub kind: &'static str,
    /// The attempt that published it (from its `Nats-Msg-Id`); 0 when unknown.
    pub attempt: i32,
    pub payload: Bytes,
}

impl Stored {
    /// Reads the type and the attempt once, so each client relaying the event need not.
    pub fn new(seq: u64, payload: Bytes, headers: Option<&async_nats::HeaderMap>) -> Self {
        let kind = payload_kind(&payload).unwrap_or("token");
        let attempt = headers
            .and_then(|h| h.get("Nats-Msg-Id"))
            .and_then(|id| attempt_of_msg_id(id.as_str()))
            .unwrap_or(0);
        Self {
            seq,
            kind,
            attempt,
            payload,
        }
    }

    pub fn is_terminal(&self) -> bool {
        is_terminal_kind(self.kind)
    }

    /// The JSON as published (`null` for a payload that is not JSON, never published by a
    /// worker of this version).
    pub fn data(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or_default()
    }

    /// The SSE event: `id` = sequence, `event` = type, `data` = the JSON as published.
    pub fn to_event(&self) -> Event {
        Event::default()
            .id(self.seq.to_string())
            .event(self.kind)
            .data(String::from_utf8_lossy(&self.payload))
    }
}

/// One event of an answer as relayed to a client: as the stream stored it, or rebuilt from the
/// stored row (answers older than the stream's retention).
#[derive(Debug, Clone)]
pub enum Relayed {
    Stored(Stored),
    /// Only the terminal one of a rebuild carries an id (its end sequence).
    Rebuilt {
        event: StreamEvent,
        id: Option<u64>,
    },
}

impl Relayed {
    /// As Server-Sent Event: the stored JSON unchanged, `id` = sequence.
    pub fn to_sse(&self) -> Event {
        match self {
            Self::Stored(stored) => stored.to_event(),
            Self::Rebuilt { event, id } => {
                let sse = Event::default()
                    .event(event.kind())
                    .data(serde_json::to_string(event).expect("events serialize"));
                match id {
                    Some(id) => sse.id(id.to_string()),
                    None => sse,
                }
            }
        }
    }

    /// The `id:` a client resumes from (`None` for a rebuilt event that has none).
    pub fn id(&self) -> Option<u64> {
        match self {
            Self::Stored(stored) => Some(stored.seq),
            Self::Rebuilt { id, .. } => *id,
        }
    }

    /// The event as JSON (what an SSE event's `data` holds).
    pub fn data(&self) -> serde_json::Value {
        match self {
            Self::Stored(stored) => stored.data(),
            Self::Rebuilt { event, .. } => serde_json::to_value(event).expect("events serialize"),
        }
    }

    /// The event's type: `token`, `done`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stored(stored) => stored.kind,
            Self::Rebuilt { event, .. } => event.kind(),
        }
    }

    pub fn is_terminal(&self) -> bool {
        match self {
            Self::Stored(stored) => stored.is_terminal(),
            Self::Rebuilt { event, .. } => is_terminal_kind(event.kind()),
        }
    }

    /// The event itself, for relays that translate it (`/v1`). `None` for a stored payload
    /// that does not parse (never published by a worker of this version).
    pub fn event(&self) -> Option<StreamEvent> {
        match self {
            Self::Stored(stored) => serde_json::from_slice(&stored.payload).ok(),
            Self::Rebuilt { event, .. } => Some(event.clone()),
        }
    }
}

/// The first stored event on `subject` at or after `seq` (Direct Get, no consumer);
/// `Ok(None)` when there is none (yet). Asked again if the NATS connection is made again
/// meanwhile (a read sent on a lost connection is never answered).
async fn read_stored(
    state: &AppState,
    subject: &str,
    seq: u64,
) -> Result<Option<Stored>, DirectGetError> {
    let read = sluice_shared::nats::asked_again_on_reconnect(&state.nats_reconnected, || {
        state.events.direct_get_next_for_subject(subject, Some(seq))
    })
    .await;
    match read {
        Ok(m) => Ok(Some(Stored::new(m.sequence, m.payload, Some(&m.headers)))),
        Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
