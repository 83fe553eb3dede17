//! `/api/conversations`: create, list (cursor pages), get, change, delete, and list messages.

pub mod store;

pub use sluice_shared::title::title_from;

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use sluice_shared::dto::{ConversationIn, ConversationOut, ConversationPatch, MessageOut, Page};

use crate::{
    auth::AuthUser,
    cursor::{self, PageQuery},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    messages::store as messages,
    state::AppState,
    stream::account::{self, AccountEvent},
    validate,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(list_messages, crate::messages::send))
}

/// `owner`'s conversation `id`, or 404: another user's is not found, as one that never was.
pub async fn find_owned(
    pool: &sqlx::PgPool,
    owner: uuid::Uuid,
    id: uuid::Uuid,
) -> ApiResult<store::ConversationRow> {
    store::find(pool, owner, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))
}

const MAX_TITLE_CHARS: usize = 200;

/// Starts a conversation (the model defaults to the server's default model).
#[utoipa::path(post, path = "/api/conversations", tag = "conversations",
    request_body = ConversationIn,
    responses(
        (status = 201, body = ConversationOut),
        (status = 400, description = "`title_too_long`, `invalid_name`, `system_prompt_too_long`, bad JSON", body = ErrorBody),
        (status = 422, description = "`unknown_model`", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<ConversationIn>,
) -> ApiResult<(StatusCode, Json<ConversationOut>)> {
    let model = input
        .model
        .unwrap_or_else(|| state.config.default_model.clone());
    if state.config.model(&model).is_none() {
        return Err(ApiError::unknown_model(&model));
    }
    check_title(input.title.as_deref())?;
    check_system_prompt(input.system_prompt.as_deref())?;
    let row = store::insert(
        &state.pool,
        user.user_id,
        input.title.as_deref(),
        &model,
        input.system_prompt.as_deref(),
    )
    .await?;
    let conversation: ConversationOut = row.into();
    let event = AccountEvent::ConversationCreated {
        conversation: conversation.clone(),
    };
    account::publish(&state, user.user_id, event).await;
    Ok((StatusCode::CREATED, Json(conversation)))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FilterQuery {
    /// `app` (the default) or `api`: the conversations `/v1/chat/completions` made.
    #[param(inline)]
    origin: Option<store::Origin>,
    /// Only those in this folder (its id), or `none`: only those in no folder.
    #[param(
        pattern = "^(none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
    )]
    group: Option<String>,
    /// Only the starred ones (`true`) or only the others (`false`).
    favorite: Option<bool>,
}

impl FilterQuery {
    fn filter(&self) -> ApiResult<store::Filter> {
        let group = match self.group.as_deref() {
            None => None,
            Some("none") => Some(None),
            Some(id) => Some(Some(id.parse().map_err(|_| {
                ApiError::bad_request("invalid_request", "group is a folder's id or `none`")
            })?)),
        };
        Ok(store::Filter {
            group,
            favorite: self.favorite,
        })
    }
}

/// The caller's conversations, newest first; `group` and `favorite` narrow the list.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations",
    params(PageQuery, FilterQuery),
    responses(
        (status = 200, body = Page<ConversationOut>),
        (status = 400, description = "`invalid_cursor`, `invalid_limit`", body = ErrorBody),
    ))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<PageQuery>,
    Query(filter): Query<FilterQuery>,
) -> ApiResult<Json<Page<ConversationOut>>> {
    let limit = q.limit()?;
    let origin = filter.origin.unwrap_or(store::Origin::App);
    let (filter, after) = (filter.filter()?, q.after()?);
    let rows = store::page(&state.pool, user.user_id, origin, filter, after, limit).await?;
    let next_cursor = cursor::next(&rows, limit, |r| (r.created_at, r.id));
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One conversation.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses(
        (status = 200, body = ConversationOut),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    ))]
async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<ConversationOut>> {
    let row = find_owned(&state.pool, user.user_id, id).await?;
    Ok(Json(row.into()))
}

