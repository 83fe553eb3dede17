//! `/api/groups`: the caller's folders. A conversation is in at most one of them (`PATCH
//! /api/conversations/{id}` with `group_id`); deleting a folder ungroups its conversations.
//! Every open tab hears each change on `GET /api/events` (`group_created`, `group_updated`,
//! `group_deleted`).

pub mod store;

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use sluice_shared::dto::GroupOut;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    state::AppState,
    stream::account::{self, AccountEvent},
    validate,
};
use store::Saved;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(rename, remove))
}

/// Longest folder name, in characters.
const MAX_NAME_CHARS: usize = 100;
/// Most folders one user may have: a sidebar, not a filing system.
pub const MAX_GROUPS: i64 = 500;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupIn {
    /// 1 to 100 characters, unique among the caller's folders (case aside); no control
    /// characters, invisible spaces or marks that reorder text.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupsOut {
    items: Vec<GroupOut>,
}

/// The caller's folders, by name, with how many conversations each holds.
#[utoipa::path(get, path = "/api/groups", tag = "conversations",
    responses((status = 200, body = GroupsOut)))]
async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<GroupsOut>> {
    let items = store::list(&state.pool, user.user_id).await?;
    Ok(Json(GroupsOut { items }))
}

/// Makes a folder.
#[utoipa::path(post, path = "/api/groups", tag = "conversations", request_body = GroupIn,
    responses(
        (status = 201, body = GroupOut),
        (status = 400, description = "`invalid_name`, `name_too_long`, bad JSON", body = ErrorBody),
        (status = 409, description = "`group_exists`: a folder of that name", body = ErrorBody),
        (status = 422, description = "`too_many_groups`: 500 folders already", body = ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<GroupIn>,
) -> ApiResult<(StatusCode, Json<GroupOut>)> {
    let name = checked_name(&input.name)?;
    let saved = store::insert(&state.pool, user.user_id, name, MAX_GROUPS)
        .await?
        .ok_or_else(|| {
            ApiError::unfit(
                "too_many_groups",
                format!("you have {MAX_GROUPS} folders, the most there may be: delete one first"),
            )
        })?;
    let group = group_or_error(saved)?;
    let event = AccountEvent::GroupCreated {
        group: group.clone(),
    };
    account::publish(&state, user.user_id, event).await;
    Ok((StatusCode::CREATED, Json(group)))
}

/// Renames a folder.
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The folder")),
    request_body = GroupIn,
    responses(
        (status = 200, body = GroupOut),
        (status = 400, description = "`invalid_name`, `name_too_long`, bad JSON", body = ErrorBody),
        (status = 404, description = "No such folder of the caller's", body = ErrorBody),
        (status = 409, description = "`group_exists`: another folder of that name", body = ErrorBody),
    ))]
async fn rename(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(input): ApiJson<GroupIn>,
) -> ApiResult<Json<GroupOut>> {
    let name = checked_name(&input.name)?;
    let group = group_or_error(store::rename(&state.pool, user.user_id, id, name).await?)?;
    let event = AccountEvent::GroupUpdated {
        group: group.clone(),
    };
    account::publish(&state, user.user_id, event).await;
    Ok(Json(group))
}

/// Deletes a folder; the conversations in it stay, out of any folder.
#[utoipa::path(delete, path = "/api/groups/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The folder")),
    responses(
        (status = 204, description = "Deleted; its conversations are ungrouped"),
        (status = 404, description = "No such folder of the caller's", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    if !store::delete(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("folder"));
    }
    let event = AccountEvent::GroupDeleted { group_id: id };
    account::publish(&state, user.user_id, event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The name trimmed, or why it cannot be one.
fn checked_name(name: &str) -> ApiResult<&str> {
    validate::name("name", Some(name))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_name",
            "name must not be blank",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "name_too_long",
            format!("name is limited to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

fn group_or_error(saved: Saved) -> ApiResult<GroupOut> {
    match saved {
        Saved::Group(group) => Ok(group),
        Saved::NameTaken => Err(ApiError::conflict(
            "group_exists",
            "you have a folder of that name already",
        )),
        Saved::NotFound => Err(ApiError::not_found("folder")),
    }
}
