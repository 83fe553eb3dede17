//! Messages: send one (queued for a worker), read one, stream one, cancel one, and
//! `POST /api/chat`, which sends and streams in a single request.

mod chat;
pub mod enqueue;
mod regenerate;
pub mod store;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use sluice_shared::{
    dto::{MessageIn, MessageOut, SentOut},
    events::StreamEvent,
};

use crate::{
    auth::AuthUser,
    conversations::store as conversations,
    error::{ApiError, ApiResult},
    extract::{ApiJson, Id, RequestId},
    state::AppState,
    stream,
};
use store::CancelOutcome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat", post(chat::chat))
        .route("/api/messages/{id}", get(show))
        .route("/api/messages/{id}/stream", get(stream_answer))
        .route("/api/messages/{id}/cancel", post(cancel))
        .route(
            "/api/messages/{id}/regenerate",
            post(regenerate::regenerate),
        )
}

/// `POST /api/conversations/{id}/messages` → `202` with both messages and where to stream.
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    Id(conversation_id): Id,
    RequestId(request_id): RequestId,
    ApiJson(input): ApiJson<MessageIn>,
) -> ApiResult<(StatusCode, Json<SentOut>)> {
    enqueue::validate_content(&state, &input.content)?;
    let conversation = conversations::find(&state.pool, user.user_id, conversation_id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let model = input.model.unwrap_or(conversation.model);
    enqueue::validate_model(&state, &model)?;
    let (user_message, answer) = enqueue::enqueue(
        &state,
        user.user_id,
        enqueue::Target::Existing(conversation_id),
        &input.content,
        &model,
        request_id,
        Default::default(),
    )
    .await?;
    let stream_url = format!("/api/messages/{}/stream", answer.id);
    let out = SentOut {
        user_message: user_message.into(),
        assistant_message: answer.into(),
        stream_url,
    };
    Ok((StatusCode::ACCEPTED, Json(out)))
}

async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<MessageOut>> {
    let row = store::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    Ok(Json(row.into()))
}

/// `GET /api/messages/{id}/stream`: replay from the start (or after `Last-Event-ID`), then live,
/// ending after the terminal event; `204` when `Last-Event-ID` is already at or past it.
async fn stream_answer(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    let after = stream::last_event_id(&headers)?;
    let row = store::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if row.role != "assistant" {
        return Err(ApiError::bad_request(
            "not_an_answer",
            "only assistant messages have a stream",
        ));
    }
    match stream::message_events(state.clone(), row, after).await? {
        stream::Attach::Events(events) => Ok(stream::sse(&state, stream::as_sse(events))),
        // 204 is what tells an `EventSource` to stop reconnecting.
        stream::Attach::Ended => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `POST /api/messages/{id}/cancel` → `202` once the stop is requested (the stream then ends
/// with `cancelled`); `409` when the answer had already finished.
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let outcome = store::request_cancel(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    match outcome {
        CancelOutcome::AlreadyFinished { status } => Err(ApiError::conflict(
            "already_finished",
            format!("the answer already ended ({status})"),
        )),
        CancelOutcome::Requested => {
            state
                .nats
                .publish(state.subjects.control(id), "cancel".into())
                .await?;
            Ok(StatusCode::ACCEPTED)
        }
        CancelOutcome::CancelledWhileQueued {
            conversation_id,
            attempt,
        } => {
            // No worker has it, so the API ends the stream for the clients that wait on it.
            let event = StreamEvent::Cancelled { message_id: id };
            let seq =
                stream::terminal::publish(&state, conversation_id, id, attempt, &event).await?;
            store::set_last_seq(&state.pool, id, seq).await?;
            Ok(StatusCode::ACCEPTED)
        }
    }
}
