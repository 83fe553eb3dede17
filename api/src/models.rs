//! `GET /api/models`: the models a user may choose, for the web app's model picker and the
//! CLI's `/model`.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;

use crate::{auth::AuthUser, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/models", get(list))
}

#[derive(Serialize)]
struct ModelOut {
    id: String,
    display_name: String,
    /// The first deployment's provider: `demo`, `openai`, `anthropic` or `gemini`.
    provider: sluice_shared::config::ProviderKind,
    context_tokens: u32,
    max_output_tokens: u32,
    /// The model new conversations use unless another is chosen.
    default: bool,
}

async fn list(State(state): State<AppState>, _user: AuthUser) -> Json<serde_json::Value> {
    let items: Vec<ModelOut> = state
        .config
        .models
        .iter()
        .map(|(id, m)| ModelOut {
            id: id.clone(),
            display_name: m.display_name.clone().unwrap_or_else(|| id.clone()),
            provider: m.provider,
            context_tokens: m.context_tokens,
            max_output_tokens: m.max_output_tokens,
            default: *id == state.config.default_model,
        })
        .collect();
    Json(serde_json::json!({ "items": items }))
}
