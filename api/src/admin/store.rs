//! The admin's view of users.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AdminUserOut {
    pub id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
    pub is_guest: bool,
    pub roles: Vec<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

macro_rules! user_select {
    () => {
        "SELECT id, display_name, email, is_guest, disabled_at, created_at,
                ARRAY(SELECT role FROM user_roles WHERE user_id = users.id ORDER BY role) AS roles
         FROM users "
    };
}

/// Newest first, after the cursor `(created_at, id)`.
pub async fn page(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<AdminUserOut>> {
    let (at, id) = after.unzip();
    sqlx::query_as(concat!(
        user_select!(),
        "WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1, $2)
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn one(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<AdminUserOut>> {
    sqlx::query_as(concat!(user_select!(), "WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Replaces the user's roles; `Ok(false)` when a name is not a role.
pub async fn set_roles(tx: &mut PgConnection, id: Uuid, roles: &[String]) -> sqlx::Result<bool> {
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM roles WHERE name = ANY($1)")
        .bind(roles)
        .fetch_one(&mut *tx)
        .await?;
    if known as usize != roles.len() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND NOT (role = ANY($2))")
        .bind(id)
        .bind(roles)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(roles)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Disables the user and, in the same transaction, ends every session and disables every key.
pub async fn disable(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, now()) WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE api_keys SET enabled = false WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Lets the user sign in again (their old sessions and keys stay ended).
pub async fn enable(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
