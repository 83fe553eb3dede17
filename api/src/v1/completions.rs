//! `POST /v1/chat/completions` and `GET /v1/chat/completions/{id}`.
//!
//! A request is stored as an `api` conversation (its system prompt and earlier turns), then its
//! question goes through the same send path as the app's: one statement stores it with its
//! queued answer and job, the job is offered to a worker, the answer streams through JetStream.
//! The response relays that answer — as `chat.completion.chunk`s, or, without `stream`, as one
//! `chat.completion` once it has ended. A client that disconnects does not cancel the answer
//! (`POST /api/messages/{id}/cancel` does); `x-sluice-message-id` names it.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use futures::{StreamExt, future::ready, stream};
use serde_json::{Value, json};
use sluice_shared::events::{Ending, Usage};

use super::{
    chunks::{self, Chunks},
    error::V1Error,
    request::{self, ChatRequest},
    schema, store,
};
use crate::{
    auth::AuthUser,
    conversations::store as conversations,
    extract::{ApiJson, RequestId},
    messages::{
        enqueue,
        store::{self as messages, MessageRow},
    },
    state::AppState,
    stream::{self as relay, Attach},
};

/// Any error as a response (OpenAI-shaped under `/v1`: see `error.rs`).
fn fail(e: impl IntoResponse) -> Response {
    e.into_response()
}

/// A database error as the API answers one (503 when unreachable, else a bare 500).
fn database(e: sqlx::Error) -> Response {
    fail(crate::error::ApiError::from(e))
}

/// Answers a chat as OpenAI's Chat Completions API does, through Sluice's durable path: with
/// `stream`, `chat.completion.chunk`s then `data: [DONE]`; without, one `chat.completion` once
/// the answer has ended. `x-sluice-message-id` names the stored answer (resume its native
/// stream, cancel it, or fetch it later).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai",
    request_body = schema::ChatCompletionRequest,
    responses(
        (status = 200, description = "The answer",
            headers(("x-sluice-message-id" = String, description = "The stored answer's id")),
            content(
                (schema::ChatCompletion = "application/json"),
                (schema::ChatCompletionChunk = "text/event-stream"),
            )),
        (status = 400, description = "A field this server cannot honour, or a malformed one", body = schema::ErrorResponse),
        (status = 401, description = "`invalid_api_key`", body = schema::ErrorResponse),
        (status = 404, description = "`model_not_found`", body = schema::ErrorResponse),
        (status = 413, description = "`content_too_large`", body = schema::ErrorResponse),
        (status = 429, description = "`rate_limit_exceeded`: the provider's rate limit outlasted the retries (no `stream`)", body = schema::ErrorResponse),
        (status = 502, description = "The provider failed (no `stream`)", body = schema::ErrorResponse),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Response> {
    let request = request::parse(body, &state.config).map_err(fail)?;
    // A question alone goes in with its conversation in one (batched) statement; earlier
    // turns are stored first, by a statement of their own.
    let (target, made) = if request.history.is_empty() {
        let new = enqueue::NewConversation {
            title: store::title(&request),
            system_prompt: Some(request.system.clone()),
            origin: conversations::Origin::Api,
        };
        (enqueue::Target::New(new), None)
    } else {
        let id = store::create_conversation(&state.pool, user.user_id, &request)
            .await
            .map_err(database)?;
        (enqueue::Target::Existing(id), Some(id))
    };
    let sent = enqueue::enqueue(
        &state,
        (&user).into(),
        target,
        &request.question,
        &[],
        &request.model,
        request_id,
        request.options.clone(),
    )
    .await;
    let answer = match sent {
        Ok((_, answer)) => answer,
        Err(e) => {
            // Nothing is left half stored: the conversation goes with the failed send.
            if let Some(id) = made {
                let _ = conversations::delete(&state.pool, user.user_id, id).await;
            }
            return Err(fail(e));
        }
    };
    let mut response = if request.stream {
        stream_answer(&state, answer.clone(), &request).await?
    } else {
        wait_for_answer(&state, answer.clone(), &request.model).await?
    };
    if let Ok(id) = HeaderValue::from_str(&answer.id.to_string()) {
        response.headers_mut().insert("x-sluice-message-id", id);
    }
    Ok(response)
}

/// The answer's events as chunks, from the role chunk to `[DONE]`.
async fn stream_answer(
    state: &AppState,
    answer: MessageRow,
    request: &ChatRequest,
) -> Result<Response, Response> {
    let chunks = Chunks::new(
        answer.id,
        answer.created_at.timestamp(),
        request.model.clone(),
        request.include_usage,
    );
    let opening = chunks.opening();
    let events = match relay::message_events(state.clone(), answer, None)
        .await
        .map_err(fail)?
    {
        Attach::Events(events) => events,
        Attach::Ended => stream::empty().boxed(),
    };
    let chunks = events
        .scan(chunks, |chunks, relayed| {
            ready((!chunks.ended).then(|| stream::iter(chunks.translate(&relayed))))
        })
        .flatten();
    Ok(relay::openai_sse(
        state,
        stream::once(ready(opening)).chain(chunks),
    ))
}

/// Waits for the answer to end, then answers it whole.
async fn wait_for_answer(
    state: &AppState,
    answer: MessageRow,
    model: &str,
) -> Result<Response, Response> {
    let id = answer.id;
    if let Attach::Events(mut events) = relay::message_events(state.clone(), answer, None)
        .await
        .map_err(fail)?
    {
        while let Some(relayed) = events.next().await {
            if relayed.is_terminal() {
                break;
            }
        }
    }
    let row = messages::reload(&state.pool, id)
        .await
        .map_err(database)?
        .ok_or_else(|| {
            fail(V1Error::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "the answer was deleted",
            ))
        })?;
    completion(&row, model)
        .map(|c| Json(c).into_response())
        .map_err(fail)
}

