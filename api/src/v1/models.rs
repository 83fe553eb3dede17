//! `GET /v1/models` and `GET /v1/models/{id}`: the configured models, as OpenAI lists models.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{error::V1Error, schema};
use crate::{auth::AuthUser, state::AppState};

/// One model as OpenAI describes it. `created` is unknown for a configured model: 0.
fn model(id: &str) -> Value {
    json!({ "id": id, "object": "model", "created": 0, "owned_by": "sluice" })
}

/// The models the caller may use.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses(
        (status = 200, body = schema::ModelList),
        (status = 401, description = "`invalid_api_key`", body = schema::ErrorResponse),
    ))]
pub async fn list(State(state): State<AppState>, _user: AuthUser) -> Json<Value> {
    let data: Vec<Value> = state.config.models.keys().map(|id| model(id)).collect();
    Json(json!({ "object": "list", "data": data }))
}

/// One model.
#[utoipa::path(get, path = "/v1/models/{id}", tag = "openai",
    params(("id" = String, Path, description = "The model")),
    responses(
        (status = 200, body = schema::Model),
        (status = 404, description = "`model_not_found`", body = schema::ErrorResponse),
    ))]
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
