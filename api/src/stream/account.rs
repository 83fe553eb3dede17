//! `GET /api/events`: what happens to the caller's conversations — started, changed, deleted —
//! live, in every tab and on every device they have open, so a sidebar stays current and a tab
//! showing a conversation deleted elsewhere says so at once. Carried by core NATS
//! (`{prefix}.account.{user}`), so every API process delivers what any of them published.
//! Nothing is replayed: a client reloads what it shows whenever the feed (re)opens.

use axum::{
    extract::State,
    response::{IntoResponse, sse::Event},
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sluice_shared::dto::ConversationOut;
use uuid::Uuid;

use super::sse;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    openapi::ErrorBody,
    state::AppState,
};

/// One change to a user's conversations: the SSE `event` is its `type`, `data` this JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountEvent {
    /// A conversation was started (by the web app, the CLI, `POST /api/chat`…).
    ConversationCreated { conversation: ConversationOut },
    /// Its title, model or system prompt changed.
    ConversationUpdated { conversation: ConversationOut },
    /// It is gone, with its messages; its unfinished answers were stopped.
    ConversationDeleted { conversation_id: Uuid },
}

impl AccountEvent {
    fn kind(&self) -> &'static str {
        match self {
            Self::ConversationCreated { .. } => "conversation_created",
            Self::ConversationUpdated { .. } => "conversation_updated",
            Self::ConversationDeleted { .. } => "conversation_deleted",
        }
    }
}

/// The caller's account feed: `conversation_created`, `conversation_updated` and
/// `conversation_deleted` events as they happen. Not replayed: reload what you show whenever
/// the stream (re)opens. It does not end.
#[utoipa::path(get, path = "/api/events", tag = "streams",
    responses(
        (status = 200, content_type = "text/event-stream", body = AccountEvent,
            description = "Server-Sent Events: `event` the type, `data` the event as JSON"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`dependency_down`: NATS is unavailable", body = ErrorBody),
    ))]
pub async fn account_events(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<impl IntoResponse> {
    let subscriber = state
        .nats
        .subscribe(state.subjects.account(user.user_id))
        .await
        .map_err(|_| {
            ApiError::unavailable("the event feed (NATS) is unavailable; try again shortly")
        })?;
    let events = subscriber.filter_map(|message| {
        let event = serde_json::from_slice::<AccountEvent>(&message.payload).ok();
        std::future::ready(event.map(|e| Event::default().event(e.kind()).json_data(&e)))
    });
    Ok(sse(
        &state,
        events.filter_map(|e| std::future::ready(e.ok())),
    ))
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
