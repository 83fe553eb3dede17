//! Usage you can see: requests, tokens, cost, time to first token and latency percentiles,
//! error rates — `/api/usage/{overview,timeseries,latency,cost,errors}` for the caller
//! (`own.rs`), `/api/admin/usage/…` for everyone, or one user or key (`admin.rs`). Both answer
//! with the same bodies, built here from the rollup the answer-storing statement keeps
//! (`store.rs`), never by scanning messages.

mod admin;
mod histogram;
mod own;
mod query;
mod store;

use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{error::ApiResult, state::AppState};
use histogram::Percentiles;
pub use query::{AdminUsageQuery, Interval, Range, UsageQuery, UserFilter};

/// The caller's own usage.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(own::overview))
        .routes(routes!(own::timeseries))
        .routes(routes!(own::latency))
        .routes(routes!(own::cost))
        .routes(routes!(own::errors))
}

/// Everyone's (behind the admin routes' layer).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin::overview))
        .routes(routes!(admin::timeseries))
        .routes(routes!(admin::latency))
        .routes(routes!(admin::cost))
        .routes(routes!(admin::errors))
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
