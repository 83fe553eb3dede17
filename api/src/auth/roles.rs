//! Roles and permissions (tables `roles`, `role_permissions`, `user_roles`). Guards ask for a
//! permission, read from the database on each call, so a role change acts at once; the
//! `roles` claim in the access token is for clients to display, never for decisions.

use axum::http::StatusCode;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::AuthUser;
use crate::error::{ApiError, ApiResult};

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
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs the {permission:?} permission"),
        ));
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
