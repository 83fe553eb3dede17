//! `GET /v1/models` and `GET /v1/models/{id}`: the configured models, as OpenAI lists models.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::error::V1Error;
use crate::{auth::AuthUser, state::AppState};

/// One model as OpenAI describes it. `created` is unknown for a configured model: 0.
fn model(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "sluice" })
}

pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Json<Value> {
    let data: Vec<Value> = state.config.models.keys().map(|id| model(id)).collect();
    Json(json!({ "object": "list", "data": data }))
}

pub async fn show(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, V1Error> {
    match state.config.model(&id) {
        Some(_) => Ok(Json(model(&id))),
        None => Err(V1Error::model_not_found(&id)),
    }
}
