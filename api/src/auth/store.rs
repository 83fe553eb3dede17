//! Sessions and refresh tokens. A session is one signed-in device and one refresh-token
//! family; only SHA-256 hashes of refresh tokens are stored.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use sluice_shared::dto::UserOut;

use super::tokens::{hash_token, new_refresh_token};

/// Where a sign-in or refresh came from, as shown in the session list.
pub struct Device<'a> {
    pub user_agent: Option<&'a str>,
    pub ip: String,
}

/// Opens a session for `user_id`; returns its id and the first refresh token (plain, once).
pub async fn start_session(
    tx: &mut PgConnection,
    user_id: Uuid,
    device: &Device<'_>,
    ttl_secs: u64,
) -> sqlx::Result<(Uuid, String)> {
    let session_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, family_id, user_agent, ip, expires_at)
         VALUES ($1, $2, $1, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(device.user_agent)
    .bind(&device.ip)
    .bind(ttl_secs as f64)
    .execute(&mut *tx)
    .await?;
    let token = issue_refresh_token(tx, session_id).await?;
    Ok((session_id, token))
}

async fn issue_refresh_token(tx: &mut PgConnection, session_id: Uuid) -> sqlx::Result<String> {
    let (token, hash) = new_refresh_token();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)")
        .bind(hash)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    Ok(token)
}

/// What presenting a refresh token came to.
pub enum Refresh {
    /// Rotated: the session lives on with this new token.
    Rotated {
        user_id: Uuid,
        session_id: Uuid,
        token: String,
    },
    /// Unknown token, or its session ended, expired or belongs to a disabled user.
    Invalid,
    /// The token was already replaced: someone replayed it. The session is now revoked.
    Reused,
}

/// Rotates a refresh token: the presented one is marked replaced, a new one is issued and the
/// session's expiry slides forward. The row lock serialises concurrent uses of one token.
/// The session a refresh token (spent or not) belongs to.
pub async fn session_of_refresh_token(pool: &PgPool, token: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash_token(token))
        .fetch_optional(pool)
        .await
}

pub async fn rotate(
    pool: &PgPool,
    presented: &str,
    ttl_secs: u64,
    device: &Device<'_>,
) -> sqlx::Result<Refresh> {
    let mut tx = pool.begin().await?;
    let found: Option<(Uuid, Uuid, Option<DateTime<Utc>>, bool)> = sqlx::query_as(
        "SELECT s.id, s.user_id, rt.replaced_at,
                (s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL)
         FROM refresh_tokens rt
         JOIN sessions s ON s.id = rt.session_id
         JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = $1
         FOR UPDATE OF rt, s",
    )
    .bind(hash_token(presented))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, user_id, replaced_at, live)) = found else {
        return Ok(Refresh::Invalid);
    };
    if replaced_at.is_some() {
        revoke(&mut tx, session_id).await?;
        tx.commit().await?;
        return Ok(Refresh::Reused);
    }
    if !live {
        return Ok(Refresh::Invalid);
    }
    sqlx::query("UPDATE refresh_tokens SET replaced_at = now() WHERE token_hash = $1")
        .bind(hash_token(presented))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE sessions SET last_used_at = now(), expires_at = now() + make_interval(secs => $2),
                user_agent = COALESCE($3, user_agent), ip = $4
         WHERE id = $1",
    )
    .bind(session_id)
    .bind(ttl_secs as f64)
    .bind(device.user_agent)
    .bind(&device.ip)
    .execute(&mut *tx)
    .await?;
    let token = issue_refresh_token(&mut tx, session_id).await?;
    tx.commit().await?;
    Ok(Refresh::Rotated {
        user_id,
        session_id,
        token,
    })
}

async fn revoke(tx: &mut PgConnection, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(session_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Ends every session of the user's, but `keep` (their access tokens stop working at once).
pub async fn revoke_all(
    tx: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
    )
    .bind(user_id)
    .bind(keep)
    .execute(tx)
    .await?;
    Ok(())
}

/// The enabled admins, their role rows locked until the transaction ends: two admins leaving
/// at once cannot both go (the second sees the first gone).
pub async fn lock_enabled_admins(tx: &mut PgConnection) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT r.user_id FROM user_roles r JOIN users u ON u.id = r.user_id
         WHERE r.role = 'admin' AND u.disabled_at IS NULL FOR UPDATE OF r",
    )
    .fetch_all(tx)
    .await
}

/// Deletes a user and everything of theirs: most tables' rows go with it (ON DELETE CASCADE);
/// their budget and usage rows are deleted after their messages, in the lock order answers'
/// settlements take them (design §12).
pub async fn delete_user(tx: &mut PgConnection, user_id: Uuid) -> sqlx::Result<()> {
    for statement in [
        "DELETE FROM users WHERE id = $1",
        "DELETE FROM budgets WHERE user_id = $1",
        "DELETE FROM usage_rollups WHERE user_id = $1",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Ends one of the user's sessions; false when it is not theirs (or unknown).
pub async fn revoke_owned(pool: &PgPool, user_id: Uuid, session_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
        .bind(session_id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The user's live sessions, most recently used first.
pub async fn live_sessions(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT id, user_agent, ip, created_at, last_used_at, expires_at FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
         ORDER BY last_used_at DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// A new account's fields; every account starts with the `user` role.
pub struct NewUser<'a> {
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub is_guest: bool,
}

/// Creates the account; `Err` with a unique violation when the email is taken.
pub async fn create_user(tx: &mut PgConnection, new: NewUser<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "WITH u AS (
             INSERT INTO users (id, display_name, email, password_hash, is_guest)
             VALUES ($1, $2, $3, $4, $5) RETURNING id)
         INSERT INTO user_roles (user_id, role) SELECT id, 'user' FROM u",
    )
    .bind(id)
    .bind(new.display_name)
    .bind(new.email)
    .bind(new.password_hash)
    .bind(new.is_guest)
    .execute(tx)
    .await?;
    Ok(id)
}

/// The account as the API shows it (with its roles).
pub async fn user(db: &mut PgConnection, user_id: Uuid) -> sqlx::Result<UserOut> {
    sqlx::query_as(
        "SELECT id, display_name, email, is_guest, password_hash IS NOT NULL AS has_password,
                created_at,
                ARRAY(SELECT role FROM user_roles WHERE user_id = users.id ORDER BY role) AS roles
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}