/// A stored answer, as OpenAI returns a stored completion.
#[utoipa::path(get, path = "/v1/chat/completions/{id}", tag = "openai",
    params(("id" = String, Path, description = "`chatcmpl-…`")),
    responses(
        (status = 200, body = schema::ChatCompletion),
        (status = 404, description = "`not_found`", body = schema::ErrorResponse),
        (status = 409, description = "`not_finished` or `cancelled`", body = schema::ErrorResponse),
        (status = 429, description = "`rate_limit_exceeded`: the answer failed on the provider's rate limit", body = schema::ErrorResponse),
        (status = 502, description = "The answer failed: the provider's error code", body = schema::ErrorResponse),
    ))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, Response> {
    let not_found = || {
        fail(V1Error::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no chat completion with id {id:?}"),
        ))
    };
    let answer = chunks::answer_id(&id).ok_or_else(not_found)?;
    let row = messages::find(&state.pool, user.user_id, answer)
        .await
        .map_err(database)?
        .filter(|row| row.role == "assistant")
        .ok_or_else(not_found)?;
    let model = row.model.clone().unwrap_or_default();
    completion(&row, &model).map(Json).map_err(fail)
}

/// A finished answer as `chat.completion`; one that failed, was cancelled or is not over yet
/// as the error saying so.
fn completion(row: &MessageRow, model: &str) -> Result<Value, V1Error> {
    match row.ending() {
        Some(Ending::Done { .. }) => {}
        None => {
            return Err(V1Error::new(
                StatusCode::CONFLICT,
                "not_finished",
                format!(
                    "the answer is still being generated; stream it at /api/messages/{}/stream",
                    row.id
                ),
            ));
        }
        Some(Ending::Cancelled) => {
            return Err(V1Error::new(
                StatusCode::CONFLICT,
                "cancelled",
                "the answer was cancelled",
            ));
        }
        Some(Ending::Error { code, message, .. }) => {
            // The provider's rate limit outlasted the worker's retries: the client may retry
            // later, as after OpenAI's own 429 (its SDKs raise `RateLimitError`).
            if code == "rate_limited" {
                return Err(V1Error::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    message,
                ));
            }
            return Err(V1Error::new(StatusCode::BAD_GATEWAY, &code, message));
        }
    }
    let used = Usage {
        input_tokens: row.input_tokens.unwrap_or(0).max(0) as u32,
        output_tokens: row.output_tokens.unwrap_or(0).max(0) as u32,
    };
    Ok(json!({
        "id": chunks::completion_id(row.id),
        "object": "chat.completion",
        "created": row.created_at.timestamp(),
        "model": model,
        "system_fingerprint": null,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": row.content, "refusal": null },
            "logprobs": null,
            "finish_reason": chunks::finish_reason(row.finish_reason.as_deref().unwrap_or("stop")),
        }],
        "usage": chunks::usage(used),
    }))
}
