//! API keys: `sk-sluice-…`, shown once, stored hashed, named. A key authenticates API calls
//! like an access token (`Authorization: Bearer sk-sluice-…`). Managing keys needs a
//! signed-in session, so a leaked key cannot mint or revive others.

pub mod store;

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuthUser;
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    state::AppState,
};
use crate::{limits, limits::store::Limits, provider_keys};
use store::KeyRow;

/// Listing, creating, changing and removing keys (verification is with the sign-in routes).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, remove))
        .routes(routes!(rotate))
}

/// Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "sk-sluice-";
const MAX_NAME_CHARS: usize = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    /// 1 to 100 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// 1 to 100 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    name: Option<String>,
    enabled: Option<bool>,
}

/// A key with its secret: the answer to create and rotate, and the only time it is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewKeyOut {
    #[serde(flatten)]
    row: KeyRow,
    key: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeysOut {
    items: Vec<KeyRow>,
}

/// The caller's API keys (their secrets are never shown again).
#[utoipa::path(get, path = "/api/keys", tag = "keys",
    responses(
        (status = 200, body = KeysOut),
        (status = 403, description = "`session_required`: keys are managed signed in", body = ErrorBody),
    ))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<KeysOut>> {
    user.require_session()?;
    let items = store::list(&state.pool, user.user_id).await?;
    Ok(Json(KeysOut { items }))
}

/// A new key `{name}`: 201 with its secret, shown this once.
#[utoipa::path(post, path = "/api/keys", tag = "keys", request_body = KeyIn,
    responses(
        (status = 201, body = NewKeyOut),
        (status = 400, description = "`invalid_name`, bad JSON", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<KeyIn>,
) -> ApiResult<(StatusCode, Json<NewKeyOut>)> {
    user.require_session()?;
    let name = check_name(&input.name)?;
    let (row, key) = store::create(&state.pool, user.user_id, name).await?;
    Ok((StatusCode::CREATED, Json(NewKeyOut { row, key })))
}

/// Renames a key, disables it or enables it again: `{name?, enabled?}`.
#[utoipa::path(patch, path = "/api/keys/{id}", tag = "keys",
    params(("id" = Uuid, Path, description = "The key")), request_body = KeyPatch,
    responses(
        (status = 200, body = KeyRow),
        (status = 400, description = "`invalid_name`, bad JSON", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(patch): ApiJson<KeyPatch>,
) -> ApiResult<Json<KeyRow>> {
    user.require_session()?;
    let name = patch.name.as_deref().map(check_name).transpose()?;
    store::update(&state.pool, user.user_id, id, name, patch.enabled)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("API key"))
}

/// A new secret for the same key; the old one stops at once.
#[utoipa::path(post, path = "/api/keys/{id}/rotate", tag = "keys",
    params(("id" = Uuid, Path, description = "The key")),
    responses(
        (status = 200, body = NewKeyOut),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<NewKeyOut>> {
    user.require_session()?;
    let (row, key) = store::rotate(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    Ok(Json(NewKeyOut { row, key }))
}

/// Deletes a key; it stops working at once.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys",
    params(("id" = Uuid, Path, description = "The key")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    if !store::delete(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("API key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    key: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyOut {
    valid: bool,
    /// The key's owner, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    /// Which key it is, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<KeyRow>,
    /// The providers its owner has an enabled key of their own for (`/api/provider-keys`),
    /// when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    providers: Option<Vec<String>>,
    /// The limits a request with this key is held to, when valid: its owner's (`user`) and
    /// the key's own (`key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<VerifiedLimits>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifiedLimits {
    user: Limits,
    key: Limits,
}

/// Whether a key `{key}` would be accepted, and which one it is. Needs no sign-in, so it sits
/// behind the per-address limit of the auth routes.
#[utoipa::path(post, path = "/api/keys/verify", tag = "keys", security(()), request_body = VerifyIn,
    responses(
        (status = 200, body = VerifyOut),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<VerifyIn>,
) -> ApiResult<Json<VerifyOut>> {
    let invalid = VerifyOut {
        valid: false,
        user_id: None,
        key: None,
        providers: None,
        limits: None,
    };
    if !input.key.starts_with(KEY_PREFIX) {
        return Ok(Json(invalid));
    }
    let Some(used) = store::use_key(&state.pool, &input.key).await? else {
        return Ok(Json(invalid));
    };
    let (user, key) =
        limits::store::effective(&state.pool, used.user_id, Some(used.row.id)).await?;
    Ok(Json(VerifyOut {
        valid: true,
        user_id: Some(used.user_id),
        key: Some(used.row),
        providers: Some(provider_keys::store::enabled_providers(&state.pool, used.user_id).await?),
        limits: Some(VerifiedLimits {
            user,
            key: key.unwrap_or_default(),
        }),
    }))
}

fn check_name(name: &str) -> Result<&str, ApiError> {
    crate::validate::name("a key's name", Some(name))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a key's name has 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema_bound;

    #[test]
    fn the_document_states_the_name_bound_the_code_checks() {
        assert_eq!(
            schema_bound::<KeyIn>("name", "maxLength"),
            MAX_NAME_CHARS as u64
        );
        assert_eq!(
            schema_bound::<KeyPatch>("name", "maxLength"),
            MAX_NAME_CHARS as u64
        );
    }
}
