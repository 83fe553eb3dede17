//! `POST /api/chat {message, conversation_id?, model?}`: send and stream in one request. The
//! first event is `meta` (ids to resume with); then the answer's events as on its own stream.

use axum::{
    extract::State,
    response::{IntoResponse, sse::Event},
};
use futures::{StreamExt, stream};
use sluice_shared::{dto::ChatIn, events::StreamEvent};

use super::{enqueue, store::MessageRow};
use crate::{
    auth::AuthUser,
    conversations::store as conversations,
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, RequestId},
    limits::Spender,
    state::AppState,
    stream::{self as relay, account::AccountEvent},
};

/// Sends a message (to a new conversation unless `conversation_id` is given) and streams the
/// answer in the same response: first a `meta` event with the ids to resume with on
/// `GET /api/messages/{id}/stream`, then the answer's events.
#[utoipa::path(post, path = "/api/chat", tag = "messages", request_body = ChatIn,
    responses(
        (status = 200, content_type = "text/event-stream", body = StreamEvent,
            description = "Server-Sent Events: `meta`, then the answer's events"),
        (status = 400, description = "`empty_content`, bad JSON", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 413, description = "`content_too_large`", body = ErrorBody),
        (status = 422, description = "`unknown_model`; attachments: `unknown_file`, `too_many_files`, `model_cannot_see`, `image_too_large`", body = ErrorBody),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    user: AuthUser,
    RequestId(request_id): RequestId,
    ApiJson(input): ApiJson<ChatIn>,
) -> ApiResult<impl IntoResponse> {
    let (user_message, answer) = start_chat(&state, (&user).into(), input, request_id).await?;
    let meta = StreamEvent::Meta {
        conversation_id: answer.conversation_id,
        user_message_id: user_message.id,
        message_id: answer.id,
    };
    let meta = Event::default()
        .event("meta")
        .data(serde_json::to_string(&meta)?);
    // A new answer has no end yet, so it always has events.
    let answer_events = match relay::message_events(state.clone(), answer, None).await? {
        relay::Attach::Events(events) => relay::as_sse(events).boxed(),
        relay::Attach::Ended => stream::empty().boxed(),
    };
    let events = stream::once(async { meta }).chain(answer_events);
    Ok(relay::sse(&state, events))
}

/// Checks and sends a chat message (to a new conversation, titled by it, unless
/// `conversation_id` is given): the stored question and its queued answer. Also the WebSocket's
/// `send`.
pub async fn start_chat(
    state: &AppState,
    spender: Spender,
    input: ChatIn,
    request_id: Option<String>,
) -> ApiResult<(MessageRow, MessageRow)> {
    let user_id = spender.user_id;
    enqueue::validate_content(state, &input.message)?;
    let title = crate::conversations::title_from(&input.message);
    let (target, default_model) = match input.conversation_id {
        Some(id) => {
            let conversation = crate::conversations::find_owned(&state.pool, user_id, id).await?;
            (enqueue::Target::Existing(id), conversation.model)
        }
        None => (
            enqueue::Target::New(enqueue::NewConversation {
                title,
                system_prompt: None,
                origin: conversations::Origin::App,
            }),
            state.config.default_model.clone(),
        ),
    };
    let model = input.model.unwrap_or(default_model);
    enqueue::validate_model(state, &model)?;
    let new = input.conversation_id.is_none();
    let (question, answer) = enqueue::enqueue(
        state,
        spender,
        target,
        &input.message,
        &input.attachments,
        &model,
        request_id,
        Default::default(),
    )
    .await?;
    if new {
        let row = crate::conversations::find_owned(&state.pool, user_id, answer.conversation_id);
        let event = AccountEvent::ConversationCreated {
            conversation: row.await?.into(),
        };
        relay::account::publish(state, user_id, event).await;
    }
    Ok((question, answer))
}
