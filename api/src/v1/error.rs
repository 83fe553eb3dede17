//! OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, with the status
//! OpenAI uses. Every error answered under `/v1/` has it, including the ones other layers write
//! in the API's own shape (authentication, body limits, rate limits): the error layer reshapes
//! those (`middleware::error_shape`).

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// An error in OpenAI's shape.
#[derive(Debug)]
pub struct V1Error {
    pub status: StatusCode,
    pub message: String,
    /// The request field at fault (`messages[0].role`), when one is.
    pub param: Option<String>,
    pub code: Option<String>,
}

impl V1Error {
    /// A 400 naming the field at fault.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: Some(param.into()),
            code: None,
        }
    }

    /// A request for something this server does not do (`n > 1`, tools, audio): refused, never
    /// ignored, since ignoring it would change the answer.
    pub fn unsupported(param: &str, message: impl Into<String>) -> Self {
        Self {
            code: Some("unsupported_parameter".into()),
            ..Self::invalid(param, message)
        }
    }

    /// The same error with OpenAI's machine-readable `code` (`invalid_type`, ...).
    pub fn with_code(self, code: &str) -> Self {
        Self {
            code: Some(code.into()),
            ..self
        }
    }

    pub fn model_not_found(model: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            param: Some("model".into()),
            code: Some("model_not_found".into()),
        }
    }

    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            code: Some(code.into()),
        }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let body = body(
            self.status,
            &self.message,
            self.param.as_deref(),
            self.code.as_deref(),
        );
        let mut response = (self.status, Json(body)).into_response();
        // Already in OpenAI's shape: the error layer passes it on as it is, whatever its size.
        response.extensions_mut().insert(OpenAiShaped);
        response
    }
}

/// Marks a response whose error body a `/v1` handler wrote in OpenAI's shape.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiShaped;

/// The error body OpenAI sends for `status`.
pub fn body(status: StatusCode, message: &str, param: Option<&str>, code: Option<&str>) -> Value {
    // A budget used up is its own type at OpenAI, beside its code.
    let kind = match code {
        Some("insufficient_quota") => "insufficient_quota",
        _ => error_type(status),
    };
    json!({ "error": {
        "message": message,
        "type": kind,
        "param": param,
        "code": code,
    }})
}

/// OpenAI's `type` for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status {
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        StatusCode::FORBIDDEN => "permission_error",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request_error",
    }
}

/// OpenAI's `code` for one of the API's own error codes, where OpenAI has its own word.
pub fn openai_code(status: StatusCode, ours: &str) -> String {
    match (status, ours) {
        (StatusCode::UNAUTHORIZED, _) => "invalid_api_key".into(),
        (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota") => "insufficient_quota".into(),
        (StatusCode::TOO_MANY_REQUESTS, _) => "rate_limit_exceeded".into(),
        _ => ours.to_string(),
    }
}

/// Whether a response's error body is already in OpenAI's shape (written by a `/v1` handler).
pub fn is_openai_shaped(response: &Response) -> bool {
    response.extensions().get::<OpenAiShaped>().is_some()
}
