//! Reads JSON and form bodies once, up front: too large → 413, and a NUL character in any text
//! field (or in the query string) → 400 naming the field. Postgres rejects NUL in text, so
//! without this check such input would reach the database and come back as a 500.

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::Response,
};
use serde_json::Value;

use super::error_shape::error_response;
use crate::state::AppState;

/// Routes that take files: they stream the body themselves, limited by their own setting.
const UPLOADS: [&str; 2] = ["/api/import", "/api/files"];

/// Durable streams read their bodies themselves too: any bytes (JSON with `\u0000` is fine —
/// it goes to JetStream, not Postgres), up to `[durable_streams] max_append_bytes`.
fn reads_own_body(path: &str) -> bool {
    UPLOADS.contains(&path) || path.starts_with(crate::durable_streams::PREFIX)
}

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if request.uri().query().is_some_and(has_encoded_nul) {
        return nul_error(&path, "the query string");
    }
    let kind = body_kind(&request);
    // Uploads are read as they arrive, with limits of their own.
    if kind == BodyKind::Other || reads_own_body(&path) {
        return next.run(request).await;
    }
    let limit = state.config.body_limit_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(&path);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        // Past the limit (a body without Content-Length) or cut off mid-way.
        return too_large(&path);
    };
    let nul_field = match kind {
        BodyKind::Json => json_nul_field(&bytes),
        BodyKind::Form => form_nul_field(&bytes),
        BodyKind::Other => None,
    };
    if let Some(field) = nul_field {
        return nul_error(&path, &format!("`{field}`"));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
    Other,
}

fn body_kind(request: &Request) -> BodyKind {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        BodyKind::Json
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else {
        BodyKind::Other
    }
}

/// `%00` in a URL-encoded string.
fn has_encoded_nul(encoded: &str) -> bool {
    encoded
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"%00"))
}

/// The first field (as a path like `messages[0].content`) whose text holds a NUL.
fn json_nul_field(body: &Bytes) -> Option<String> {
    // JSON can only spell NUL as `\u0000`; only then is the body parsed to find where.
    let escaped = body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if !escaped {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    find_nul(&value, String::new())
}

fn find_nul(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(format!("{path}{k:?}"));
            }
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            find_nul(v, sub)
        }),
        _ => None,
    }
}

fn form_nul_field(body: &Bytes) -> Option<String> {
    if !has_encoded_nul(&String::from_utf8_lossy(body)) {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs
        .into_iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\0"))
}

fn nul_error(path: &str, what: &str) -> Response {
    error_response(
        path,
        StatusCode::BAD_REQUEST,
        "invalid_text",
        &format!("{what} contains a NUL character (\\u0000), which text may not hold"),
    )
}

fn too_large(path: &str) -> Response {
    error_response(
        path,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is too large",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_where_it_is() {
        let body = Bytes::from_static(br#"{"a": "ok", "b": [{"c": "x\u0000y"}]}"#);
        assert_eq!(json_nul_field(&body).as_deref(), Some("b[0].c"));
        // An escaped backslash followed by "u0000" is text, not NUL.
        let text = Bytes::from_static(br#"{"a": "\\u0000"}"#);
        assert_eq!(json_nul_field(&text), None);
        let form = Bytes::from_static(b"email=a%00b&password=x");
        assert_eq!(form_nul_field(&form).as_deref(), Some("email"));
        assert!(has_encoded_nul("cursor=%00"));
        assert!(!has_encoded_nul("cursor=%200"));
    }
}
