//! Bring your own key: a user's own OpenAI, Anthropic or Gemini key, used for their answers
//! before the server's (the worker opens it: `worker/src/chat_job/own_keys.rs`). Stored sealed
//! (`sluice_shared::envelope`) under the master key in `[secrets]`; no response, log line or
//! error ever holds more of it than its last 4 characters. Managed signed in, like API keys:
//! a leaked API key cannot swap the keys its user's answers are billed to.

pub mod store;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sluice_shared::provider_keys::{self, PROVIDERS};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    state::AppState,
};
use store::{NewKey, ProviderKeyRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, put))
        .routes(routes!(update, remove))
}

/// Longest key accepted: real ones are 40 to 200 characters.
const MAX_KEY_CHARS: usize = 512;
const MIN_KEY_CHARS: usize = 8;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyIn {
    /// `openai`, `anthropic` or `gemini`.
    #[schema(pattern = "^(openai|anthropic|gemini)$")]
    provider: String,
    /// The provider's key: 8 to 512 visible ASCII characters. Never shown again.
    #[schema(value_type = String, min_length = 8, max_length = 512, pattern = "^[!-~]+$")]
    api_key: SecretString,
    /// When the provider refuses this key, answer with the server's own key instead of
    /// failing (default false; kept when a key is replaced).
    allow_server_fallback: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyPatch {
    enabled: Option<bool>,
    allow_server_fallback: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderKeysOut {
    items: Vec<ProviderKeyRow>,
}

/// The caller's provider keys (only their last 4 characters).
#[utoipa::path(get, path = "/api/provider-keys", tag = "provider-keys",
    responses(
        (status = 200, body = ProviderKeysOut),
        (status = 403, description = "`session_required`: provider keys are managed signed in", body = ErrorBody),
    ))]
async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<ProviderKeysOut>> {
    user.require_session()?;
    let items = store::list(&state.pool, user.user_id).await?;
    Ok(Json(ProviderKeysOut { items }))
}

/// Adds the caller's key for a provider, or replaces the one they had (enabled again):
/// 201 when new, 200 when replaced.
#[utoipa::path(post, path = "/api/provider-keys", tag = "provider-keys", request_body = ProviderKeyIn,
    responses(
        (status = 201, body = ProviderKeyRow, description = "Added"),
        (status = 200, body = ProviderKeyRow, description = "Replaced"),
        (status = 400, description = "`invalid_api_key`, bad JSON", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 422, description = "`unknown_provider`", body = ErrorBody),
        (status = 503, description = "`byok_not_configured`: the server has no master key", body = ErrorBody),
    ))]
async fn put(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<ProviderKeyIn>,
) -> ApiResult<(StatusCode, Json<ProviderKeyRow>)> {
    user.require_session()?;
    let provider = known_provider(&input.provider)?;
    let key = input.api_key.expose_secret();
    check_key(key)?;
    let master_keys = state.master_keys.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "byok_not_configured",
            "this server cannot store provider keys: its operator has set no secrets.master_key",
        )
    })?;
    let context = provider_keys::sealing_context(user.user_id, provider);
    let new = NewKey {
        provider,
        sealed: master_keys.seal(key.as_bytes(), &context),
        last4: provider_keys::last4(key),
        allow_server_fallback: input.allow_server_fallback,
    };
    let (row, created) = store::put(&state.pool, user.user_id, new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(row)))
}

/// Disables or enables the caller's key for a provider, or changes whether the server's key
/// may stand in when it is refused.
#[utoipa::path(patch, path = "/api/provider-keys/{provider}", tag = "provider-keys",
    params(("provider" = String, Path, description = "`openai`, `anthropic` or `gemini`")),
    request_body = ProviderKeyPatch,
    responses(
        (status = 200, body = ProviderKeyRow),
        (status = 400, description = "Bad JSON", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No key of the caller's for that provider", body = ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(provider): Path<String>,
    ApiJson(patch): ApiJson<ProviderKeyPatch>,
) -> ApiResult<Json<ProviderKeyRow>> {
    user.require_session()?;
    let provider = provider_or_not_found(&provider)?;
    store::update(
        &state.pool,
        user.user_id,
        provider,
        patch.enabled,
        patch.allow_server_fallback,
    )
    .await?
    .map(Json)
    .ok_or_else(|| ApiError::not_found("provider key"))
}

/// Removes the caller's key for a provider; their answers use the server's key again.
#[utoipa::path(delete, path = "/api/provider-keys/{provider}", tag = "provider-keys",
    params(("provider" = String, Path, description = "`openai`, `anthropic` or `gemini`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No key of the caller's for that provider", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(provider): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    let provider = provider_or_not_found(&provider)?;
    if !store::delete(&state.pool, user.user_id, provider).await? {
        return Err(ApiError::not_found("provider key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The provider's stored name, or 422 listing the ones there are.
fn known_provider(name: &str) -> ApiResult<&'static str> {
    PROVIDERS.into_iter().find(|p| *p == name).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_provider",
            format!("provider must be one of {}", PROVIDERS.join(", ")),
        )
    })
}

/// In a path, a provider that takes no key has no key: 404.
fn provider_or_not_found(name: &str) -> ApiResult<&'static str> {
    known_provider(name).map_err(|_| ApiError::not_found("provider key"))
}

/// The key's shape, checked without echoing it.
fn check_key(key: &str) -> ApiResult<()> {
    let visible_ascii = key.bytes().all(|b| b.is_ascii_graphic());
    if !visible_ascii || !(MIN_KEY_CHARS..=MAX_KEY_CHARS).contains(&key.len()) {
        return Err(ApiError::bad_request(
            "invalid_api_key",
            format!(
                "api_key must be {MIN_KEY_CHARS} to {MAX_KEY_CHARS} visible ASCII characters, \
                 with no spaces (as the provider gave it)"
            ),
        ));
    }
    Ok(())
}
