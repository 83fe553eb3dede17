//! The caller's own usage: `/api/usage/…`.

use axum::{
    Json,
    extract::{Query, State},
};

use super::{
    CostOut, ErrorsOut, LatencyOut, OverviewOut, Range, TimeseriesOut, UsageQuery, cost_of,
    errors_of, latency_of, overview_of, timeseries_of,
};
use crate::{
    auth::AuthUser,
    error::{ApiResult, ErrorBody},
    state::AppState,
};

/// The caller's range: their own usage.
fn own(user: &AuthUser, q: UsageQuery) -> ApiResult<Range> {
    q.range(Some(user.user_id))
}

/// Totals of the caller's answers: requests, errors, tokens, cost, percentiles.
#[utoipa::path(get, path = "/api/usage/overview", tag = "usage", params(UsageQuery),
    responses((status = 200, body = OverviewOut),
              (status = 400, description = "`invalid_request`", body = ErrorBody),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody)))]
pub(super) async fn overview(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<OverviewOut>> {
    overview_of(&state, own(&user, q)?).await
}

/// The caller's requests, errors, tokens and cost per bucket of `interval`.
#[utoipa::path(get, path = "/api/usage/timeseries", tag = "usage", params(UsageQuery),
    responses((status = 200, body = TimeseriesOut),
              (status = 400, description = "`invalid_request`", body = ErrorBody),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody)))]
pub(super) async fn timeseries(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<TimeseriesOut>> {
    timeseries_of(&state, own(&user, q)?).await
}

/// Time to first token and latency percentiles of the caller's answers, by provider and model.
#[utoipa::path(get, path = "/api/usage/latency", tag = "usage", params(UsageQuery),
    responses((status = 200, body = LatencyOut),
              (status = 400, description = "`invalid_request`", body = ErrorBody),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody)))]
pub(super) async fn latency(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<LatencyOut>> {
    latency_of(&state, own(&user, q)?).await
}

/// The caller's cost and tokens per bucket (`interval=1D`: by day) and model.
#[utoipa::path(get, path = "/api/usage/cost", tag = "usage", params(UsageQuery),
    responses((status = 200, body = CostOut),
              (status = 400, description = "`invalid_request`", body = ErrorBody),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody)))]
pub(super) async fn cost(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<CostOut>> {
    cost_of(&state, own(&user, q)?).await
}

/// The caller's error rate, by error code.
#[utoipa::path(get, path = "/api/usage/errors", tag = "usage", params(UsageQuery),
    responses((status = 200, body = ErrorsOut),
              (status = 400, description = "`invalid_request`", body = ErrorBody),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody)))]
pub(super) async fn errors(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<ErrorsOut>> {
    errors_of(&state, own(&user, q)?).await
}
