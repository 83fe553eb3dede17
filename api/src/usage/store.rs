//! The usage queries. Every one reads the rollup, never `messages`: `usage_rollups` for one
//! user (by the user's index), `usage_rollups_all` for everyone together. Each statement
//! exists in both forms (`for_scope!`), one text per form, so each is planned for its index.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{histogram::Histogram, query::Range};

/// Which rollup rows cover the range: `quarters` — quarter-hour rows from `$1` to `$2`; `mixed`
/// — day rows for the whole days `$7`..`$8` inside it and quarter-hour rows for the rest (what
/// percentiles read: far fewer histograms to add up over a long range).
macro_rules! grain {
    (quarters) => {
        "grain = 'quarter' AND bucket_start >= $1 AND bucket_start < $2"
    };
    (mixed) => {
        "((grain = 'day' AND bucket_start >= $7 AND bucket_start < $8)
          OR (grain = 'quarter' AND bucket_start >= $1 AND bucket_start < $2
              AND NOT (bucket_start >= $7 AND bucket_start < $8)))"
    };
}

/// The rows of the range and filters, as a CTE body: `$1` from, `$2` to, `$3` user, `$4`
/// model, `$5` provider, `$6` key.
macro_rules! rows {
    (all, $grain:ident) => {
        concat!(
            "SELECT bucket_start, model, provider, status, error_code, requests, input_tokens,
                    output_tokens, cost_usd, ttft_hist, latency_hist
             FROM usage_rollups_all
             WHERE ",
            grain!($grain),
            " AND $3::uuid IS NULL AND $6::uuid IS NULL
               AND ($4::text IS NULL OR model = $4) AND ($5::text IS NULL OR provider = $5)"
        )
    };
    (user, $grain:ident) => {
        concat!(
            "SELECT bucket_start, model, provider, status, error_code, requests, input_tokens,
                    output_tokens, cost_usd, ttft_hist, latency_hist
             FROM usage_rollups
             WHERE user_id = $3 AND ",
            grain!($grain),
            " AND ($6::uuid IS NULL OR api_key_id = $6)
               AND ($4::text IS NULL OR model = $4) AND ($5::text IS NULL OR provider = $5)"
        )
    };
}

/// The statement `WITH r AS (rows) <rest>` for the range's scope.
macro_rules! for_scope {
    ($range:expr, $grain:ident, $($rest:expr),+) => {
        if $range.user.is_some() {
            concat!("WITH r AS (", rows!(user, $grain), ") ", $($rest),+)
        } else {
            concat!("WITH r AS (", rows!(all, $grain), ") ", $($rest),+)
        }
    };
}

/// A histogram of the rows `r` matching `$cond`, as a 64-element array.
macro_rules! summed {
    ($column:literal, $cond:literal) => {
        concat!(
            "(SELECT COALESCE(array_agg(s ORDER BY i), '{}') FROM (
                 SELECT i, sum(x)::int8 AS s
                 FROM r, unnest(r.",
            $column,
            ") WITH ORDINALITY AS u(x, i) WHERE ",
            $cond,
            " GROUP BY i) h)"
        )
    };
}

fn bind_as<'q, T>(
    query: &'q str,
    range: &'q Range,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, T, sqlx::postgres::PgArguments>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(range.from)
        .bind(range.to)
        .bind(range.user)
        .bind(range.model.as_deref())
        .bind(range.provider.as_deref())
        .bind(range.key)
}

/// Totals over the range.
#[derive(Debug, sqlx::FromRow)]
pub struct Totals {
    pub requests: i64,
    pub errors: i64,
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub ttft: Vec<i64>,
    pub latency: Vec<i64>,
}

pub async fn totals(pool: &PgPool, range: &Range) -> sqlx::Result<(Totals, Histogram, Histogram)> {
    let query = for_scope!(
        range,
        mixed,
        "SELECT COALESCE(sum(requests), 0)::int8 AS requests,
                COALESCE(sum(requests) FILTER (WHERE status = 'error'), 0)::int8 AS errors,
                COALESCE(sum(requests) FILTER (WHERE status = 'cancelled'), 0)::int8 AS cancelled,
                COALESCE(sum(input_tokens), 0)::int8 AS input_tokens,
                COALESCE(sum(output_tokens), 0)::int8 AS output_tokens,
                COALESCE(sum(cost_usd), 0)::float8 AS cost_usd, ",
        summed!("ttft_hist", "true"),
        " AS ttft, ",
        summed!("latency_hist", "true"),
        " AS latency FROM r"
    );
    let (day_from, day_to) = range.whole_days();
    let totals: Totals = bind_as(query, range)
        .bind(day_from)
        .bind(day_to)
        .fetch_one(pool)
        .await?;
    let (ttft, latency) = (
        Histogram::from(&totals.ttft),
        Histogram::from(&totals.latency),
    );
    Ok((totals, ttft, latency))
}

