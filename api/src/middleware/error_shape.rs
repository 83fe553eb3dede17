//! Every error answer is JSON in the API's shape — `{"error": {"code", "message"}}`, or RFC
//! 6749's `{"error", "error_description"}` on the OAuth endpoints — even the ones no handler
//! wrote: axum's rejections of malformed query strings (text/plain), 405 (empty body), 413.
//! Pages (HTML) keep their own error pages. Under `/v1/` every error is in OpenAI's shape
//! (`crate::v1::error`), whoever wrote it.

use axum::{
    Json,
    body::to_bytes,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::is_oauth_endpoint;
use crate::{
    error::{ErrorBody, ErrorDetail},
    v1,
};

/// Bodies of other layers' errors are short; anything longer is not read.
const MAX_ERROR_BODY: usize = 4096;

pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    // Durable streams answer in their own protocol's terms (Sluice's error shape, with the
    // protocol's headers), not OpenAI's.
    if !(status.is_client_error() || status.is_server_error())
        || path.starts_with(crate::durable_streams::PREFIX)
    {
        return response;
    }
    if path.starts_with("/v1/") && v1::error::is_openai_shaped(&response) {
        return response;
    }
    if path.starts_with("/v1/") && is_json(&response) {
        return openai_shaped(response).await;
    }
    if is_json_or_html(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        s if s.is_server_error() => "internal server error".to_string(),
        _ => {
            let text = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_lowercase()
            } else {
                text
            }
        }
    };
    let fresh = error_response(&path, status, code_for(status), &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, fresh.into_body())
}

/// An error the API wrote in its own shape, in OpenAI's (for `/v1/`).
async fn openai_shaped(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let ours: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let status = parts.status;
    let code = ours["error"]["code"].as_str().unwrap_or(code_for(status));
    let message = ours["error"]["message"]
        .as_str()
        .unwrap_or("error")
        .to_string();
    let code = v1::error::openai_code(status, code);
    let body = v1::error::body(status, &message, None, Some(&code));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Json(body).into_response().into_body())
}

/// An error in the shape `path` answers with.
pub fn error_response(path: &str, status: StatusCode, code: &str, message: &str) -> Response {
    if is_oauth_endpoint(path) {
        let error = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        let body = json!({ "error": error, "error_description": message });
        return (status, Json(body)).into_response();
    }
    if path.starts_with("/v1/") {
        let code = v1::error::openai_code(status, code);
        return (
            status,
            Json(v1::error::body(status, message, None, Some(&code))),
        )
            .into_response();
    }
    let error = ErrorDetail {
        code: code.to_string(),
        message: message.to_string(),
    };
    (status, Json(ErrorBody { error })).into_response()
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

fn is_json_or_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "dependency_down",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}
