//! Admin routes, guarded by permissions (`users.read`, `users.write`) rather than role names:
//! list users, change a user's roles, disable a user (which ends all their sessions and keys
//! at once) or enable them again.

mod store;

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use sluice_shared::dto::Page;

use crate::{
    auth::{self, AuthUser, roles},
    cursor::{self, PageQuery},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id},
    state::AppState,
};
use store::AdminUserOut;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(set_roles))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(crate::limits::admin::role_limits))
        .routes(routes!(crate::limits::admin::set_role_limits))
        .routes(routes!(
            crate::limits::admin::user_limits,
            crate::limits::admin::set_user_limits
        ))
        .merge(crate::usage::admin_router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admins_only,
        ))
}

/// Every admin route needs at least `users.read`: checked before the request's input is
/// read, so a non-admin learns nothing from its validation. (Routes that change things also
/// ask for `users.write`.)
async fn admins_only(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::{extract::FromRequestParts, response::IntoResponse};
    let (mut parts, body) = request.into_parts();
    let checked = async {
        let user = AuthUser::from_request_parts(&mut parts, &state).await?;
        roles::require(&state.pool, &user, "users.read").await?;
        Ok::<_, ApiError>(user)
    };
    match checked.await {
        Ok(user) => {
            parts.extensions.insert(user);
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Err(error) => error.into_response(),
    }
}

/// Every account, newest first.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(PageQuery),
    responses(
        (status = 200, body = Page<AdminUserOut>),
        (status = 403, description = "The caller lacks `users.read`", body = ErrorBody),
    ))]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RolesIn {
    roles: Vec<String>,
}

/// Replaces a user's roles: `{roles: ["user", "admin"]}`.
#[utoipa::path(put, path = "/api/admin/users/{id}/roles", tag = "admin",
    params(("id" = Uuid, Path, description = "The user")), request_body = RolesIn,
    responses(
        (status = 200, body = AdminUserOut),
        (status = 403, description = "The caller lacks `users.write`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`own_admin_role`: an admin cannot drop their own; `last_admin`: no enabled admin would remain", body = ErrorBody),
        (status = 422, description = "`unknown_role`", body = ErrorBody),
    ))]
async fn set_roles(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    ApiJson(input): ApiJson<RolesIn>,
) -> ApiResult<Json<AdminUserOut>> {
    let mut tx = admin_change(&state, &user).await?;
    if id == user.user_id && !input.roles.iter().any(|r| r == "admin") {
        return Err(ApiError::conflict(
            "own_admin_role",
            "you cannot remove your own admin role; ask another admin",
        ));
    }
    store::one(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !store::set_roles(&mut tx, id, &input.roles).await? {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_role",
            "every role must be one of the roles table (user, admin, ...)",
        ));
    }
    commit_keeping_an_admin(tx).await?;
    found(&state, id).await
}

/// Disables a user: their tokens and keys stop working at once.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin",
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, body = AdminUserOut),
        (status = 403, description = "The caller lacks `users.write`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`own_account`: an admin cannot disable their own; `last_admin`: no enabled admin would remain", body = ErrorBody),
    ))]
async fn disable(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Json<AdminUserOut>> {
    let mut tx = admin_change(&state, &user).await?;
    if id == user.user_id {
        return Err(ApiError::conflict(
            "own_account",
            "you cannot disable your own account",
        ));
    }
    store::one(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    store::disable(&mut tx, id).await?;
    commit_keeping_an_admin(tx).await?;
    found(&state, id).await
}

/// Enables a user again: they may sign in.
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin",
    params(("id" = Uuid, Path, description = "The user")),
    responses(
        (status = 200, body = AdminUserOut),
        (status = 403, description = "The caller lacks `users.write`", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
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

/// Opens the transaction of a change to users' roles or access, as one who may make it. Every
/// such change first locks the enabled admins' rows, so two admins acting on each other at the
/// same instant go one after the other: the second is checked against the first's change (it
/// may have taken their admin role).
async fn admin_change(
    state: &AppState,
    user: &AuthUser,
) -> ApiResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = state.pool.begin().await?;
    auth::store::lock_enabled_admins(&mut tx).await?;
    roles::require(&mut *tx, user, "users.write").await?;
    Ok(tx)
}

/// Commits an admin change unless it left no enabled admin (409 `last_admin`; nothing changes).
async fn commit_keeping_an_admin(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
) -> ApiResult<()> {
    if auth::store::lock_enabled_admins(&mut tx).await?.is_empty() {
        return Err(ApiError::conflict(
            "last_admin",
            "this would leave no enabled admin",
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// 404 unless user `id` exists.
pub async fn user_exists(state: &AppState, id: uuid::Uuid) -> ApiResult<()> {
    store::one(&state.pool, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("user"))
}
