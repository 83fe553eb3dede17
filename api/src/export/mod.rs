//! Exports: one conversation as JSON or Markdown (`GET /api/conversations/{id}/export`), and
//! the whole account as a zip streamed as it is written (`GET /api/export`): a JSON file per
//! conversation and a manifest with the folders.

pub mod document;
mod zip;

use axum::{
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::Id,
    state::AppState,
};
use document::ConversationDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversation))
        .routes(routes!(zip::account))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Format {
    /// The conversation and every message as stored (`sluice.conversation`, version 1).
    #[default]
    Json,
    /// For reading: the title, then each message under who wrote it.
    Md,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    /// `json` (the default) or `md`.
    #[param(inline)]
    format: Option<Format>,
}

/// One conversation, to download: JSON (every field) or Markdown (for reading).
#[utoipa::path(get, path = "/api/conversations/{id}/export", tag = "conversations",
    params(("id" = Uuid, Path, description = "The conversation"), ExportQuery),
    responses(
        (status = 200, description = "The conversation: JSON for `format=json`, Markdown for `format=md`",
            content((ConversationDoc = "application/json"), (String = "text/markdown"))),
        (status = 400, description = "`invalid_request`: an unknown format", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller's", body = ErrorBody),
    ))]
async fn conversation(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let doc = document::load(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let (content_type, extension, body) = match q.format.unwrap_or_default() {
        Format::Json => ("application/json", "json", serde_json::to_vec_pretty(&doc)?),
        Format::Md => (
            "text/markdown; charset=utf-8",
            "md",
            doc.markdown().into_bytes(),
        ),
    };
    let disposition = format!("attachment; filename=\"conversation-{id}.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
