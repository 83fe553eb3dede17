//! Everyone's usage, or one user's or key's: `/api/admin/usage/…` (behind the admin routes'
//! `users.read`).

use axum::{Json, extract::State};

use super::{
    AdminUsageQuery, CostOut, ErrorsOut, LatencyOut, OverviewOut, Range, TimeseriesOut, UsageQuery,
    UserFilter, cost_of, errors_of, latency_of, overview_of, store, timeseries_of,
};
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
};

/// An admin's range: everyone, or the `user` filter, or the owner of the `key` filter.
async fn everyone(state: &AppState, q: AdminUsageQuery) -> ApiResult<Range> {
    let user = match (q.user, q.query.key) {
        (Some(user), _) => Some(user),
        (None, Some(key)) => Some(
            store::key_owner(&state.pool, key)
                .await?
                .ok_or_else(|| ApiError::not_found("API key"))?,
        ),
        (None, None) => None,
    };
    q.query.range(user)
}

/// Everyone's totals (or one user's, or one key's).
#[utoipa::path(get, path = "/api/admin/usage/overview", tag = "admin", params(UsageQuery, UserFilter),
    responses((status = 200, body = OverviewOut),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
pub(super) async fn overview(
    State(state): State<AppState>,
    q: AdminUsageQuery,
) -> ApiResult<Json<OverviewOut>> {
    let range = everyone(&state, q).await?;
    overview_of(&state, range).await
}

/// Everyone's time series.
#[utoipa::path(get, path = "/api/admin/usage/timeseries", tag = "admin", params(UsageQuery, UserFilter),
    responses((status = 200, body = TimeseriesOut),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
pub(super) async fn timeseries(
    State(state): State<AppState>,
    q: AdminUsageQuery,
) -> ApiResult<Json<TimeseriesOut>> {
    let range = everyone(&state, q).await?;
    timeseries_of(&state, range).await
}

/// Everyone's latency by provider and model.
#[utoipa::path(get, path = "/api/admin/usage/latency", tag = "admin", params(UsageQuery, UserFilter),
    responses((status = 200, body = LatencyOut),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
pub(super) async fn latency(
    State(state): State<AppState>,
    q: AdminUsageQuery,
) -> ApiResult<Json<LatencyOut>> {
    let range = everyone(&state, q).await?;
    latency_of(&state, range).await
}

/// Everyone's cost by bucket and model.
#[utoipa::path(get, path = "/api/admin/usage/cost", tag = "admin", params(UsageQuery, UserFilter),
    responses((status = 200, body = CostOut),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
pub(super) async fn cost(
    State(state): State<AppState>,
    q: AdminUsageQuery,
) -> ApiResult<Json<CostOut>> {
    let range = everyone(&state, q).await?;
    cost_of(&state, range).await
}

/// Everyone's error rate by code.
#[utoipa::path(get, path = "/api/admin/usage/errors", tag = "admin", params(UsageQuery, UserFilter),
    responses((status = 200, body = ErrorsOut),
              (status = 422, description = "`invalid_range`: from after to, or over 1000 buckets", body = ErrorBody),
              (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
              (status = 404, description = "No such API key", body = ErrorBody)))]
pub(super) async fn errors(
    State(state): State<AppState>,
    q: AdminUsageQuery,
) -> ApiResult<Json<ErrorsOut>> {
    let range = everyone(&state, q).await?;
    errors_of(&state, range).await
}
