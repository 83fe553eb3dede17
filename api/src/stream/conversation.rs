//! `GET /api/conversations/{id}/events`: every answer of a conversation as it is generated, so
//! a second tab sees the same tokens. Subscribes to the live feed first, then catches up on the
//! answers already under way (Direct Get from each one's start, or after `Last-Event-ID`), then
//! relays live events, skipping per answer what the catch-up already sent.

use std::collections::HashMap;

use axum::{
    Router,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, sse::Event},
    routing::get,
};
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::{Stored, hub::Topic, last_event_id, read_stored, sse};
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
    let mut live = state.hub.subscribe(Topic::Conversation(id));
    let (backlog, mut sent) = catch_up(&state, id, after).await?;
    let live_events = stream::poll_fn(move |cx| live.events.poll_recv(cx)).filter_map(move |d| {
        // Already sent by the catch-up (or before the client's Last-Event-ID)?
        let fresh = d.stored.seq > *sent.get(&d.message_id).unwrap_or(&0);
        if fresh {
            sent.insert(d.message_id, d.stored.seq);
        }
        std::future::ready(fresh.then(|| d.stored.to_event()))
    });
    Ok(sse(&state, stream::iter(backlog).chain(live_events)))
}

/// Events already published for answers under way (or just finished), in stream order, and
/// the last sequence sent per answer.
async fn catch_up(
    state: &AppState,
    conversation_id: Uuid,
    after: Option<u64>,
) -> Result<(Vec<Event>, HashMap<Uuid, u64>), ApiError> {
    let mut found = Vec::new();
    let mut sent = HashMap::new();
    for answer in messages::in_flight(&state.pool, conversation_id).await? {
        let first = answer.first_seq.unwrap_or(1).max(1) as u64;
        let mut next = after.map_or(first, |a| first.max(a + 1));
        sent.insert(answer.id, next - 1);
        let subject = state.subjects.message(conversation_id, answer.id);
        loop {
            match read_stored(state, &subject, next).await {
                Ok(Some(stored)) => {
                    sent.insert(answer.id, stored.seq);
                    next = stored.seq + 1;
                    let end = stored.is_terminal();
                    found.push(stored);
                    if end {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "catch-up read failed");
                    return Err(ApiError::unavailable(
                        "the event stream (NATS) is unavailable; try again shortly",
                    ));
                }
            }
        }
    }
    found.sort_by_key(|stored| stored.seq);
    Ok((found.iter().map(Stored::to_event).collect(), sent))
}
