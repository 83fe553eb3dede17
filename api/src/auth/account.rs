//! The account's own end: `DELETE /api/auth/sessions` signs out every device at once, and
//! `DELETE /api/auth/me` deletes the account with everything in it.

use axum::{extract::State, response::Response};
use serde::Deserialize;

use super::{AuthUser, cookies, password::confirm_password, store};
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    messages::store as messages,
    state::AppState,
};

/// Signs every device of this account out, this one too (API keys keep working: they are
/// managed on their own).
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "auth",
    responses(
        (status = 204, description = "Every session ended; this browser's cookies cleared"),
        (status = 403, description = "`session_required`: an API key cannot sign devices out", body = ErrorBody),
    ))]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Response> {
    user.require_session()?;
    let mut tx = state.pool.begin().await?;
    store::revoke_all(&mut tx, user.user_id, None).await?;
    tx.commit().await?;
    Ok(cookies::signed_out(&state.config))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountIn {
    /// Required when the account has a password.
    password: Option<String>,
}

/// Deletes the account and everything in it — conversations, messages, keys, devices, linked
/// sign-ins — at once and for good. Answers under way stop. The last admin cannot leave (the
/// server would have nobody to run it).
#[utoipa::path(delete, path = "/api/auth/me", tag = "auth", request_body = DeleteAccountIn,
    responses(
        (status = 204, description = "Deleted; this browser's cookies cleared"),
        (status = 400, description = "`password_required`, bad JSON", body = ErrorBody),
        (status = 403, description = "`wrong_password`, or `session_required` (an API key)", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<DeleteAccountIn>,
) -> ApiResult<Response> {
    user.require_session()?;
    confirm_password(&state, user.user_id, input.password).await?;
    let mut tx = state.pool.begin().await?;
    let admins = store::lock_enabled_admins(&mut tx).await?;
    if admins == [user.user_id] {
        return Err(ApiError::conflict(
            "last_admin",
            "you are the only admin: make someone else admin first",
        ));
    }
    let unfinished = messages::unfinished_of_user(&mut *tx, user.user_id).await?;
    store::delete_user(&mut tx, user.user_id).await?;
    tx.commit().await?;
    for answer in unfinished {
        crate::messages::stop_deleted(&state, answer).await;
    }
    tracing::info!(user_id = %user.user_id, "account deleted by its owner");
    Ok(cookies::signed_out(&state.config))
}
