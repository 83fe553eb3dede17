//! `GET /api/models`: the models a user may choose, for the web app's model picker and the
//! CLI's `/model`.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{auth::AuthUser, state::AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Serialize, ToSchema)]
struct ModelsOut {
    items: Vec<ModelOut>,
}

#[derive(Serialize, ToSchema)]
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

/// The configured models.
#[utoipa::path(get, path = "/api/models", tag = "models", responses((status = 200, body = ModelsOut)))]
async fn list(State(state): State<AppState>, _user: AuthUser) -> Json<ModelsOut> {
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
    Json(ModelsOut { items })
}
