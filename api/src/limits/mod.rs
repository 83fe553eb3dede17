//! Limits and budgets: requests per minute, tokens per day, cost per day and month, and
//! answers at once — per role (defaults), per user (overrides) and per API key. Enforced in
//! Postgres, inside the statement that stores a send (`sluice_reserve`, migration
//! `20261207000002_limits.sql`), so they hold across API processes at no extra round trip:
//! each answer reserves an estimate, and settles to its real usage when it ends, whoever ends
//! it (a trigger on `messages`). A refused send stores nothing; the caller is told which limit,
//! how much of it is used, and when it resets (`Refusal`, 429).
//!
//! Routes: `GET /api/limits` (the caller's own), `admin.rs` (per role and per user), and an
//! API key's own limits (`keys.rs`).

pub mod admin;
pub mod keys;
pub mod store;

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::{AuthUser, extractor::Credential},
    error::{ApiError, ApiResult},
    state::AppState,
};
use keys::KeyLimitsOut;
use store::{Limits, Used};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(own_limits))
        .routes(routes!(keys::key_limits, keys::set_key_limits))
}

/// The caller's limits and what they have used in the current windows (with an API key: the
/// key's own too).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OwnLimitsOut {
    limits: Limits,
    used: Used,
    /// The API key's own limits and use, when the caller is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<KeyLimitsOut>,
}

/// The caller's limits and use.
#[utoipa::path(get, path = "/api/limits", tag = "limits",
    responses((status = 200, body = OwnLimitsOut)))]
async fn own_limits(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<OwnLimitsOut>> {
    let spender = Spender::from(&user);
    let (limits, key_limits) = store::effective(&state.pool, user.user_id, spender.api_key).await?;
    let used = store::used(&state.pool, user.user_id).await?;
    let api_key = match spender.api_key {
        Some(id) => Some(KeyLimitsOut {
            limits: key_limits.unwrap_or_default(),
            used: store::used(&state.pool, id).await?,
        }),
        None => None,
    };
    Ok(Json(OwnLimitsOut {
        limits,
        used,
        api_key,
    }))
}

/// Limits the document states (400 `invalid_limit` otherwise): counts from 0 to a billion
/// (tokens a day to a trillion), dollars from 0 to a million.
pub fn check(limits: &Limits) -> ApiResult<()> {
    let count = |v: Option<i64>, max: i64| v.is_some_and(|v| !(0..=max).contains(&v));
    let dollars = |v: Option<f64>| v.is_some_and(|v| !(0.0..=1e6).contains(&v));
    let bad = count(limits.requests_per_minute.map(i64::from), 1_000_000_000)
        || count(limits.concurrent_answers.map(i64::from), 1_000_000_000)
        || count(limits.tokens_per_day, 1_000_000_000_000)
        || dollars(limits.cost_per_day_usd)
        || dollars(limits.cost_per_month_usd);
    if bad {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limits are null (none) or from 0 (nothing allowed) up to 1e9 requests or answers, \
             1e12 tokens a day, and 1e6 dollars",
        ));
    }
    Ok(())
}

/// Who pays for a send: the user, and the API key it came through (whose own limits apply too).
#[derive(Debug, Clone, Copy)]
pub struct Spender {
    pub user_id: Uuid,
    pub api_key: Option<Uuid>,
}

impl From<&AuthUser> for Spender {
    fn from(user: &AuthUser) -> Self {
        let api_key = match user.credential {
            Credential::ApiKey(id) => Some(id),
            Credential::Session(_) => None,
        };
        Self {
            user_id: user.user_id,
            api_key,
        }
    }
}

/// The limit a send would break, as `sluice_limit_refusal` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Refusal {
    /// `user` (the user's own limit) or `key` (the API key's).
    pub scope: String,
    /// `requests_per_minute`, `tokens_per_day`, `cost_per_day_usd`, `cost_per_month_usd` or
    /// `concurrent_answers`.
    pub limit: String,
    pub value: f64,
    pub used: f64,
    /// When the window starts over; none for concurrent answers (when one ends).
    pub reset_at: Option<DateTime<Utc>>,
}

