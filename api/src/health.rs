//! `/healthz` (the process answers) and `/readyz` (its dependencies answer too).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
struct Ready {
    /// `ready`
    status: &'static str,
    postgres: &'static str,
    nats: &'static str,
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 when Postgres and NATS both answer within a second; 503 naming the one that does not.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "`dependency_down`, naming which", body = ErrorBody),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let limit = Duration::from_secs(1);
    let postgres = tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.pool)).await;
    let nats = tokio::time::timeout(limit, state.events.get_info()).await;
    let mut down = Vec::new();
    if !matches!(postgres, Ok(Ok(_))) {
        down.push("postgres");
    }
    if !matches!(nats, Ok(Ok(_))) {
        down.push("nats");
    }
    if !down.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dependency_down",
            format!("unavailable: {}", down.join(", ")),
        ));
    }
    Ok(Json(Ready {
        status: "ready",
        postgres: "ok",
        nats: "ok",
    }))
}
