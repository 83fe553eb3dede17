//! `/healthz` (the process answers) and `/readyz` (its dependencies answer too).

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Value, json};

use crate::{error::ApiError, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when Postgres and NATS both answer within a second; 503 naming the one that does not.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(
        json!({ "status": "ready", "postgres": "ok", "nats": "ok" }),
    ))
}
