//! API keys: `sk-sluice-…`, shown once, stored hashed, named. A key authenticates API calls
//! like an access token (`Authorization: Bearer sk-sluice-…`). Managing keys needs a
//! signed-in session, so a leaked key cannot mint or revive others.

pub mod store;

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AuthUser;
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, Id},
    state::AppState,
};
use store::KeyRow;

/// Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "sk-sluice-";
const MAX_NAME_CHARS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    name: Option<String>,
    enabled: Option<bool>,
}

/// A key with its secret: the answer to create and rotate, and the only time it is shown.
#[derive(Serialize)]
pub struct NewKeyOut {
    #[serde(flatten)]
    row: KeyRow,
    key: String,
}

/// `GET /api/keys`.
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_session()?;
    let items = store::list(&state.pool, user.user_id).await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/keys` `{name}` → 201 with the key, once.
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

/// `PATCH /api/keys/{id}` `{name?, enabled?}`: rename, disable or enable again.
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

/// `POST /api/keys/{id}/rotate`: a new secret for the same key; the old one stops at once.
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

/// `DELETE /api/keys/{id}`.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    key: String,
}

/// `POST /api/keys/verify` `{key}`: whether a key would be accepted, and which one it is.
/// Needs no sign-in, so it sits behind the per-IP limit of the auth routes.
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<VerifyIn>,
) -> ApiResult<Json<Value>> {
    if !input.key.starts_with(KEY_PREFIX) {
        return Ok(Json(json!({ "valid": false })));
    }
    let Some(used) = store::use_key(&state.pool, &input.key).await? else {
        return Ok(Json(json!({ "valid": false })));
    };
    Ok(Json(
        json!({ "valid": true, "user_id": used.user_id, "key": used.row }),
    ))
}

fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a key's name has 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}
