//! Admin routes, guarded by permissions (`users.read`, `users.write`) rather than role names:
//! list users, change a user's roles, disable a user (which ends all their sessions and keys
//! at once) or enable them again.

mod store;

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    routing::{get, post, put},
};
use serde::Deserialize;
use sluice_shared::dto::Page;

use crate::{
    auth::{AuthUser, roles},
    cursor::{self, PageQuery},
    error::{ApiError, ApiResult},
    extract::{ApiJson, Id},
    state::AppState,
};
use store::AdminUserOut;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}/roles", put(set_roles))
        .route("/api/admin/users/{id}/disable", post(disable))
        .route("/api/admin/users/{id}/enable", post(enable))
}

/// `GET /api/admin/users?cursor&limit`: every account, newest first.
async fn list_users(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<AdminUserOut>>> {
    roles::require(&state.pool, &user, "users.read").await?;
    let limit = page.limit()?;
    let items = store::page(&state.pool, page.after()?, limit).await?;
    let next_cursor = cursor::next(&items, limit, |u| (u.created_at, u.id));
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesIn {
    roles: Vec<String>,
}

/// `PUT /api/admin/users/{id}/roles` `{roles: ["user", "admin"]}`.
async fn set_roles(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(input): ApiJson<RolesIn>,
) -> ApiResult<Json<AdminUserOut>> {
    roles::require(&state.pool, &user, "users.write").await?;
    if id == user.user_id && !input.roles.iter().any(|r| r == "admin") {
        return Err(ApiError::conflict(
            "own_admin_role",
            "you cannot remove your own admin role; ask another admin",
        ));
    }
    store::one(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !store::set_roles(&state.pool, id, &input.roles).await? {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_role",
            "every role must be one of the roles table (user, admin, ...)",
        ));
    }
    found(&state, id).await
}

/// `POST /api/admin/users/{id}/disable`: the user's tokens and keys stop working at once.
async fn disable(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<AdminUserOut>> {
    roles::require(&state.pool, &user, "users.write").await?;
    if id == user.user_id {
        return Err(ApiError::conflict(
            "own_account",
            "you cannot disable your own account",
        ));
    }
    store::one(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    store::disable(&state.pool, id).await?;
    found(&state, id).await
}

/// `POST /api/admin/users/{id}/enable`: the user may sign in again.
async fn enable(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<AdminUserOut>> {
    roles::require(&state.pool, &user, "users.write").await?;
    store::enable(&state.pool, id).await?;
    found(&state, id).await
}

async fn found(state: &AppState, id: uuid::Uuid) -> ApiResult<Json<AdminUserOut>> {
    store::one(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("user"))
}
