//! Usage you can see: requests, tokens, cost, time to first token and latency percentiles,
//! error rates — `/api/usage/{overview,timeseries,latency,cost,errors}` for the caller,
//! `/api/admin/usage/…` for everyone (filter by user, model, provider, key). Read from the
//! rollup the answer-storing statement keeps (`store.rs`), never by scanning messages.

mod histogram;
mod query;
mod store;

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
};
use histogram::Percentiles;
pub use query::{Interval, Range, UsageQuery};

/// The caller's own usage.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(timeseries))
        .routes(routes!(latency))
        .routes(routes!(cost))
        .routes(routes!(errors))
}

/// Everyone's (behind the admin routes' layer).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_overview))
        .routes(routes!(admin_timeseries))
        .routes(routes!(admin_latency))
        .routes(routes!(admin_cost))
        .routes(routes!(admin_errors))
}

/// What every answer says of its range.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Window {
    interval: Interval,
    from: DateTime<Utc>,
    /// Exclusive.
    to: DateTime<Utc>,
}

impl From<&Range> for Window {
    fn from(range: &Range) -> Self {
        Self {
            interval: range.interval,
            from: range.from,
            to: range.to,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OverviewOut {
    #[serde(flatten)]
    window: Window,
    requests: i64,
    errors: i64,
    cancelled: i64,
    /// Errors over requests (0 without requests).
    error_rate: f64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
    ttft_ms: Percentiles,
    latency_ms: Percentiles,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PointOut {
    start: DateTime<Utc>,
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TimeseriesOut {
    #[serde(flatten)]
    window: Window,
    /// Every bucket of the range, oldest first, empty ones included.
    points: Vec<PointOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelLatencyOut {
    provider: Option<String>,
    model: String,
    requests: i64,
    ttft_ms: Percentiles,
    latency_ms: Percentiles,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LatencyOut {
    #[serde(flatten)]
    window: Window,
    /// By provider and model, busiest first.
    items: Vec<ModelLatencyOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelCostOut {
    start: DateTime<Utc>,
    model: String,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CostOut {
    #[serde(flatten)]
    window: Window,
    /// By bucket (oldest first), then model; buckets without answers are left out.
    points: Vec<ModelCostOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorCodeOut {
    code: String,
    count: i64,
    /// Of all requests in the range.
    rate: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorsOut {
    #[serde(flatten)]
    window: Window,
    requests: i64,
    errors: i64,
    error_rate: f64,
    /// By code, most frequent first.
    items: Vec<ErrorCodeOut>,
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

async fn overview_of(state: &AppState, range: Range) -> ApiResult<Json<OverviewOut>> {
    let (t, ttft, latency) = store::totals(&state.pool, &range).await?;
    Ok(Json(OverviewOut {
        window: Window::from(&range),
        requests: t.requests,
        errors: t.errors,
        cancelled: t.cancelled,
        error_rate: rate(t.errors, t.requests),
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cost_usd: t.cost_usd,
        ttft_ms: ttft.percentiles(),
        latency_ms: latency.percentiles(),
    }))
}

async fn timeseries_of(state: &AppState, range: Range) -> ApiResult<Json<TimeseriesOut>> {
    let points = store::series(&state.pool, &range).await?;
    let points = (points.into_iter())
        .map(|p| PointOut {
            start: p.start,
            requests: p.requests,
            errors: p.errors,
            input_tokens: p.input_tokens,
            output_tokens: p.output_tokens,
            cost_usd: p.cost_usd,
        })
        .collect();
    Ok(Json(TimeseriesOut {
        window: Window::from(&range),
        points,
    }))
}

async fn latency_of(state: &AppState, range: Range) -> ApiResult<Json<LatencyOut>> {
    let rows = store::latency(&state.pool, &range).await?;
    let items = (rows.into_iter())
        .map(|m| ModelLatencyOut {
            ttft_ms: histogram::Histogram::from(&m.ttft).percentiles(),
            latency_ms: histogram::Histogram::from(&m.latency).percentiles(),
            provider: m.provider,
            model: m.model,
            requests: m.requests,
        })
        .collect();
    Ok(Json(LatencyOut {
        window: Window::from(&range),
        items,
    }))
}

async fn cost_of(state: &AppState, range: Range) -> ApiResult<Json<CostOut>> {
    let rows = store::cost(&state.pool, &range).await?;
    let points = (rows.into_iter())
        .map(|c| ModelCostOut {
            start: c.start,
            model: c.model,
            requests: c.requests,
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            cost_usd: c.cost_usd,
        })
        .collect();
    Ok(Json(CostOut {
        window: Window::from(&range),
        points,
    }))
}

async fn errors_of(state: &AppState, range: Range) -> ApiResult<Json<ErrorsOut>> {
    let (requests, errors) = store::counts(&state.pool, &range).await?;
    let codes = store::errors(&state.pool, &range).await?;
    let items = (codes.into_iter())
        .map(|e| ErrorCodeOut {
            rate: rate(e.count, requests),
            code: e.code,
            count: e.count,
        })
        .collect();
    Ok(Json(ErrorsOut {
        window: Window::from(&range),
        requests,
        errors,
        error_rate: rate(errors, requests),
        items,
    }))
}

/// The caller's range: their own usage (a `user` filter is for admins).
fn own(user: &AuthUser, q: UsageQuery) -> ApiResult<Range> {
    if q.user.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "`user` is for admins (/api/admin/usage/…); this is your own usage",
        ));
    }
    q.range(Some(user.user_id))
}

/// An admin's range: everyone, or the `user` filter, or the owner of the `key` filter.
async fn everyone(state: &AppState, q: UsageQuery) -> ApiResult<Range> {
    let user = match (q.user, q.key) {
        (Some(user), _) => Some(user),
        (None, Some(key)) => Some(
            store::key_owner(&state.pool, key)
                .await?
                .ok_or_else(|| ApiError::not_found("API key"))?,
        ),
        (None, None) => None,
    };
    q.range(user)
}

/// Totals of the caller's answers: requests, errors, tokens, cost, percentiles.
#[utoipa::path(get, path = "/api/usage/overview", tag = "usage", params(UsageQuery),
    responses((status = 200, body = OverviewOut),
              (status = 400, description = "`invalid_range`, `invalid_request`", body = ErrorBody)))]
async fn overview(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<OverviewOut>> {
    overview_of(&state, own(&user, q)?).await
}

/// The caller's requests, errors, tokens and cost per bucket of `interval`.
#[utoipa::path(get, path = "/api/usage/timeseries", tag = "usage", params(UsageQuery),
    responses((status = 200, body = TimeseriesOut),
              (status = 400, description = "`invalid_range`, `invalid_request`", body = ErrorBody)))]
async fn timeseries(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<TimeseriesOut>> {
    timeseries_of(&state, own(&user, q)?).await
}

/// Time to first token and latency percentiles of the caller's answers, by provider and model.
#[utoipa::path(get, path = "/api/usage/latency", tag = "usage", params(UsageQuery),
    responses((status = 200, body = LatencyOut),
              (status = 400, description = "`invalid_range`, `invalid_request`", body = ErrorBody)))]
async fn latency(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<LatencyOut>> {
    latency_of(&state, own(&user, q)?).await
}

/// The caller's cost and tokens per bucket (`interval=1D`: by day) and model.
#[utoipa::path(get, path = "/api/usage/cost", tag = "usage", params(UsageQuery),
    responses((status = 200, body = CostOut),
              (status = 400, description = "`invalid_range`, `invalid_request`", body = ErrorBody)))]
async fn cost(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<CostOut>> {
    cost_of(&state, own(&user, q)?).await
}

/// The caller's error rate, by error code.
#[utoipa::path(get, path = "/api/usage/errors", tag = "usage", params(UsageQuery),
    responses((status = 200, body = ErrorsOut),
              (status = 400, description = "`invalid_range`, `invalid_request`", body = ErrorBody)))]
async fn errors(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<ErrorsOut>> {
    errors_of(&state, own(&user, q)?).await
}

/// Everyone's totals (or one user's, or one key's).
#[utoipa::path(get, path = "/api/admin/usage/overview", tag = "admin", params(UsageQuery),
    responses((status = 200, body = OverviewOut),
              (status = 400, description = "`invalid_range`", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
async fn admin_overview(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<OverviewOut>> {
    let range = everyone(&state, q).await?;
    overview_of(&state, range).await
}

/// Everyone's time series.
#[utoipa::path(get, path = "/api/admin/usage/timeseries", tag = "admin", params(UsageQuery),
    responses((status = 200, body = TimeseriesOut),
              (status = 400, description = "`invalid_range`", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
async fn admin_timeseries(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<TimeseriesOut>> {
    let range = everyone(&state, q).await?;
    timeseries_of(&state, range).await
}

/// Everyone's latency by provider and model.
#[utoipa::path(get, path = "/api/admin/usage/latency", tag = "admin", params(UsageQuery),
    responses((status = 200, body = LatencyOut),
              (status = 400, description = "`invalid_range`", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
async fn admin_latency(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<LatencyOut>> {
    let range = everyone(&state, q).await?;
    latency_of(&state, range).await
}

/// Everyone's cost by bucket and model.
#[utoipa::path(get, path = "/api/admin/usage/cost", tag = "admin", params(UsageQuery),
    responses((status = 200, body = CostOut),
              (status = 400, description = "`invalid_range`", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
async fn admin_cost(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<CostOut>> {
    let range = everyone(&state, q).await?;
    cost_of(&state, range).await
}

/// Everyone's error rate by code.
#[utoipa::path(get, path = "/api/admin/usage/errors", tag = "admin", params(UsageQuery),
    responses((status = 200, body = ErrorsOut),
              (status = 400, description = "`invalid_range`", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
async fn admin_errors(
    State(state): State<AppState>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<ErrorsOut>> {
    let range = everyone(&state, q).await?;
    errors_of(&state, range).await
}
