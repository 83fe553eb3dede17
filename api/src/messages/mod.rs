//! Messages: send one (queued for a worker), read one, stream one, cancel one, regenerate an
//! answer, edit a question, and `POST /api/chat`, which sends and streams in a single request.

mod chat;
mod edit;
pub mod enqueue;
mod regenerate;
pub mod store;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use sluice_shared::{
    dto::{ChatIn, MessageIn, MessageOut, SentOut},
    events::{Ending, StreamEvent},
};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id, RequestId},
    state::AppState,
    stream,
};
use store::{CancelOutcome, MessageRow};
use uuid::Uuid;

pub use chat::start_chat;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat::chat))
        .routes(routes!(send_new_or_existing))
        .routes(routes!(show))
        .routes(routes!(stream_answer))
        .routes(routes!(cancel))
        .routes(routes!(regenerate::regenerate))
        .routes(routes!(edit::edit))
}

/// Sends a message: `202` with it, its queued answer, and where to stream the answer.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path, description = "The conversation")),
    request_body = MessageIn,
    responses(
        (status = 202, body = SentOut),
        (status = 400, description = "`empty_content`, bad JSON", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 413, description = "`content_too_large`", body = ErrorBody),
        (status = 422, description = "`unknown_model`; attachments: `unknown_file`, `too_many_files`, `model_cannot_see`, `image_too_large`", body = ErrorBody),
        (status = 503, description = "`dependency_down`: nothing was stored", body = ErrorBody),
    ))]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    Id(conversation_id): Id,
    RequestId(request_id): RequestId,
    ApiJson(input): ApiJson<MessageIn>,
) -> ApiResult<(StatusCode, Json<SentOut>)> {
    enqueue::validate_content(&state, &input.content)?;
    let conversation =
        crate::conversations::find_owned(&state.pool, user.user_id, conversation_id).await?;
    let model = input.model.unwrap_or(conversation.model);
    enqueue::validate_model(&state, &model)?;
    let (user_message, answer) = enqueue::enqueue(
        &state,
        (&user).into(),
        enqueue::Target::Existing(conversation_id),
        &input.content,
        &input.attachments,
        &model,
        request_id,
        Default::default(),
    )
    .await?;
    Ok(sent(user_message, answer))
}

/// Sends a message to a new conversation (titled by it), or to `conversation_id`: `202` as
/// `POST /api/conversations/{id}/messages`. A refused message creates nothing, so a client
/// starting a conversation needs no clean-up (the JSON twin of `POST /api/chat`).
#[utoipa::path(post, path = "/api/messages", tag = "messages",
    request_body = ChatIn,
    responses(
        (status = 202, body = SentOut),
        (status = 400, description = "`empty_content`, bad JSON", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 413, description = "`content_too_large`", body = ErrorBody),
        (status = 422, description = "`unknown_model`; attachments: `unknown_file`, `too_many_files`, `model_cannot_see`, `image_too_large`", body = ErrorBody),
        (status = 503, description = "`dependency_down`: nothing was stored", body = ErrorBody),
    ))]
async fn send_new_or_existing(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    ApiJson(input): ApiJson<ChatIn>,
) -> ApiResult<(StatusCode, Json<SentOut>)> {
    let (user_message, answer) = start_chat(&state, (&user).into(), input, request_id).await?;
    Ok(sent(user_message, answer))
}

/// `202` with the question, its queued answer and where to stream it.
fn sent(user_message: MessageRow, answer: MessageRow) -> (StatusCode, Json<SentOut>) {
    let stream_url = format!("/api/messages/{}/stream", answer.id);
    let out = SentOut {
        user_message: user_message.into(),
        assistant_message: answer.into(),
        stream_url,
    };
    (StatusCode::ACCEPTED, Json(out))
}

/// `refusal` of a request on message `id`, or 404 when the message is gone by now: its
/// conversation was deleted while the request ran, and a missing message is not found,
/// whenever it went.
async fn refused(state: &AppState, owner: Uuid, id: Uuid, refusal: ApiError) -> ApiError {
    match store::find(&state.pool, owner, id).await {
        Ok(Some(_)) => refusal,
        Ok(None) => ApiError::not_found("message"),
        Err(e) => e.into(),
    }
}

/// One message (a question, or an answer with its status, usage and cost).
#[utoipa::path(get, path = "/api/messages/{id}", tag = "messages",
    params(("id" = Uuid, Path, description = "The message")),
    responses(
        (status = 200, body = MessageOut),
        (status = 404, description = "No such message of the caller's", body = ErrorBody),
    ))]
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

