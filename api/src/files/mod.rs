//! `/api/files`: attachments. A file is uploaded (streamed to the object store as it arrives,
//! its type told by its content, its text read once: a text file's own, a PDF's extracted),
//! then sent with a question (`attachments` of a send, `attach.rs`), where the worker puts it
//! in the prompt. Served back only to its owner, as a download.

pub mod attach;
pub mod cleanup;
mod extract;
mod sniff;
pub mod store;

use axum::{
    Json,
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::TryStreamExt;
use object_store::{ObjectStore, buffered::BufWriter, path::Path};
use serde::Serialize;
use sluice_shared::{
    dto::FileOut,
    files::{attachment_disposition, key},
    title::is_unsafe_in_name,
};
use tokio::io::AsyncWriteExt;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::Id,
    state::AppState,
    upload,
};
use sniff::Kind;

pub fn router() -> OpenApiRouter<AppState> {
    // Uploads are limited while they stream (`[files] max_file_bytes`), not by the API's
    // request body limit.
    OpenApiRouter::new()
        .routes(routes!(upload_file, list))
        .routes(routes!(download, remove))
        .layer(DefaultBodyLimit::disable())
}

/// Longest file name kept, in characters.
const NAME_CHARS: usize = 200;

/// The multipart form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct FileForm {
    /// The file: text (UTF-8), a PDF, or a PNG, JPEG, GIF or WebP image.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FilesOut {
    items: Vec<FileOut>,
    /// Bytes the caller's files hold, and the most they may.
    used_bytes: i64,
    max_bytes: i64,
}

/// Uploads a file to send with a question (`attachments` of a send). Multipart field `file`,
/// or the whole body with its name in `Content-Disposition: attachment; filename="…"`.
/// Text, PDFs and images (PNG, JPEG, GIF, WebP) are taken, told by their content.
#[utoipa::path(post, path = "/api/files", tag = "files",
    request_body(description = "The file",
        content((FileForm = "multipart/form-data"), (Vec<u8> = "application/octet-stream"))),
    responses(
        (status = 201, description = "Stored", body = FileOut),
        (status = 400, description = "`invalid_form` / `missing_file`: a form without its `file`", body = ErrorBody),
        (status = 413, description = "`file_too_large` (past `[files] max_file_bytes`) or `file_quota_exceeded` (past `max_user_bytes` with the caller's other files)", body = ErrorBody),
        (status = 415, description = "`unsupported_file_type`: not text, a PDF or an image", body = ErrorBody),
        (status = 422, description = "`unreadable_pdf`: a PDF whose text cannot be read; `empty_file`", body = ErrorBody),
    ))]
async fn upload_file(
    State(state): State<AppState>,
    user: AuthUser,
    request: Request,
) -> ApiResult<(StatusCode, Json<FileOut>)> {
    let limits = &state.config.files;
    let used = store::used_bytes(&state.pool, user.user_id).await?;
    if used >= limits.max_user_bytes as i64 {
        return Err(quota_exceeded(limits.max_user_bytes));
    }
    let id = Uuid::now_v7();
    let key = key(user.user_id, id);
    let mut writer = BufWriter::new(state.files.clone(), key.clone());
    let received = match upload::receive(request, limits.max_file_bytes, &mut writer).await {
        Ok(received) => received,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    if let Err(e) = writer.shutdown().await {
        tracing::error!(error = %e, "an upload could not be stored");
        return Err(ApiError::unavailable(
            "the file could not be stored just now: try again in a moment",
        ));
    }
    // Its own task from here: a client that leaves now (a PDF takes a moment to read) must not
    // leave the object stored without its row.
    let owner = user.user_id;
    let stored = tokio::spawn(async move {
        let stored = describe_and_record(&state, owner, id, &key, received).await;
        if stored.is_err() {
            // Refused after it was written: nothing of it stays.
            if let Err(e) = state.files.delete(&key).await {
                tracing::warn!(error = %e, %key, "a refused upload could not be deleted");
            }
        }
        stored
    })
    .await
    .map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    Ok((StatusCode::CREATED, Json(stored?)))
}

/// Tells the stored upload's kind, reads its text, and records it (within the owner's quota).
async fn describe_and_record(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
    key: &Path,
    received: upload::Received,
) -> ApiResult<FileOut> {
    let limits = &state.config.files;
    let file = describe(state, key, &received).await?;
    let row = store::NewFile {
        id,
        owner,
        name: &file.name,
        content_type: file.content_type,
        bytes: file.bytes,
        text: file.text.as_ref().map(|t| t.text.as_str()),
        text_chars: file.text.as_ref().map(|t| t.chars as i64),
    };
    store::insert(&state.pool, row, limits.max_user_bytes as i64)
        .await?
        .ok_or_else(|| quota_exceeded(limits.max_user_bytes))
}

/// A stored file, as its row will say.
pub(crate) struct Described {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: i64,
    pub text: Option<extract::Extracted>,
}

/// What the stored object at `key` is (by its first bytes) and its text, once.
pub(crate) async fn describe(
    state: &AppState,
    key: &Path,
    received: &upload::Received,
) -> ApiResult<Described> {
    if received.bytes == 0 {
        return Err(ApiError::unfit("empty_file", "the file is empty"));
    }
    let kind = sniff::sniff(&received.head).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_file_type",
            "only text (UTF-8), PDFs and images (PNG, JPEG, GIF, WebP) can be attached: \
             this file's content is none of them",
        )
    })?;
    let name = file_name(received.file_name.as_deref());
    let store = state.files.as_ref();
    let max_chars = state.config.files.max_text_chars;
    let text = match kind {
        Kind::Text => Some(extract::text(store, key, max_chars).await?),
        Kind::Pdf => Some(extract::pdf(store, key, max_chars).await?),
        Kind::Image(_) => None,
    };
    Ok(Described {
        content_type: kind.content_type(&name),
        name,
        bytes: received.bytes as i64,
        text,
    })
}

