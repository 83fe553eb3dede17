//! The account's own end: `DELETE /api/auth/sessions` signs out every device at once, and
//! `DELETE /api/auth/me` deletes the account with everything in it.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{AuthUser, cookies, password::confirm_password, store};
use crate::{
    conversations::store::Unfinished,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    openapi::ErrorBody,
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
    // The admins' role rows are locked, so two admins leaving at once cannot both go.
    let admins: Vec<Uuid> = sqlx::query_scalar(
        "SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id
         WHERE r.role = 'admin' AND u.disabled_at IS NULL FOR UPDATE OF r",
    )
    .fetch_all(&mut *tx)
    .await?;
    if admins == [user.user_id] {
        return Err(ApiError::conflict(
            "last_admin",
            "you are the only admin: make someone else admin first",
        ));
    }
    let unfinished: Vec<Unfinished> = sqlx::query_as(
        "SELECT conversation_id, id, attempt, status FROM messages
         WHERE user_id = $1 AND status IN ('queued', 'streaming')",
    )
    .bind(user.user_id)
    .fetch_all(&mut *tx)
    .await?;
    // Everything of theirs goes with the row (ON DELETE CASCADE).
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for answer in unfinished {
        crate::messages::stop_deleted(&state, answer).await;
    }
    tracing::info!(user_id = %user.user_id, "account deleted by its owner");
    Ok(cookies::signed_out(&state.config))
}
