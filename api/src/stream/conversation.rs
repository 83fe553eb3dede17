//! `GET /api/conversations/{id}/events`: every answer of a conversation as it is generated, so
//! a second tab sees the same tokens. One ordered consumer on the conversation's subjects,
//! starting at the oldest in-flight answer (a recent sequence: cheap), never from an old one.

use axum::{
    Router,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, sse::Event},
    routing::get,
};
use futures::{StreamExt, stream};
use sluice_shared::events::payload_kind;

use super::{
    event, last_event_id,
    message::{open_ordered, with_cleanup},
    sse,
};
use crate::{
    auth::AuthUser,
    conversations::store as conversations,
    error::{ApiError, ApiResult},
    extract::Id,
    messages::store as messages,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/conversations/{id}/events", get(conversation_events))
}

async fn conversation_events(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let after = last_event_id(&headers)?;
    conversations::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    // The stream position first, the rows second: an answer enqueued in between is above it.
    let next = state
        .events_last_seq()
        .await
        .map_err(|_| ApiError::unavailable("the event stream (NATS) is unavailable"))?
        + 1;
    let oldest_in_flight = messages::in_flight(&state.pool, id)
        .await?
        .iter()
        .filter_map(|m| m.first_seq)
        .min();
    let mut start = oldest_in_flight.map_or(next, |s| (s as u64).min(next));
    if let Some(after) = after {
        // Resuming: what the client already has is skipped. Answers that finished while it was
        // away are read with GET /api/conversations/{id}/messages.
        start = start.max(after + 1);
    }
    let (name, messages) = open_ordered(&state, state.subjects.conversation(id), start).await?;
    let events = stream::unfold(messages, |mut messages| async move {
        match messages.next().await? {
            Ok(m) => {
                let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                let kind = payload_kind(&m.payload).unwrap_or("token");
                Some((event(seq, kind, &m.payload), messages))
            }
            Err(e) => {
                tracing::warn!(error = %e, "conversation stream broke; the client reconnects");
                None
            }
        }
    });
    let events: futures::stream::BoxStream<'static, Event> =
        with_cleanup(state.clone(), name, events).boxed();
    Ok(sse(&state, events))
}
