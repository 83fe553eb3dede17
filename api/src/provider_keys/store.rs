//! The `provider_keys` rows. The key is stored sealed (`sluice_shared::envelope`); only
//! `last4` comes back out of this module.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sluice_shared::envelope::{MasterKeys, Sealed};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// A provider key as shown: never the key, only its last 4 characters.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ProviderKeyRow {
    /// `openai`, `anthropic` or `gemini`.
    pub provider: String,
    /// Used for the user's answers while enabled.
    pub enabled: bool,
    /// When the provider refuses this key, answer with the server's own key instead of failing.
    pub allow_server_fallback: bool,
    /// The key's last 4 characters.
    pub last4: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "provider, enabled, allow_server_fallback, last4, created_at, updated_at"
    };
}

pub async fn list(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<ProviderKeyRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM provider_keys WHERE user_id = $1 ORDER BY provider"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// What a new or replaced key is.
pub struct NewKey<'a> {
    pub provider: &'a str,
    pub sealed: Sealed,
    pub last4: String,
    pub allow_server_fallback: Option<bool>,
}

/// Adds the key, or replaces the one the user had for that provider (enabled again).
/// Returns the row and whether it is new.
pub async fn put(
    pool: &PgPool,
    user_id: Uuid,
    key: NewKey<'_>,
) -> sqlx::Result<(ProviderKeyRow, bool)> {
    #[derive(sqlx::FromRow)]
    struct Put {
        #[sqlx(flatten)]
        row: ProviderKeyRow,
        created: bool,
    }
    let put: Put = sqlx::query_as(concat!(
        "INSERT INTO provider_keys
             (user_id, provider, allow_server_fallback, last4, ciphertext, wrapped_key,
              master_key_id)
         VALUES ($1, $2, COALESCE($3, false), $4, $5, $6, $7)
         ON CONFLICT (user_id, provider) DO UPDATE
         SET enabled = true,
             allow_server_fallback = COALESCE($3, provider_keys.allow_server_fallback),
             last4 = $4, ciphertext = $5, wrapped_key = $6, master_key_id = $7,
             updated_at = now()
         -- xmax is 0 only for a row this statement inserted.
         RETURNING ",
        columns!(),
        ", (xmax = 0) AS created"
    ))
    .bind(user_id)
    .bind(key.provider)
    .bind(key.allow_server_fallback)
    .bind(&key.last4)
    .bind(&key.sealed.ciphertext)
    .bind(&key.sealed.wrapped_key)
    .bind(&key.sealed.master_key_id)
    .fetch_one(pool)
    .await?;
    Ok((put.row, put.created))
}

pub async fn update(
    pool: &PgPool,
    user_id: Uuid,
    provider: &str,
    enabled: Option<bool>,
    allow_server_fallback: Option<bool>,
) -> sqlx::Result<Option<ProviderKeyRow>> {
    sqlx::query_as(concat!(
        "UPDATE provider_keys
         SET enabled = COALESCE($3, enabled),
             allow_server_fallback = COALESCE($4, allow_server_fallback),
             updated_at = now()
         WHERE user_id = $1 AND provider = $2
         RETURNING ",
        columns!()
    ))
    .bind(user_id)
    .bind(provider)
    .bind(enabled)
    .bind(allow_server_fallback)
    .fetch_optional(pool)
    .await
}

pub async fn delete(pool: &PgPool, user_id: Uuid, provider: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM provider_keys WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The providers the user has an enabled key for (for `POST /api/keys/verify`).
pub async fn enabled_providers(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT provider FROM provider_keys WHERE user_id = $1 AND enabled ORDER BY provider",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Rows re-wrapped by one round of `rotate_master_key`.
const ROTATION_BATCH: i64 = 100;

/// Re-wraps every key still wrapped by an older master key under the current one, a batch
/// per transaction (so it can stop anywhere and be run again: it goes on where it was).
/// Returns how many were re-wrapped; errors name a row that does not open (its master key is
/// not configured), never a secret. Every API and worker must already have the new key as
/// current and the old one as retired: they open rows under either while this runs.
pub async fn rotate_master_key(pool: &PgPool, keys: &MasterKeys) -> anyhow::Result<u64> {
    let mut rewrapped = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows: Vec<SealedRow> = sqlx::query_as(
            "SELECT user_id, provider, ciphertext, wrapped_key, master_key_id
             FROM provider_keys WHERE master_key_id <> $1
             LIMIT $2 FOR UPDATE",
        )
        .bind(keys.current_id())
        .bind(ROTATION_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(rewrapped);
        }
        for SealedRow {
            user_id,
            provider,
            ciphertext,
            wrapped_key,
            master_key_id,
        } in rows
        {
            let sealed = Sealed {
                ciphertext,
                wrapped_key,
                master_key_id,
            };
            let moved = keys.rewrap(&sealed).map_err(|e| {
                anyhow::anyhow!("user {user_id}'s {provider} key cannot be re-wrapped: {e}")
            })?;
            sqlx::query(
                "UPDATE provider_keys SET wrapped_key = $3, master_key_id = $4
                 WHERE user_id = $1 AND provider = $2",
            )
            .bind(user_id)
            .bind(&provider)
            .bind(&moved.wrapped_key)
            .bind(&moved.master_key_id)
            .execute(&mut *tx)
            .await?;
            rewrapped += 1;
        }
        tx.commit().await?;
    }
}

/// A key's row as rotation reads it.
#[derive(sqlx::FromRow)]
struct SealedRow {
    user_id: Uuid,
    provider: String,
    ciphertext: Vec<u8>,
    wrapped_key: Vec<u8>,
    master_key_id: String,
}