/// Changes the fields sent: `{title?, model?, system_prompt?, group_id?, favorite?}`.
#[utoipa::path(patch, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    request_body = ConversationPatch,
    responses(
        (status = 200, body = ConversationOut),
        (status = 400, description = "`title_too_long`, `invalid_name`, `system_prompt_too_long`, bad JSON", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
        (status = 422, description = "`unknown_model`, `unknown_folder`", body = ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(patch): ApiJson<ConversationPatch>,
) -> ApiResult<Json<ConversationOut>> {
    check_title(patch.title.as_deref())?;
    check_system_prompt(patch.system_prompt.as_deref())?;
    if let Some(model) = patch.model.as_deref()
        && state.config.model(model).is_none()
    {
        return Err(ApiError::unknown_model(model));
    }
    let row = match store::update(&state.pool, user.user_id, id, &patch).await? {
        store::Updated::Conversation(row) => row,
        store::Updated::NoConversation => return Err(ApiError::not_found("conversation")),
        // A folder id that is not the caller's names nothing here (as an unknown model).
        store::Updated::NoGroup => {
            return Err(ApiError::unfit(
                "unknown_folder",
                "group_id names none of your folders",
            ));
        }
    };
    let conversation: ConversationOut = row.into();
    let event = AccountEvent::ConversationUpdated {
        conversation: conversation.clone(),
    };
    account::publish(&state, user.user_id, event).await;
    Ok(Json(conversation))
}

fn check_title(title: Option<&str>) -> ApiResult<()> {
    validate::name("title", title)?;
    if title.is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
        return Err(ApiError::bad_request(
            "title_too_long",
            format!("title is limited to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_system_prompt(prompt: Option<&str>) -> ApiResult<()> {
    validate::max_chars("system_prompt", prompt, validate::MAX_SYSTEM_PROMPT_CHARS)
}

/// Deletes a conversation and its messages; answers it had under way stop (their streams end
/// with `cancelled`), and every open tab hears `conversation_deleted` on `GET /api/events`.
#[utoipa::path(delete, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let unfinished = store::delete(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    for answer in unfinished {
        crate::messages::stop_deleted(&state, answer).await;
    }
    // Its questions' files went with them: their objects are queued for deletion.
    state.file_cleanup.notify_one();
    let event = AccountEvent::ConversationDeleted {
        conversation_id: id,
    };
    account::publish(&state, user.user_id, event).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct OrderQuery {
    /// `oldest` (the default) or `newest`.
    #[param(pattern = "^(oldest|newest)$")]
    order: Option<String>,
}

/// A conversation's messages, oldest first, so a client can render the transcript page by
/// page; `?order=newest` pages backwards from the latest message (a chat view shows the end
/// first, older on scroll up).
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), PageQuery, OrderQuery),
    responses(
        (status = 200, body = Page<MessageOut>),
        (status = 400, description = "`invalid_order`, `invalid_cursor`, `invalid_limit`", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    ))]
async fn list_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    Query(q): Query<PageQuery>,
    Query(order): Query<OrderQuery>,
) -> ApiResult<Json<Page<MessageOut>>> {
    let limit = q.limit()?;
    let newest_first = match order.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_order",
                "order is `oldest` (the default) or `newest`",
            ));
        }
    };
    find_owned(&state.pool, user.user_id, id).await?;
    let after = q.after()?;
    let rows = messages::page(&state.pool, user.user_id, id, after, limit, newest_first).await?;
    let next_cursor = cursor::next(&rows, limit, |r| (r.created_at, r.id));
    Ok(Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use sluice_shared::dto::{ConversationIn, ConversationPatch};

    use super::MAX_TITLE_CHARS;
    use crate::{openapi::schema_bound, validate::MAX_SYSTEM_PROMPT_CHARS};

    #[test]
    fn the_document_states_the_bounds_the_code_checks() {
        for (field, bound) in [
            ("title", MAX_TITLE_CHARS),
            ("system_prompt", MAX_SYSTEM_PROMPT_CHARS),
        ] {
            assert_eq!(
                schema_bound::<ConversationIn>(field, "maxLength"),
                bound as u64
            );
            assert_eq!(
                schema_bound::<ConversationPatch>(field, "maxLength"),
                bound as u64
            );
        }
    }
}
