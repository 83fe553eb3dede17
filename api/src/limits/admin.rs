//! Admins set limits per role (the defaults of everyone with it) and per user (overrides), and
//! see what a user has used. Behind the admin routes' `users.read`; changes need `users.write`.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Serialize;

use super::{
    check,
    store::{self, Limits, Subject, Used},
};
use crate::{
    auth::{AuthUser, roles},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    state::AppState,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleLimits {
    role: String,
    limits: Limits,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleLimitsOut {
    items: Vec<RoleLimits>,
}

/// A user's limits: their own overrides, what applies (overrides over their roles'), and what
/// they have used in the current windows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserLimitsOut {
    overrides: Limits,
    effective: Limits,
    used: Used,
}

/// Every role's limits.
#[utoipa::path(get, path = "/api/admin/limits", tag = "admin",
    responses(
        (status = 200, body = RoleLimitsOut),
        (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
    ))]
pub async fn role_limits(State(state): State<AppState>) -> ApiResult<Json<RoleLimitsOut>> {
    let items = store::by_role(&state.pool).await?;
    let items = (items.into_iter())
        .map(|(role, limits)| RoleLimits { role, limits })
        .collect();
    Ok(Json(RoleLimitsOut { items }))
}

/// Replaces a role's limits (every user with the role, unless their own override says
/// otherwise; a user with several roles gets the most generous). Nulls: no limit.
#[utoipa::path(put, path = "/api/admin/limits/roles/{role}", tag = "admin",
    params(("role" = String, Path, description = "`user`, `admin`, …")), request_body = Limits,
    responses(
        (status = 200, body = RoleLimits),
        (status = 400, description = "`invalid_limit`, bad JSON", body = ErrorBody),
        (status = 403, description = "The caller lacks `users.write`", body = ErrorBody),
        (status = 404, description = "No such role", body = ErrorBody),
    ))]
pub async fn set_role_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Path(role): Path<String>,
    ApiJson(limits): ApiJson<Limits>,
) -> ApiResult<Json<RoleLimits>> {
    roles::require(&state.pool, &user, "users.write").await?;
    check(&limits)?;
    let known = store::by_role(&state.pool).await?;
    if !known.iter().any(|(name, _)| *name == role) {
        return Err(ApiError::not_found("role"));
    }
    if !store::set(&state.pool, Subject::Role(&role), &limits).await? {
        return Err(ApiError::not_found("role"));
    }
    Ok(Json(RoleLimits { role, limits }))
}

/// A user's limits and what they have used.
#[utoipa::path(get, path = "/api/admin/users/{id}/limits", tag = "admin",
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, body = UserLimitsOut),
        (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn user_limits(
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<UserLimitsOut>> {
    crate::admin::user_exists(&state, id).await?;
    let overrides = store::get(&state.pool, Subject::User(id)).await?;
    let (effective, _) = store::effective(&state.pool, id, None).await?;
    let used = store::used(&state.pool, id).await?;
    Ok(Json(UserLimitsOut {
        overrides,
        effective,
        used,
    }))
}

/// Replaces a user's overrides (a null one: their roles' limit applies).
#[utoipa::path(put, path = "/api/admin/users/{id}/limits", tag = "admin",
    params(("id" = Uuid, Path, description = "The user")), request_body = Limits,
    responses(
        (status = 200, body = UserLimitsOut),
        (status = 400, description = "`invalid_limit`, bad JSON", body = ErrorBody),
        (status = 403, description = "The caller lacks `users.write`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn set_user_limits(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(limits): ApiJson<Limits>,
) -> ApiResult<Json<UserLimitsOut>> {
    roles::require(&state.pool, &user, "users.write").await?;
    check(&limits)?;
    crate::admin::user_exists(&state, id).await?;
    if !store::set(&state.pool, Subject::User(id), &limits).await? {
        return Err(ApiError::not_found("user"));
    }
    user_limits(State(state), Id(id)).await
}
