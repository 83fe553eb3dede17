//! `POST /api/import`: conversations from an export — Sluice's own (a conversation's JSON, or
//! the account zip) or ChatGPT's data export (`conversations.json`, alone or in its zip) —
//! into the caller's account, keeping titles, times, folders and favorites. The upload is
//! spooled to a temporary file as it arrives (size-limited), read, checked whole, then stored
//! in one transaction: a bad record is a 422 naming it, and nothing is imported.

mod chatgpt;
mod files;
mod read;
mod sluice;
mod store;

use axum::{
    Json,
    extract::{DefaultBodyLimit, Request, State},
    http::StatusCode,
};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    export::document::ConversationDoc,
    groups,
    state::AppState,
    stream::account::{self, AccountEvent},
    upload,
};

pub fn router() -> OpenApiRouter<AppState> {
    // The upload is limited while it is spooled (`import_limit_bytes`), not by the API's
    // request body limit.
    OpenApiRouter::new()
        .routes(routes!(import))
        .layer(DefaultBodyLimit::disable())
}

/// Imports read and stored at once per API process.
static AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The multipart form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ImportForm {
    /// The export: a zip or a JSON file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportedOut {
    /// The new conversations, in the order the export held them.
    conversation_ids: Vec<Uuid>,
    messages: u64,
    /// Folders made for the import (folders of the same name that existed are reused).
    folders_created: u64,
}

/// Imports conversations from an export file: Sluice's (a conversation's JSON from
/// `GET /api/conversations/{id}/export`, or the zip from `GET /api/export`, with the files its
/// questions carry) or ChatGPT's data export (its zip, or `conversations.json`: the branch last
/// shown of each conversation).
/// Send it as multipart field `file`, or as the whole body (`application/json`,
/// `application/zip`). All or nothing.
#[utoipa::path(post, path = "/api/import", tag = "conversations",
    request_body(description = "The export file",
        content((ImportForm = "multipart/form-data"), (ConversationDoc = "application/json"),
            (Vec<u8> = "application/zip"))),
    responses(
        (status = 201, description = "Imported", body = ImportedOut),
        (status = 400, description = "`invalid_form` / `missing_file`: a form without its `file`", body = ErrorBody),
        (status = 413, description = "`file_too_large`: past `import_limit_bytes` (a zip: 4 times it, unpacked), or a carried file past `[files] max_file_bytes`; `file_quota_exceeded`: the carried files past the caller's quota", body = ErrorBody),
        (status = 415, description = "`unsupported_file_type`: a carried file that is not text, a PDF or an image", body = ErrorBody),
        (status = 422, description = "`invalid_import`: not an export Sluice reads, or a record that cannot be stored (named); `too_many_groups`", body = ErrorBody),
    ))]
async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    request: Request,
) -> ApiResult<(StatusCode, Json<ImportedOut>)> {
    let limit = state.config.import_limit_bytes;
    let spooled = tempfile::tempfile().map_err(|e| {
        tracing::error!(error = %e, "no temporary file for an import");
        ApiError::unavailable("the import cannot be received just now: try again in a moment")
    })?;
    let mut file = tokio::fs::File::from_std(spooled);
    let received = upload::receive(request, limit, &mut file).await?;
    if received.bytes == 0 {
        return Err(ApiError::unfit("invalid_import", "the file is empty"));
    }
    // Reading and storing take memory and a connection: a few imports at a time, the others
    // waiting with their upload spooled on disk.
    let _turn = AT_ONCE
        .acquire()
        .await
        .map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    let name = received.file_name;
    let unpacked_limit = limit.saturating_mul(4);
    let batch = read::read(file, name, unpacked_limit, &state.config.default_model).await?;
    let stored = store::store(&state, user.user_id, batch, groups::MAX_GROUPS).await?;
    tracing::info!(
        conversations = stored.conversations.len(),
        messages = stored.messages,
        "imported"
    );
    account::publish(
        &state,
        user.user_id,
        AccountEvent::Imported {
            conversations: stored.conversations.len() as u64,
        },
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(ImportedOut {
            conversation_ids: stored.conversations,
            messages: stored.messages,
            folders_created: stored.folders_created,
        }),
    ))
}
