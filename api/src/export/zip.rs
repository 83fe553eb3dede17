//! `GET /api/export`: the whole account as a zip, written while it is sent — one
//! conversation's document in memory at a time, however many there are. Entries:
//! `conversations/{created}-{id}.json` (a `sluice.conversation` document each), after each
//! the files its questions carry (`files/{id}`, named by the document's `attachments`), and,
//! last, `manifest.json` (`sluice.account`: when, how many, and the folders, empty ones too).

use async_zip::{Compression, ZipEntryBuilder, base::write::ZipFileWriter};
use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::{AsyncWriteExt, StreamExt};
use object_store::ObjectStore;
use serde::Serialize;
use sluice_shared::dto::FileOut;
use sqlx::PgPool;
use tokio::io::DuplexStream;
use tokio_util::{compat::Compat, io::ReaderStream};
use uuid::Uuid;

use super::document;
use crate::{auth::AuthUser, error::ApiResult, state::AppState};

/// What the manifest's `format` says.
pub const ACCOUNT_FORMAT: &str = "sluice.account";
/// Bytes buffered between the zip writer and the response.
const PIPE: usize = 64 * 1024;

#[derive(Serialize)]
struct Manifest {
    format: &'static str,
    version: u32,
    exported_at: DateTime<Utc>,
    conversations: usize,
    folders: Vec<Folder>,
}

#[derive(Serialize, sqlx::FromRow)]
struct Folder {
    name: String,
    created_at: DateTime<Utc>,
}

/// Everything in the caller's account — every conversation with its messages, and the
/// folders — as a zip download, streamed.
#[utoipa::path(get, path = "/api/export", tag = "conversations",
    responses(
        (status = 200, content_type = "application/zip", body = Vec<u8>,
            description = "A zip: `conversations/*.json` (as `GET /api/conversations/{id}/export`) and `manifest.json`"),
    ))]
pub(super) async fn account(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    let (reader, writer) = tokio::io::duplex(PIPE);
    let pool = state.pool.clone();
    let store = state.files.clone();
    let (failed, failure) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut zip = ZipFileWriter::with_tokio(writer);
        let written = match write(&pool, store.as_ref(), user.user_id, &mut zip).await {
            Ok(()) => zip.close().await.map(drop).map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "account export cut short");
            // Said before the pipe closes (a failed `write` leaves `zip` holding it until this
            // task ends), so the body ends in an error: the client sees a failed download, not
            // a complete-looking one.
            let _ = failed.send(());
        }
    });
    // The zip as it is written; after it, an error if the writer failed (nothing if it ended
    // well: the sender then drops unsent).
    let cut_short = futures::stream::once(failure).filter_map(|sent| async move {
        sent.ok()
            .map(|()| Err(std::io::Error::other("the export failed before its end")))
    });
    let body = ReaderStream::new(reader).chain(cut_short);
    let name = format!("sluice-export-{}.zip", Utc::now().format("%Y%m%d"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// A question's file, as `files/{id}` (the id its conversation's document lists), streamed
/// from the store. Text is compressed; PDFs and images are stored as they are.
async fn write_file(
    store: &dyn ObjectStore,
    owner: Uuid,
    file: &FileOut,
    zip: &mut ZipFileWriter<Compat<DuplexStream>>,
) -> anyhow::Result<()> {
    let object = match store.get(&sluice_shared::files::key(owner, file.id)).await {
        Ok(object) => object,
        // Deleted since its conversation was read.
        Err(object_store::Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let compression = match file.content_type.starts_with("text/") {
        true => Compression::Deflate,
        false => Compression::Stored,
    };
    let entry = ZipEntryBuilder::new(format!("files/{}", file.id).into(), compression);
    let mut writer = zip.write_entry_stream(entry).await?;
    let mut chunks = object.into_stream();
    while let Some(chunk) = chunks.next().await {
        writer.write_all(&chunk?).await?;
    }
    writer.close().await?;
    Ok(())
}

async fn write(
    pool: &PgPool,
    store: &dyn ObjectStore,
    owner: Uuid,
    zip: &mut ZipFileWriter<Compat<DuplexStream>>,
) -> anyhow::Result<()> {
    let mut written = 0;
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        // Oldest first, a page of ids at a time.
        let ids: Vec<(DateTime<Utc>, Uuid)> = sqlx::query_as(
            "SELECT created_at, id FROM conversations
             WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
             ORDER BY created_at, id LIMIT 100",
        )
        .bind(owner)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .fetch_all(pool)
        .await?;
        let Some(&last) = ids.last() else { break };
        for (created_at, id) in ids {
            // Deleted since the page was read: nothing to write.
            let Some(doc) = document::load(pool, owner, id).await? else {
                continue;
            };
            let name = format!(
                "conversations/{}-{id}.json",
                created_at.format("%Y%m%dT%H%M%S")
            );
            let entry = ZipEntryBuilder::new(name.into(), Compression::Deflate);
            zip.write_entry_whole(entry, &serde_json::to_vec_pretty(&doc)?)
                .await?;
            for file in doc.messages.iter().flat_map(|m| &m.attachments) {
                write_file(store, owner, file, zip).await?;
            }
            written += 1;
        }
        after = Some(last);
    }
    let folders: Vec<Folder> = sqlx::query_as(
        "SELECT name, created_at FROM groups WHERE user_id = $1 ORDER BY lower(name)",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    let manifest = Manifest {
        format: ACCOUNT_FORMAT,
        version: document::VERSION,
        exported_at: Utc::now(),
        conversations: written,
        folders,
    };
    let entry = ZipEntryBuilder::new("manifest.json".to_string().into(), Compression::Deflate);
    zip.write_entry_whole(entry, &serde_json::to_vec_pretty(&manifest)?)
        .await?;
    Ok(())
}
