//! The `limits` rows (per role, user or API key) and what a user's budget has used.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

/// A set of limits; a missing or null one is no limit (for a user: the roles' own).
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests (sends) per UTC minute.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub requests_per_minute: Option<i32>,
    /// Tokens (prompt and answer) per UTC day.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    #[serde(default, deserialize_with = "whole_number")]
    pub tokens_per_day: Option<i64>,
    /// US dollars per UTC day (models with a price in the server's config).
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(default)]
    pub cost_per_day_usd: Option<f64>,
    /// US dollars per UTC month.
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(default)]
    pub cost_per_month_usd: Option<f64>,
    /// Answers being written at once.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub concurrent_answers: Option<i32>,
}

/// A count as JSON Schema's `integer` means it: any number without a fraction, `5.0` too (what
/// JavaScript's `JSON.stringify` and some generators send). Out of the type's range or with a
/// fraction, a clear error (the bounds themselves are checked by `limits::check`).
fn whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_i64().or_else(|| {
        let float = number.as_f64()?;
        // i64::MAX as f64 rounds up to 2^63, which is out of range: `<`, not `<=`.
        (float.fract() == 0.0 && float >= i64::MIN as f64 && float < i64::MAX as f64)
            .then_some(float as i64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, got {number}")))
}

/// What a user (or one API key) has used in the current windows, reservations of answers
/// still being written included.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Used {
    pub requests_this_minute: i32,
    pub tokens_today: i64,
    pub cost_today_usd: f64,
    pub cost_this_month_usd: f64,
    pub answers_in_flight: i32,
}

/// Whose limits a row holds.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Role(&'a str),
    User(Uuid),
    Key(Uuid),
}

macro_rules! limit_columns {
    () => {
        "requests_per_minute, tokens_per_day, cost_per_day_usd::float8 AS cost_per_day_usd,
         cost_per_month_usd::float8 AS cost_per_month_usd, concurrent_answers"
    };
}

/// The row's limits (all `None` when it has none).
pub async fn get(pool: &PgPool, subject: Subject<'_>) -> sqlx::Result<Limits> {
    let (role, user, key) = columns(subject);
    let row: Option<Limits> = sqlx::query_as(concat!(
        "SELECT ",
        limit_columns!(),
        " FROM limits
         WHERE ($1::text IS NOT NULL AND role = $1) OR ($2::uuid IS NOT NULL AND user_id = $2)
            OR ($3::uuid IS NOT NULL AND api_key_id = $3)"
    ))
    .bind(role)
    .bind(user)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Replaces the row's limits; limits with nothing set remove the row. False when the role,
/// user or key is gone (deleted meanwhile).
pub async fn set(pool: &PgPool, subject: Subject<'_>, limits: &Limits) -> sqlx::Result<bool> {
    let (role, user, key) = columns(subject);
    let mut tx = pool.begin().await?;
    // Two admins setting the same subject's limits at once: one after the other (the second
    // would otherwise insert beside the first and break the unique index).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("limits {role:?} {user:?} {key:?}"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM limits
         WHERE ($1::text IS NOT NULL AND role = $1) OR ($2::uuid IS NOT NULL AND user_id = $2)
            OR ($3::uuid IS NOT NULL AND api_key_id = $3)",
    )
    .bind(role)
    .bind(user)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    if *limits != Limits::default() {
        let inserted = sqlx::query(
            "INSERT INTO limits (role, user_id, api_key_id, requests_per_minute, tokens_per_day,
                                 cost_per_day_usd, cost_per_month_usd, concurrent_answers)
             VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8)",
        )
        .bind(role)
        .bind(user)
        .bind(key)
        .bind(limits.requests_per_minute)
        .bind(limits.tokens_per_day)
        .bind(limits.cost_per_day_usd)
        .bind(limits.cost_per_month_usd)
        .bind(limits.concurrent_answers)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => return Ok(false),
            other => other?,
        };
    }
    tx.commit().await?;
    Ok(true)
}

fn columns(subject: Subject<'_>) -> (Option<&str>, Option<Uuid>, Option<Uuid>) {
    match subject {
        Subject::Role(role) => (Some(role), None, None),
        Subject::User(id) => (None, Some(id), None),
        Subject::Key(id) => (None, None, Some(id)),
    }
}

/// Every role's limits, by role name.
pub async fn by_role(pool: &PgPool) -> sqlx::Result<Vec<(String, Limits)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        name: String,
        #[sqlx(flatten)]
        limits: Limits,
    }
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT r.name, ",
        limit_columns!(),
        " FROM roles r LEFT JOIN limits l ON l.role = r.name ORDER BY r.name"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.limits)).collect())
}

/// The limits that apply to `user` (their overrides over their roles'), and to `key`.
pub async fn effective(
    pool: &PgPool,
    user: Uuid,
    key: Option<Uuid>,
) -> sqlx::Result<(Limits, Option<Limits>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        scope: String,
        #[sqlx(flatten)]
        limits: Limits,
    }
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT scope, ",
        limit_columns!(),
        " FROM sluice_limits_of($1, $2)"
    ))
    .bind(user)
    .bind(key)
    .fetch_all(pool)
    .await?;
    let mut user_limits = Limits::default();
    let mut key_limits = None;
    for row in rows {
        match row.scope.as_str() {
            "key" => key_limits = Some(row.limits),
            _ => user_limits = row.limits,
        }
    }
    Ok((user_limits, key_limits))
}

/// What `subject` (a user's or an API key's id) has used in the current windows. While a limit
/// applies, its budget row says, reservations of answers in flight included; with none, no
/// budget is kept (`sluice_reserve`), and the stored answers say: the usage rollup for the day
/// and month, the messages of this minute and those still being written.
pub async fn used(pool: &PgPool, subject: Uuid) -> sqlx::Result<Used> {
    sqlx::query_as(
        "SELECT CASE WHEN kept THEN b.minute_requests ELSE u.minute_requests END
                    AS requests_this_minute,
                CASE WHEN kept THEN b.day_tokens ELSE u.day_tokens END AS tokens_today,
                (CASE WHEN kept THEN b.day_cost ELSE u.day_cost END)::float8 AS cost_today_usd,
                (CASE WHEN kept THEN b.month_cost ELSE u.month_cost END)::float8
                    AS cost_this_month_usd,
                CASE WHEN kept THEN b.in_flight ELSE u.in_flight END AS answers_in_flight
         FROM sluice_budget_now($1) b,
              sluice_used_by(COALESCE((SELECT user_id FROM api_keys WHERE id = $1), $1), $1) u,
              LATERAL (SELECT EXISTS (SELECT 1 FROM budgets WHERE subject = $1) AS kept) k",
    )
    .bind(subject)
    .fetch_one(pool)
    .await
}