/// Requests and errors over the range (no histograms: what the error rates need).
pub async fn counts(pool: &PgPool, range: &Range) -> sqlx::Result<(i64, i64)> {
    let query = for_scope!(
        range,
        quarters,
        "SELECT COALESCE(sum(requests), 0)::int8,
                COALESCE(sum(requests) FILTER (WHERE status = 'error'), 0)::int8 FROM r"
    );
    bind_as(query, range).fetch_one(pool).await
}

/// One bucket of a time series.
#[derive(Debug, sqlx::FromRow)]
pub struct Point {
    pub start: DateTime<Utc>,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

/// Every bucket of the range, empty ones included.
pub async fn series(pool: &PgPool, range: &Range) -> sqlx::Result<Vec<Point>> {
    let query = for_scope!(
        range,
        quarters,
        ", b AS (
             SELECT date_bin($7::interval, bucket_start, '2000-01-03T00:00:00Z') AS start,
                    sum(requests)::int8 AS requests,
                    (sum(requests) FILTER (WHERE status = 'error'))::int8 AS errors,
                    sum(input_tokens)::int8 AS input_tokens,
                    sum(output_tokens)::int8 AS output_tokens, sum(cost_usd)::float8 AS cost_usd
             FROM r GROUP BY 1)
         SELECT s.start, COALESCE(b.requests, 0) AS requests, COALESCE(b.errors, 0) AS errors,
                COALESCE(b.input_tokens, 0) AS input_tokens,
                COALESCE(b.output_tokens, 0) AS output_tokens, COALESCE(b.cost_usd, 0) AS cost_usd
         FROM generate_series(date_bin($7::interval, $1, '2000-01-03T00:00:00Z'),
                              $2 - interval '1 microsecond', $7::interval) AS s(start)
         LEFT JOIN b ON b.start = s.start
         ORDER BY s.start"
    );
    bind_as(query, range)
        .bind(range.interval.sql())
        .fetch_all(pool)
        .await
}

/// Latency and time to first token of one provider's model.
#[derive(Debug, sqlx::FromRow)]
pub struct ModelLatency {
    pub provider: Option<String>,
    pub model: String,
    pub requests: i64,
    pub ttft: Vec<i64>,
    pub latency: Vec<i64>,
}

pub async fn latency(pool: &PgPool, range: &Range) -> sqlx::Result<Vec<ModelLatency>> {
    let query = for_scope!(
        range,
        mixed,
        ", g AS (SELECT provider, model, sum(requests)::int8 AS requests FROM r GROUP BY 1, 2)
         SELECT g.provider, g.model, g.requests, ",
        summed!(
            "ttft_hist",
            "r.provider IS NOT DISTINCT FROM g.provider AND r.model = g.model"
        ),
        " AS ttft, ",
        summed!(
            "latency_hist",
            "r.provider IS NOT DISTINCT FROM g.provider AND r.model = g.model"
        ),
        " AS latency FROM g ORDER BY g.requests DESC, g.model"
    );
    let (day_from, day_to) = range.whole_days();
    bind_as(query, range)
        .bind(day_from)
        .bind(day_to)
        .fetch_all(pool)
        .await
}

/// Cost and tokens of one model in one bucket.
#[derive(Debug, sqlx::FromRow)]
pub struct ModelCost {
    pub start: DateTime<Utc>,
    pub model: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

pub async fn cost(pool: &PgPool, range: &Range) -> sqlx::Result<Vec<ModelCost>> {
    let query = for_scope!(
        range,
        quarters,
        "SELECT date_bin($7::interval, bucket_start, '2000-01-03T00:00:00Z') AS start, model,
                sum(requests)::int8 AS requests, sum(input_tokens)::int8 AS input_tokens,
                sum(output_tokens)::int8 AS output_tokens, sum(cost_usd)::float8 AS cost_usd
         FROM r GROUP BY 1, 2 ORDER BY 1, 2"
    );
    bind_as(query, range)
        .bind(range.interval.sql())
        .fetch_all(pool)
        .await
}

/// How many answers failed with one error code.
#[derive(Debug, sqlx::FromRow)]
pub struct ErrorCount {
    pub code: String,
    pub count: i64,
}

pub async fn errors(pool: &PgPool, range: &Range) -> sqlx::Result<Vec<ErrorCount>> {
    let query = for_scope!(
        range,
        quarters,
        "SELECT COALESCE(error_code, 'unknown') AS code, sum(requests)::int8 AS count
         FROM r WHERE status = 'error' GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    bind_as(query, range).fetch_all(pool).await
}

/// The user an API key belongs to (an admin's `key` filter reads that user's rollup).
pub async fn key_owner(pool: &PgPool, key: uuid::Uuid) -> sqlx::Result<Option<uuid::Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM api_keys WHERE id = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}