/// Why a send stored nothing, when its statement stored nothing: the limit it breaks now, if
/// one does (a read; the refusal itself changed nothing).
pub async fn refusal(pool: &PgPool, spender: Spender) -> sqlx::Result<Option<Refusal>> {
    let refusal: Option<sqlx::types::Json<Refusal>> =
        sqlx::query_scalar("SELECT sluice_limit_refusal($1, $2)")
            .bind(spender.user_id)
            .bind(spender.api_key)
            .fetch_one(pool)
            .await?;
    Ok(refusal.map(|r| r.0))
}

impl Refusal {
    /// A budget (cost) is used up, rather than a rate exceeded: OpenAI's `insufficient_quota`.
    pub fn is_quota(&self) -> bool {
        self.limit.starts_with("cost_")
    }

    /// The error code: `insufficient_quota` for cost budgets, `rate_limit_exceeded` otherwise
    /// (OpenAI's words, so its SDKs raise `RateLimitError` either way).
    pub fn code(&self) -> &'static str {
        if self.is_quota() {
            "insufficient_quota"
        } else {
            "rate_limit_exceeded"
        }
    }

    /// How long until trying again can succeed (at least a second).
    pub fn retry_after(&self) -> Duration {
        let left = self
            .reset_at
            .map(|at| (at - Utc::now()).num_milliseconds().max(0) as u64)
            .unwrap_or(1000);
        Duration::from_millis(left).max(Duration::from_secs(1))
    }

    pub fn message(&self) -> String {
        let whose = if self.scope == "key" {
            "this API key's"
        } else {
            "your"
        };
        let (what, amount) = match self.limit.as_str() {
            "requests_per_minute" => ("requests per minute", format!("{}", self.value)),
            "tokens_per_day" => ("tokens per day", format!("{}", self.value)),
            "cost_per_day_usd" => ("daily budget", format!("${:.2}", self.value)),
            "cost_per_month_usd" => ("monthly budget", format!("${:.2}", self.value)),
            _ => ("answers at once", format!("{}", self.value)),
        };
        let when = match self.reset_at {
            Some(at) => format!("try again after {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
            None => "try again when an answer ends".to_string(),
        };
        format!("{whose} limit of {amount} {what} is reached; {when}")
    }

    /// `x-ratelimit-limit-*`, `-remaining-*`, `-reset-*` for the limit broken (`requests`,
    /// `tokens`, `cost-day`, `cost-month`, `concurrent`), with `reset` in seconds.
    pub fn headers(&self, headers: &mut HeaderMap) {
        let dimension = match self.limit.as_str() {
            "requests_per_minute" => "requests",
            "tokens_per_day" => "tokens",
            "cost_per_day_usd" => "cost-day",
            "cost_per_month_usd" => "cost-month",
            _ => "concurrent",
        };
        let remaining = (self.value - self.used).max(0.0);
        let values = [
            ("limit", number(self.value)),
            ("remaining", number(remaining)),
            ("reset", format!("{}s", self.retry_after().as_secs())),
        ];
        for (what, value) in values {
            let name = format!("x-ratelimit-{what}-{dimension}");
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.insert(name, value);
            }
        }
    }

    pub fn into_error(self) -> ApiError {
        ApiError::OverLimit(Box::new(self))
    }
}

/// Whole numbers without a fraction; amounts of money to the micro-dollar.
fn number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.6}")
    }
}

/// Why a send's statement stored nothing: the limit it breaks now (429), or else `otherwise`
/// (the statement's other reason: a conversation deleted meanwhile, an answer not regenerable).
pub async fn refused_or(pool: &PgPool, spender: Spender, otherwise: ApiError) -> ApiError {
    match refusal(pool, spender).await {
        Ok(Some(refusal)) => refusal.into_error(),
        Ok(None) => otherwise,
        Err(e) => e.into(),
    }
}

/// `otherwise` for a send that could only have been refused by a limit, which no longer
/// applies by the time we asked (another answer ended): try again at once.
pub fn limit_passed() -> ApiError {
    ApiError::Client {
        status: axum::http::StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limit_exceeded",
        message: "a limit was reached just now; try again".into(),
    }
}
