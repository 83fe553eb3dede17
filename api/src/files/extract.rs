//! The text a prompt reads from a file: a text file's own (streamed from storage, only as much
//! as is kept), or a PDF's, extracted with `pdf-extract`. At most `max_chars` characters are
//! kept; `chars` says how many the file held, so the prompt can say it was cut.

use futures::StreamExt;
use object_store::{ObjectStore, path::Path};

use crate::error::{ApiError, ApiResult};

/// PDFs read at once per API process.
static PDFS_AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Longest a PDF's text may take to read.
const PDF_TIME: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Extracted {
    pub text: String,
    /// Characters the file held (more than `text` has when it was cut).
    pub chars: u64,
}

/// A text file's text: the first `max_chars` characters, and how many it has in all.
pub async fn text(store: &dyn ObjectStore, key: &Path, max_chars: usize) -> ApiResult<Extracted> {
    let mut chunks = store.get(key).await.map_err(read_error)?.into_stream();
    let mut kept: Vec<u8> = Vec::new();
    let mut chars = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(read_error)?;
        for &b in chunk.iter() {
            // A character starts at every byte that is not a continuation byte.
            if b & 0xC0 != 0x80 {
                chars += 1;
            }
            // The bytes of the first `max_chars` characters.
            if chars <= max_chars as u64 {
                kept.push(b);
            }
        }
    }
    String::from_utf8(kept)
        // Postgres text cannot hold NUL (the sniff saw none in the first bytes only).
        .map(|text| Extracted {
            text: text.replace('\0', ""),
            chars,
        })
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                "the file starts as text but is not UTF-8 throughout",
            )
        })
}

/// A PDF's text (read whole: a PDF's parts are found from its end).
pub async fn pdf(store: &dyn ObjectStore, key: &Path, max_chars: usize) -> ApiResult<Extracted> {
    let bytes = store
        .get(key)
        .await
        .map_err(read_error)?
        .bytes()
        .await
        .map_err(read_error)?;
    // A few at a time (each holds its PDF and a thread), each within a time limit; the parser
    // may panic on a damaged file: that is a refusal of the file, not a crash.
    let _turn = PDFS_AT_ONCE
        .acquire()
        .await
        .map_err(|e| ApiError::from(anyhow::Error::from(e)))?;
    let parse = tokio::task::spawn_blocking(move || pdf_extract::extract_text_from_mem(&bytes));
    let text = match tokio::time::timeout(PDF_TIME, parse).await {
        Ok(Ok(Ok(text))) => text,
        Ok(Ok(Err(e))) => return Err(unreadable_pdf(&e.to_string())),
        Ok(Err(_)) => return Err(unreadable_pdf("the parser gave up")),
        Err(_) => return Err(unreadable_pdf("reading it took too long")),
    };
    let chars = text.chars().count() as u64;
    let text = match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    };
    // Postgres text cannot hold NUL.
    Ok(Extracted {
        text: text.replace('\0', ""),
        chars,
    })
}

fn unreadable_pdf(why: &str) -> ApiError {
    ApiError::unfit(
        "unreadable_pdf",
        format!("the PDF's text cannot be read (is it damaged or encrypted?): {why}"),
    )
}

fn read_error(e: object_store::Error) -> ApiError {
    tracing::error!(error = %e, "an uploaded file could not be read back");
    ApiError::unavailable("the file could not be read back just now: try again in a moment")
}
