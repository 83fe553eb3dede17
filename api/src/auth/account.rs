//! What only the account's owner may do, each confirmed by a session (and the password where
//! it counts): `PUT /api/auth/password` changes the password, `DELETE /api/auth/sessions` signs
//! out every device at once, and `DELETE /api/auth/me` deletes the account with everything in it.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    AuthUser, cookies,
    password::{check_password, hash_password, verify_password},
    rate_limit, store,
};
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
    // Their files' objects were queued for deletion with the rows.
    state.file_cleanup.notify_one();
    tracing::info!(user_id = %user.user_id, "account deleted by its owner");
    Ok(cookies::signed_out(&state.config))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordIn {
    current_password: String,
    #[schema(min_length = 10, max_length = 128)]
    new_password: String,
}

/// Changes the password; the current one proves it is the owner asking. Every other device is
/// signed out (this one stays); API keys keep working. Wrong guesses count against the
/// account's sign-in limit.
#[utoipa::path(put, path = "/api/auth/password", tag = "auth", request_body = ChangePasswordIn,
    responses(
        (status = 204, description = "Changed; other devices signed out"),
        (status = 400, description = "`weak_password`, bad JSON", body = ErrorBody),
        (status = 403, description = "`wrong_password`, or `session_required` (an API key)", body = ErrorBody),
        (status = 409, description = "`no_password`: add one with `POST` first", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<ChangePasswordIn>,
) -> ApiResult<axum::http::StatusCode> {
    let session_id = user.require_session()?;
    check_password(&input.new_password)?;
    if !confirm_password(&state, user.user_id, Some(input.current_password)).await? {
        return Err(ApiError::conflict(
            "no_password",
            "this account has no password yet: add one first",
        ));
    }
    let hash = hash_password(input.new_password).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user.user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    store::revoke_all(&mut tx, user.user_id, Some(session_id)).await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Checks that `given` is the account's password, for steps that need more than a session
/// (change it, delete the account); wrong guesses count against the account's sign-in limit.
/// `Ok(false)`: the account has no password (a guest, or signed in with GitHub or Google).
pub async fn confirm_password(
    state: &AppState,
    user_id: Uuid,
    given: Option<String>,
) -> ApiResult<bool> {
    let (email, stored): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&state.pool)
            .await?;
    let (Some(email), Some(stored)) = (email, stored) else {
        return Ok(false);
    };
    rate_limit::check_account(&state.login_limiter, &email)?;
    let Some(given) = given else {
        return Err(ApiError::bad_request(
            "password_required",
            "confirm with the account's password",
        ));
    };
    if !verify_password(given, Some(stored)).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "wrong_password",
            "the password is not right",
        ));
    }
    Ok(true)
}
