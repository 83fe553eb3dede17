//! The SSE relay: JetStream events out as Server-Sent Events (`id` = stream sequence,
//! `event` = type, `data` = the JSON as published).

mod conversation;
pub mod hub;
mod message;

use axum::response::IntoResponse;
use axum::{
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};

pub use conversation::router;
pub use message::message_events;

use crate::{error::ApiError, state::AppState};

/// The SSE response: keep-alive comments while idle, and a clean end on shutdown.
pub fn sse(
    state: &AppState,
    events: impl Stream<Item = Event> + Send + 'static,
) -> axum::response::Response {
    let stream = events
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

/// `Last-Event-ID` as a stream sequence. Anything else is a client bug worth a 400.
pub fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_last_event_id",
            "Last-Event-ID must be an event id this API sent",
        )
    })
}

/// One SSE event from a stored payload.
fn event(seq: u64, kind: &str, payload: &[u8]) -> Event {
    Event::default()
        .id(seq.to_string())
        .event(kind)
        .data(String::from_utf8_lossy(payload))
}
