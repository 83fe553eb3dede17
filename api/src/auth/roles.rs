//! Roles and permissions (tables `roles`, `role_permissions`, `user_roles`). Guards ask for a
//! permission, read from the database on each call, so a role change acts at once; the
//! `roles` claim in the access token is for clients to display, never for decisions. `chat`,
//! which nearly every route needs, is read with the credential (`may_chat!`).

use axum::{
    extract::{FromRequestParts, Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{AuthUser, cookies, extractor};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// SQL: whether the user in column `$user` holds the `chat` permission. Spliced into the
/// statements that check a credential, so every request learns it at no extra round trip.
macro_rules! may_chat {
    ($user:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role = ur.role
                     WHERE ur.user_id = ",
            $user,
            " AND rp.permission = 'chat')"
        )
    };
}
pub(crate) use may_chat;

/// A layer for the routes that chat, read or change conversations (everything but signing
/// in and out, the account itself, and admin routes, which ask for their own permission):
/// 403 unless the caller holds `chat`. A user whose roles were all removed keeps their
/// account but cannot use it to chat. The checked caller is handed on to the handler's
/// `AuthUser`, so the credential is checked once. A request with no credential goes on to
/// the handler, which answers it as before; so does one whose credential fails but which
/// carries a stream token (`?token=`, minted by a caller who could chat, for one stream — a
/// browser's `EventSource` sends its cookies too, perhaps expired ones). A credential that
/// works is always checked, token or not.
pub async fn require_chat(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let credential = extractor::bearer(&parts.headers).is_some()
        || cookies::get(&parts.headers, cookies::ACCESS).is_some();
    if credential {
        let stream_token = crate::stream::tokens::query_token(&parts).is_some();
        match AuthUser::from_request_parts(&mut parts, &state).await {
            Ok(user) if user.may_chat => {
                parts.extensions.insert(user);
            }
            Ok(_) => return missing("chat").into_response(),
            Err(_) if stream_token => {}
            Err(error) => return error.into_response(),
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

pub fn missing(permission: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("this needs the {permission:?} permission"),
    )
}

/// 403 unless the caller holds `permission` through one of their roles.
pub async fn require(
    db: impl sqlx::PgExecutor<'_>,
    user: &AuthUser,
    permission: &str,
) -> ApiResult<()> {
    let allowed: bool = sqlx::query_scalar(
        // A disabled user holds no permission, whatever their roles.
        "SELECT EXISTS (
             SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role = ur.role
                                         JOIN users u ON u.id = ur.user_id
             WHERE ur.user_id = $1 AND rp.permission = $2 AND u.disabled_at IS NULL)",
    )
    .bind(user.user_id)
    .bind(permission)
    .fetch_one(db)
    .await?;
    if !allowed {
        return Err(missing(permission));
    }
    Ok(())
}

/// The user's role names, sorted.
pub async fn of_user(db: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// Makes the user an admin when their email is one of `SLUICE_ADMIN_EMAILS`.
pub async fn grant_configured_admin(
    db: &mut PgConnection,
    user_id: Uuid,
    admin_emails: &[String],
) -> sqlx::Result<()> {
    if admin_emails.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO user_roles (user_id, role)
         SELECT id, 'admin' FROM users WHERE id = $1 AND email = ANY($2)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(admin_emails)
    .execute(db)
    .await?;
    Ok(())
}

/// At start-up: existing accounts with an admin email become admins without signing in again.
pub async fn grant_configured_admins(pool: &PgPool, admin_emails: &[String]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_roles (user_id, role)
         SELECT id, 'admin' FROM users WHERE email = ANY($1)
         ON CONFLICT DO NOTHING",
    )
    .bind(admin_emails)
    .execute(pool)
    .await?;
    Ok(())
}
