//! Files sent to the API (`POST /api/import`, `POST /api/files`): the multipart form's `file`
//! field, or the whole body when it is not a form. Written on as it arrives — to a temporary
//! file or to storage — with a size limit, never whole in memory.

use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Request},
    http::{StatusCode, header},
};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error::{ApiError, ApiResult};

/// How many of the first bytes are kept for telling the file's type by its content.
const HEAD: usize = 8 * 1024;

/// What arrived.
#[derive(Debug)]
pub struct Received {
    pub bytes: u64,
    /// The name the sender gave the file (a form's `filename`), if any.
    pub file_name: Option<String>,
    /// The first bytes, for sniffing the type.
    pub head: Vec<u8>,
}

/// Writes the request's file into `into` (flushed, not shut down), refusing more than `limit`
/// bytes with 413 `file_too_large`. A form without a `file` field is 400 `missing_file`.
pub async fn receive<W: AsyncWrite + Unpin>(
    request: Request,
    limit: u64,
    into: &mut W,
) -> ApiResult<Received> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    // A form adds a few hundred bytes of its own around the file.
    if declared.is_some_and(|n| n > limit.saturating_add(64 * 1024)) {
        return Err(too_large(limit));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        // A bare body may name its file as a download does: `attachment; filename="…"`.
        let file_name = request
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(disposition_file_name);
        let body = request.into_body().into_data_stream();
        let received = copy(body, limit, into).await?;
        return Ok(Received {
            file_name,
            ..received
        });
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request("invalid_form", e.body_text()))?;
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field.file_name().map(str::to_string);
        let chunks = futures::stream::unfold(field, |mut field| async move {
            field.chunk().await.transpose().map(|c| (c, field))
        });
        let received = copy(chunks, limit, into).await?;
        return Ok(Received {
            file_name,
            ..received
        });
    }
    Err(ApiError::bad_request(
        "missing_file",
        "the form has no `file` field: send the file as multipart field `file`",
    ))
}

/// The file name of a Content-Disposition value: `filename*=UTF-8''…` (RFC 8187) when given,
/// else `filename="…"` (or unquoted).
fn disposition_file_name(value: &str) -> Option<String> {
    if let Some(at) = value.find("filename*=") {
        let encoded = value[at + "filename*=".len()..].split(';').next()?.trim();
        let (charset, rest) = encoded.split_once('\'')?;
        let (_, name) = rest.split_once('\'')?;
        let decoded = percent_decoded(name).filter(|n| !n.is_empty());
        if let Some(name) = decoded.filter(|_| charset.eq_ignore_ascii_case("utf-8")) {
            return Some(name);
        }
    }
    let at = value.find("filename=")? + "filename=".len();
    let rest = &value[at..];
    let name = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split(';').next()?.trim(),
    };
    (!name.is_empty()).then(|| name.to_string())
}

fn percent_decoded(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn form_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            e.body_text(),
        );
    }
    ApiError::bad_request("invalid_form", e.body_text())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("the file is larger than {limit} bytes, the most taken here"),
    )
}

async fn copy<E: std::fmt::Display, W: AsyncWrite + Unpin>(
    chunks: impl Stream<Item = Result<Bytes, E>>,
    limit: u64,
    into: &mut W,
) -> ApiResult<Received> {
    let mut chunks = std::pin::pin!(chunks);
    let mut bytes = 0u64;
    let mut head = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_cut_short", format!("the upload broke off: {e}"))
        })?;
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(too_large(limit));
        }
        if head.len() < HEAD {
            let take = (HEAD - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        into.write_all(&chunk).await.map_err(stored_error)?;
    }
    into.flush().await.map_err(stored_error)?;
    Ok(Received {
        bytes,
        file_name: None,
        head,
    })
}

/// `from` (a file being read) into `into`, as an upload is: limited, its head kept.
pub async fn copy_from<W: AsyncWrite + Unpin>(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: u64,
    into: &mut W,
) -> ApiResult<Received> {
    let chunks = tokio_util::io::ReaderStream::new(from);
    copy(chunks, limit, into).await
}

fn stored_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "an upload could not be written");
    ApiError::unavailable("the file could not be stored just now: try again in a moment")
}

#[cfg(test)]
mod tests {
    use super::disposition_file_name;

    #[test]
    fn file_names_are_read_from_content_disposition() {
        let name = |v: &str| disposition_file_name(v);
        assert_eq!(
            name("attachment; filename=\"a b.txt\"").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(
            name("attachment; filename=plain.md").as_deref(),
            Some("plain.md")
        );
        assert_eq!(
            name("attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
                .as_deref(),
            Some("résumé.pdf")
        );
        assert_eq!(
            name("attachment; filename*=UTF-8''%ZZ; filename=\"x.txt\"").as_deref(),
            Some("x.txt")
        );
        assert_eq!(name("inline").as_deref(), None);
    }
}