/// An answer's events: replayed from the start (or after `Last-Event-ID`), then live, ending
/// after the terminal event (`done`, `error` or `cancelled`); `204` when `Last-Event-ID` is
/// already at or past it.
#[utoipa::path(get, path = "/api/messages/{id}/stream", tag = "streams",
    params(
        ("id" = Uuid, Path, description = "The answer (an assistant message)"),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, pattern = r"^[0-9]*$", description = "The `id` of the last event seen (empty: none, as if not sent)"),
        ("token" = Option<String>, Query, description = "A stream token for this answer, instead of a credential"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = StreamEvent,
            description = "Server-Sent Events: `id` the stream sequence, `event` the type, \
                `data` the event as JSON"),
        (status = 204, description = "The answer ended at or before `Last-Event-ID`"),
        (status = 400, description = "`invalid_last_event_id`", body = ErrorBody),
        (status = 422, description = "`not_an_answer`: a question has no stream", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no credential, or an invalid or expired stream token", body = ErrorBody),
        (status = 403, description = "`wrong_stream`: the stream token reads another stream", body = ErrorBody),
        (status = 404, description = "No such message of the caller's", body = ErrorBody),
    ))]
async fn stream_answer(
    State(state): State<AppState>,
    reader: stream::StreamReader,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    reader.may_read(stream::Scope::Message(id))?;
    let after = stream::last_event_id(&headers)?;
    let row = find_answer(&state.pool, reader.user_id, id).await?;
    match stream::message_events(state.clone(), row, after).await? {
        stream::Attach::Events(events) => {
            let events = stream::tokens::until_expiry(&reader, stream::as_sse(events));
            Ok(stream::sse(&state, events))
        }
        // 204 is what tells an `EventSource` to stop reconnecting.
        stream::Attach::Ended => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `owner`'s answer `id`: 404 if it is not theirs, 422 `not_an_answer` for a question (only
/// answers have a stream).
pub async fn find_answer(
    pool: &sqlx::PgPool,
    owner: Uuid,
    id: Uuid,
) -> ApiResult<store::MessageRow> {
    let row = store::find(pool, owner, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if row.role != "assistant" {
        return Err(ApiError::wrong_kind(
            "not_an_answer",
            "only assistant messages have a stream",
        ));
    }
    Ok(row)
}

/// Stops an answer: `202` once the stop is requested (its stream then ends with `cancelled`);
/// `409` when the answer had already finished.
#[utoipa::path(post, path = "/api/messages/{id}/cancel", tag = "messages",
    params(("id" = Uuid, Path, description = "The answer")),
    responses(
        (status = 202, description = "Stopping"),
        (status = 404, description = "No such message of the caller's", body = ErrorBody),
        (status = 409, description = "`already_finished`", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    cancel_answer(&state, user.user_id, id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Stops an answer whose conversation was just deleted: the worker writing it is told to stop
/// (it would spend tokens for nobody), and the answer's streams end with `cancelled` at once.
/// The terminal event is de-duplicated by its `Nats-Msg-Id`: a worker's own adds nothing.
pub async fn stop_deleted(state: &AppState, answer: store::Unfinished) {
    // Sent to queued answers too: a worker may have claimed one since the row was read.
    let control = state.subjects.control(answer.id);
    if let Err(e) = state.nats.publish(control, "cancel".into()).await {
        tracing::warn!(error = %e, message_id = %answer.id, "cancel not sent");
    }
    let event = Ending::Cancelled.event(answer.id);
    let (conversation, attempt) = (answer.conversation_id, answer.attempt);
    let ended = stream::terminal::publish(state, conversation, answer.id, attempt, &event).await;
    if let Err(e) = ended {
        tracing::warn!(error = ?e, message_id = %answer.id, "a deleted conversation's answer not ended");
    }
}

/// Asks the answer `id` of `owner`'s to stop (also the WebSocket's `cancel`): its stream then
/// ends with `cancelled`. 404 if it is not theirs, 409 `already_finished` if it ended.
pub async fn cancel_answer(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<()> {
    let outcome = store::request_cancel(&state.pool, owner, id)
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
            Ok(())
        }
        CancelOutcome::CancelledWhileQueued {
            conversation_id,
            attempt,
        } => {
            // No worker has it, so the API ends the stream for the clients that wait on it.
            let event = Ending::Cancelled.event(id);
            let seq =
                stream::terminal::publish(state, conversation_id, id, attempt, &event).await?;
            store::set_last_seq(&state.pool, id, seq).await?;
            Ok(())
        }
    }
}
