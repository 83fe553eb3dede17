//! API key rows. Only the SHA-256 of a key is stored; `prefix` (its first characters) lets a
//! user tell keys apart in a list.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::roles::may_chat;

use super::KEY_PREFIX;
use crate::auth::{AuthUser, extractor::Credential, tokens::hash_token};

/// Characters of a key kept in clear: `sk-sluice-` and 6 more.
const SHOWN_CHARS: usize = KEY_PREFIX.len() + 6;

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct KeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The columns of `KeyRow` (a macro so `concat!` can build literal SQL with it).
macro_rules! columns {
    () => {
        "id, name, prefix, enabled, created_at, last_used_at"
    };
}

/// A fresh key: `sk-sluice-` + 256 random bits in hex.
fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// Creates a key; returns its row and the key itself (the only time it exists in clear).
pub async fn create(pool: &PgPool, user_id: Uuid, name: &str) -> sqlx::Result<(KeyRow, String)> {
    let key = new_key();
    let row = sqlx::query_as(concat!(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING ",
        columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(name)
    .bind(&key[..SHOWN_CHARS])
    .bind(hash_token(&key))
    .fetch_one(pool)
    .await?;
    Ok((row, key))
}

pub async fn list(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM api_keys WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// Renames and/or enables or disables one of the user's keys; `None` when not theirs.
pub async fn update(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    name: Option<&str>,
    enabled: Option<bool>,
) -> sqlx::Result<Option<KeyRow>> {
    sqlx::query_as(concat!(
        "UPDATE api_keys SET name = COALESCE($3, name), enabled = COALESCE($4, enabled)
         WHERE id = $1 AND user_id = $2 RETURNING ",
        columns!(),
        ""
    ))
    .bind(id)
    .bind(user_id)
    .bind(name)
    .bind(enabled)
    .fetch_optional(pool)
    .await
}

/// Replaces the secret of one of the user's keys (the old one stops working at once).
pub async fn rotate(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<(KeyRow, String)>> {
    let key = new_key();
    let row = sqlx::query_as(concat!(
        "UPDATE api_keys SET prefix = $3, key_hash = $4, last_used_at = NULL
         WHERE id = $1 AND user_id = $2 RETURNING ",
        columns!(),
        ""
    ))
    .bind(id)
    .bind(user_id)
    .bind(&key[..SHOWN_CHARS])
    .bind(hash_token(&key))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| (row, key)))
}

/// Whether key `id` is `user_id`'s.
pub async fn is_owned(pool: &PgPool, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND user_id = $2)")
        .bind(id)
        .bind(user_id)
        .fetch_one(pool)
        .await
}

pub async fn delete(pool: &PgPool, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A key that was just used: whose it is, and its row.
#[derive(sqlx::FromRow)]
pub struct UsedKey {
    pub user_id: Uuid,
    /// Whether its user holds the `chat` permission.
    pub may_chat: bool,
    #[sqlx(flatten)]
    pub row: KeyRow,
}

/// The key, if it is enabled and its user is not disabled. Marks it used (at most every 30 s,
/// so a busy key does not write on every request).
pub async fn use_key(pool: &PgPool, key: &str) -> sqlx::Result<Option<UsedKey>> {
    sqlx::query_as(concat!(
        "WITH k AS (
             SELECT k.* FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.key_hash = $1 AND k.enabled AND u.disabled_at IS NULL),
         touched AS (
             UPDATE api_keys SET last_used_at = now()
             WHERE id IN (SELECT id FROM k)
               AND (last_used_at IS NULL OR last_used_at < now() - interval '30 seconds')
             RETURNING id, last_used_at)
         SELECT k.user_id, k.id, k.name, k.prefix, k.enabled, k.created_at,
                COALESCE(t.last_used_at, k.last_used_at) AS last_used_at, ",
        may_chat!("k.user_id"),
        " AS may_chat FROM k LEFT JOIN touched t ON t.id = k.id"
    ))
    .bind(hash_token(key))
    .fetch_optional(pool)
    .await
}

/// The caller a key stands for (see `use_key`).
pub async fn authenticate(pool: &PgPool, key: &str) -> sqlx::Result<Option<AuthUser>> {
    Ok(use_key(pool, key).await?.map(|used| AuthUser {
        user_id: used.user_id,
        credential: Credential::ApiKey(used.row.id),
        may_chat: used.may_chat,
    }))
}

/// Whether key `id` still works (enabled, its user not disabled) and its user may chat,
/// without marking it used: a long-lived socket checks its key again and again, which is not
/// a use.
pub async fn key_may_chat(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(concat!(
        "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN users u ON u.id = k.user_id
                        WHERE k.id = $1 AND k.enabled AND u.disabled_at IS NULL AND ",
        may_chat!("k.user_id"),
        ")"
    ))
    .bind(id)
    .fetch_one(pool)
    .await
}
