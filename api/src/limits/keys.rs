//! An API key's own limits, set by its owner (a key for a script gets a small budget of its
//! own): they apply on top of the owner's.

use axum::{Json, extract::State};
use serde::Serialize;

use super::{
    check,
    store::{self, Limits, Subject, Used},
};
use crate::{
    auth::{AuthUser, keys},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    state::AppState,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyLimitsOut {
    pub limits: Limits,
    pub used: Used,
}

/// The key's own limits and what it has used.
#[utoipa::path(get, path = "/api/keys/{id}/limits", tag = "keys",
    params(("id" = Uuid, Path, description = "The key")),
    responses(
        (status = 200, body = KeyLimitsOut),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    ))]
pub async fn key_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<KeyLimitsOut>> {
    user.require_session()?;
    if !keys::store::is_owned(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("API key"));
    }
    let limits = store::get(&state.pool, Subject::Key(id)).await?;
    let used = store::used(&state.pool, id).await?;
    Ok(Json(KeyLimitsOut { limits, used }))
}

/// Replaces the key's own limits (nulls: none beyond its owner's).
#[utoipa::path(put, path = "/api/keys/{id}/limits", tag = "keys",
    params(("id" = Uuid, Path, description = "The key")), request_body = Limits,
    responses(
        (status = 200, body = KeyLimitsOut),
        (status = 400, description = "`invalid_limit`, bad JSON", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    ))]
pub async fn set_key_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(limits): ApiJson<Limits>,
) -> ApiResult<Json<KeyLimitsOut>> {
    user.require_session()?;
    check(&limits)?;
    if !keys::store::is_owned(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("API key"));
    }
    if !store::set(&state.pool, Subject::Key(id), &limits).await? {
        return Err(ApiError::not_found("API key"));
    }
    key_limits(State(state), user, Id(id)).await
}
