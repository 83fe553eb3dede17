//! `GET /api/events`: what happens to the caller's conversations — started, changed, deleted —
//! live, in every tab and on every device they have open, so a sidebar stays current and a tab
//! showing a conversation deleted elsewhere says so at once. Carried by core NATS
//! (`{prefix}.account.{user}`), so every API process delivers what any of them published.
//! Nothing is replayed: a client reloads what it shows whenever the feed (re)opens. The feed
//! ends when its credential does (expired, revoked, signed out everywhere, account deleted),
//! so a lost device stops hearing of the account.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, sse::Event},
};
use futures::StreamExt;
pub use sluice_shared::account_events::AccountEvent;
use uuid::Uuid;

use super::sse;
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
    ws::caller::Caller,
};

/// The caller's account feed: `conversation_created`, `conversation_updated` and
/// `conversation_deleted` events as they happen. Not replayed: reload what you show whenever
/// the stream (re)opens. It does not end.
#[utoipa::path(get, path = "/api/events", tag = "streams",
    responses(
        (status = 200, content_type = "text/event-stream", body = AccountEvent,
            description = "Server-Sent Events: `event` the type, `data` the event as JSON"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_stream`: a stream token", body = ErrorBody),
        (status = 503, description = "`dependency_down`: NATS is unavailable", body = ErrorBody),
    ))]
pub async fn account_events(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    if caller.scope.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_stream",
            "a stream token reads its one stream, not the account's feed",
        ));
    }
    let subscriber = state
        .nats
        .subscribe(state.subjects.account(caller.user_id))
        .await
        .map_err(|_| {
            ApiError::unavailable("the event feed (NATS) is unavailable; try again shortly")
        })?;
    let events = subscriber.filter_map(|message| {
        let event = serde_json::from_slice::<AccountEvent>(&message.payload).ok();
        std::future::ready(event.map(|e| Event::default().event(e.kind()).json_data(&e)))
    });
    let events = events.filter_map(|e| std::future::ready(e.ok()));
    let watched = state.clone();
    let events = events.take_until(async move { caller.until_invalid(&watched).await });
    Ok(sse(&state, events))
}

/// Tells every open tab and device of `owner`'s. Best effort: the change is already stored, and
/// a client that misses this reloads when its feed reopens.
pub async fn publish(state: &AppState, owner: Uuid, event: AccountEvent) {
    let Ok(payload) = serde_json::to_vec(&event) else {
        return;
    };
    let subject = state.subjects.account(owner);
    if let Err(e) = state.nats.publish(subject, payload.into()).await {
        tracing::warn!(error = %e, "account event not published");
    }
}
