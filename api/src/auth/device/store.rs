//! Device authorization rows. The device code is stored only as its SHA-256; the user code
//! normalized. Polls and decisions lock the row, so two polls cannot both redeem it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::user_code;
use crate::auth::{store::Device, tokens::hash_token};

pub struct NewRequest<'a> {
    pub client_id: &'a str,
    pub scope: Option<&'a str>,
    pub interval_secs: u32,
    pub ttl_secs: u64,
    pub requester: &'a Device<'a>,
}

/// Stores a request; returns its user code. `device_code` is the caller's fresh secret.
pub async fn create(pool: &PgPool, device_code: &str, new: NewRequest<'_>) -> sqlx::Result<String> {
    loop {
        let code = user_code::generate();
        // Rows a day past expiry are of no use to anyone: dropped as new ones arrive.
        let inserted = sqlx::query(
            "WITH stale AS (DELETE FROM device_codes WHERE expires_at < now() - interval '1 day')
             INSERT INTO device_codes (id, device_code_hash, user_code, client_id, scope,
                 interval_secs, requester_ip, requester_agent, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))",
        )
        .bind(Uuid::now_v7())
        .bind(hash_token(device_code))
        .bind(&code)
        .bind(new.client_id)
        .bind(new.scope)
        .bind(new.interval_secs as i32)
        .bind(&new.requester.ip)
        .bind(new.requester.user_agent)
        .bind(new.ttl_secs as f64)
        .execute(pool)
        .await;
        match inserted {
            // One in 2^34 per live code: draw again.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
            other => return other.map(|_| code),
        }
    }
}

/// A device request as its poll sees it, locked until the transaction ends.
#[derive(sqlx::FromRow)]
pub struct Polled {
    pub id: Uuid,
    pub client_id: String,
    pub status: String,
    pub user_id: Option<Uuid>,
    pub expired: bool,
    /// The previous poll was less than `interval_secs` ago.
    pub too_fast: bool,
    /// The device as it asked for the code (its session is listed as this).
    pub requester_ip: Option<String>,
    pub requester_agent: Option<String>,
}

pub async fn lock_for_poll(
    tx: &mut PgConnection,
    device_code: &str,
) -> sqlx::Result<Option<Polled>> {
    sqlx::query_as(
        "SELECT id, client_id, status, user_id, expires_at <= now() AS expired,
                COALESCE(last_polled_at + make_interval(secs => interval_secs) > now(), false)
                    AS too_fast,
                requester_ip, requester_agent
         FROM device_codes WHERE device_code_hash = $1 FOR UPDATE",
    )
    .bind(hash_token(device_code))
    .fetch_optional(tx)
    .await
}

/// Records a poll; `slow_down` also lengthens this code's interval by 5 s (RFC 8628 §3.5).
pub async fn record_poll(tx: &mut PgConnection, id: Uuid, slow_down: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE device_codes SET last_polled_at = now(),
                interval_secs = interval_secs + CASE WHEN $2 THEN 5 ELSE 0 END
         WHERE id = $1",
    )
    .bind(id)
    .bind(slow_down)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn mark_redeemed(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE device_codes SET status = 'redeemed' WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// What the approval page shows about a pending request (RFC 8628 §5.4).
#[derive(Debug, sqlx::FromRow)]
pub struct Pending {
    pub client_id: String,
    pub requester_ip: Option<String>,
    pub requester_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a user code names right now.
pub enum Lookup {
    Pending(Pending),
    /// Approved, denied or redeemed already.
    Decided,
    /// No such code, or expired: to a guesser these must look the same.
    Unknown,
}

pub async fn lookup(pool: &PgPool, code: &str) -> sqlx::Result<Lookup> {
    #[derive(sqlx::FromRow)]
    struct Found {
        status: String,
        #[sqlx(flatten)]
        request: Pending,
    }
    let found: Option<Found> = sqlx::query_as(
        "SELECT status, client_id, requester_ip, requester_agent, created_at, expires_at
         FROM device_codes WHERE user_code = $1 AND expires_at > now()",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?;
    Ok(match found {
        Some(f) if f.status == "pending" => Lookup::Pending(f.request),
        Some(_) => Lookup::Decided,
        None => Lookup::Unknown,
    })
}

/// Approves (`Some(user)`) or denies (`None`) a pending, unexpired request; false if the code
/// names none.
pub async fn decide(pool: &PgPool, code: &str, approve_for: Option<Uuid>) -> sqlx::Result<bool> {
    let status = if approve_for.is_some() {
        "approved"
    } else {
        "denied"
    };
    let done = sqlx::query(
        "UPDATE device_codes SET status = $2, user_id = $3, decided_at = now()
         WHERE user_code = $1 AND status = 'pending' AND expires_at > now()",
    )
    .bind(code)
    .bind(status)
    .bind(approve_for)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
