//! `GET /api/conversations/{id}/events`: every answer of a conversation as it is generated, so
//! a second tab sees the same tokens. Subscribes to the live feed first, then catches up on the
//! answers already under way (Direct Get from each one's start, or after `Last-Event-ID`), then
//! relays live events, skipping per answer what the catch-up already sent, and tokens of
//! superseded attempts (`attempts.rs`).

use axum::{extract::State, http::HeaderMap, response::IntoResponse};
use futures::stream::{self, Stream, StreamExt};
use uuid::Uuid;

use super::{
    Stored,
    attempts::{self, Attempts},
    hub::Topic,
    last_event_id, read_stored, sse,
    tokens::{Scope, StreamReader, until_expiry},
};
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::Id,
    messages::store as messages,
    state::AppState,
};
use sluice_shared::events::StreamEvent;

/// Every answer of a conversation as it is generated (a second tab sees the same tokens):
/// answers under way are caught up first, then live events follow. It does not end.
#[utoipa::path(get, path = "/api/conversations/{id}/events", tag = "streams",
    params(
        ("id" = Uuid, Path, description = "The conversation"),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, pattern = r"^[0-9]*$", description = "The `id` of the last event seen (empty: none, as if not sent)"),
        ("token" = Option<String>, Query, description = "A stream token for this conversation, instead of a credential"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = StreamEvent,
            description = "Server-Sent Events of every answer: `id` the stream sequence, \
                `event` the type, `data` the event as JSON"),
        (status = 400, description = "`invalid_last_event_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no credential, or an invalid or expired stream token", body = ErrorBody),
        (status = 403, description = "`wrong_stream`: the stream token reads another stream", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    ))]
pub async fn conversation_events(
    State(state): State<AppState>,
    reader: StreamReader,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    reader.may_read(Scope::Conversation(id))?;
    let after = last_event_id(&headers)?;
    let events = conversation_stream(&state, reader.user_id, id, after).await?;
    let events = until_expiry(&reader, events);
    Ok(sse(&state, events.map(|stored| stored.to_event())))
}

/// Every event of `owner`'s conversation's answers after `after` (a `Last-Event-ID`): those
/// under way caught up first, then live ones, ids increasing throughout; 404 if it is not
/// theirs. Ends only if the live feed cuts the reader off (too slow) or the server shuts down.
pub async fn conversation_stream(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    after: Option<u64>,
) -> Result<impl Stream<Item = Stored> + Send + 'static, ApiError> {
    crate::conversations::find_owned(&state.pool, owner, id).await?;
    let mut live = state.hub.subscribe(Topic::Conversation(id));
    // Every event at or below the hub's high-water mark was dispatched before this point, so
    // the catch-up reads exactly those and the live feed brings exactly the later ones, in
    // stream order: ids increase over the whole response.
    let watermark = state.hub.next_seq_lower_bound() - 1;
    let mut attempts = Attempts::default();
    let backlog = catch_up(state, id, after, watermark, &mut attempts).await?;
    let sent = watermark.max(after.unwrap_or(0));
    let live_events = stream::poll_fn(move |cx| live.events.poll_recv(cx)).filter_map(move |d| {
        let relay = d.stored.seq > sent && !attempts.is_stale(d.message_id, &d.stored);
        std::future::ready(relay.then_some(d.stored))
    });
    Ok(stream::iter(backlog).chain(live_events))
}

/// Events up to `watermark` of answers under way (or whose end the client has not seen), in
/// stream order, after the client's `Last-Event-ID`, without superseded attempts' tokens.
async fn catch_up(
    state: &AppState,
    conversation_id: Uuid,
    after: Option<u64>,
    watermark: u64,
    attempts: &mut Attempts,
) -> Result<Vec<Stored>, ApiError> {
    let mut found = Vec::new();
    let has = |seq: u64| after.is_some_and(|a| seq <= a);
    for answer in messages::in_flight(&state.pool, conversation_id, after).await? {
        let mut next = attempts::read_from(answer.replay_start(), after, answer.attempt > 1);
        let subject = state.subjects.message(conversation_id, answer.id);
        while next <= watermark {
            match read_stored(state, &subject, next).await {
                Ok(Some(stored)) if stored.seq <= watermark => {
                    next = stored.seq + 1;
                    let end = stored.is_terminal();
                    if has(stored.seq) {
                        // The client has it: read only to learn its attempt.
                        attempts.note(answer.id, &stored);
                    } else if !attempts.is_stale(answer.id, &stored) {
                        found.push(stored);
                    }
                    if end {
                        break;
                    }
                }
                Ok(_) => break,
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
    Ok(found)
}