/// Writes `from` to the store under `key` (an import's file), as an upload would be.
pub(crate) async fn store_copy(
    state: &AppState,
    key: &Path,
    name: &str,
    from: &mut (impl tokio::io::AsyncRead + Unpin),
) -> ApiResult<upload::Received> {
    let mut writer = BufWriter::new(state.files.clone(), key.clone());
    let limit = state.config.files.max_file_bytes;
    let copied = upload::copy_from(from, limit, &mut writer).await;
    let received = match copied {
        Ok(received) => received,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    writer.shutdown().await.map_err(|e| {
        tracing::error!(error = %e, "an imported file could not be stored");
        ApiError::unavailable("a file could not be stored just now: try again in a moment")
    })?;
    Ok(upload::Received {
        file_name: Some(name.to_string()),
        ..received
    })
}

/// The name as sent, without folders or characters that do not belong in a name.
fn file_name(sent: Option<&str>) -> String {
    let base = sent.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .replace(is_unsafe_in_name, "")
        .trim()
        .chars()
        .take(NAME_CHARS)
        .collect();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

pub(crate) fn quota_exceeded(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_quota_exceeded",
        format!(
            "your files would hold more than {max} bytes together, the most allowed: delete some first"
        ),
    )
}

/// The caller's files, newest first, and how much of their quota they use.
#[utoipa::path(get, path = "/api/files", tag = "files",
    responses((status = 200, body = FilesOut)))]
async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<FilesOut>> {
    let items = store::list(&state.pool, user.user_id).await?;
    let used_bytes = items.iter().map(|f| f.bytes).sum();
    Ok(Json(FilesOut {
        items,
        used_bytes,
        max_bytes: state.config.files.max_user_bytes as i64,
    }))
}

/// The file, as a download (never shown as a page of this site).
#[utoipa::path(get, path = "/api/files/{id}", tag = "files",
    params(("id" = Uuid, Path, description = "The file")),
    responses(
        (status = 200, description = "The file's bytes, as `Content-Disposition: attachment`, typed as its content is",
            content((String = "text/plain"), (String = "text/markdown"), (String = "text/csv"),
                (Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"),
                (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"))),
        (status = 404, description = "No such file of the caller's", body = ErrorBody),
    ))]
async fn download(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<Response> {
    let file = store::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let object = match state.files.get(&key(user.user_id, id)).await {
        Ok(object) => object,
        // Deleted between the row's read and now.
        Err(object_store::Error::NotFound { .. }) => return Err(ApiError::not_found("file")),
        Err(e) => {
            tracing::error!(error = %e, "a file could not be read");
            return Err(ApiError::unavailable(
                "the file cannot be read just now: try again in a moment",
            ));
        }
    };
    let body = Body::from_stream(object.into_stream().map_err(std::io::Error::other));
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.clone()),
            (header::CONTENT_LENGTH, file.bytes.to_string()),
            (
                header::CONTENT_DISPOSITION,
                attachment_disposition(&file.name),
            ),
            // Opened by mistake as a page anyway, it can run nothing.
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::CACHE_CONTROL, "private, max-age=0".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Deletes the file (from the questions it was sent with too; storage is cleaned by a job).
#[utoipa::path(delete, path = "/api/files/{id}", tag = "files",
    params(("id" = Uuid, Path, description = "The file")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such file of the caller's", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    if !store::delete(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("file"));
    }
    state.file_cleanup.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_no_folders_or_hidden_characters() {
        assert_eq!(file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(file_name(Some("C:\\Users\\ada\\report.pdf")), "report.pdf");
        assert_eq!(file_name(Some("\u{202e}fdp.exe")), "fdp.exe");
        assert_eq!(file_name(None), "file");
    }
}
