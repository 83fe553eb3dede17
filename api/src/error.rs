//! The API's one error type. Client errors carry a `code` and a human `message`; internal
//! errors are logged once here and answered with a bare 500 that leaks nothing.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sluice_shared::batch::BatchError;
use utoipa::ToSchema;

/// Every error outside `/v1`: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `not_found`, `unknown_model`, `rate_limited`, …
    pub code: String,
    /// For people; may change.
    pub message: String,
}

#[derive(Debug)]
pub enum ApiError {
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// 429 `rate_limited` with `Retry-After`.
    RateLimited {
        retry_after_secs: u64,
        message: String,
    },
    /// 429: a limit or budget of the user's or their API key's (`crate::limits`), with
    /// `Retry-After` and `x-ratelimit-*` headers.
    OverLimit(Box<crate::limits::Refusal>),
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// Also the answer for other users' resources: their existence is not revealed.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "dependency_down", message)
    }

    /// 422: a well-formed request about the wrong kind of thing (a question where an answer is
    /// needed, or the other way round).
    pub fn wrong_kind(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 422: each part well-formed, but together they do not fit (a range that ends before it
    /// starts, or holds more buckets than a chart can).
    pub fn unfit(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unknown_model(model: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_model",
            format!("model {model:?} is not available"),
        )
    }
}

impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

impl ApiError {
    /// Status, code, message and `Retry-After` seconds, as answered; internal errors are
    /// logged here, once, and answered without their details.
    fn answer(self) -> (StatusCode, &'static str, String, Option<u64>) {
        match self {
            Self::RateLimited {
                retry_after_secs,
                message,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                message,
                Some(retry_after_secs.max(1)),
            ),
            Self::Client {
                status,
                code,
                message,
            } => (status, code, message, None),
            Self::OverLimit(refusal) => (
                StatusCode::TOO_MANY_REQUESTS,
                refusal.code(),
                refusal.message(),
                Some(refusal.retry_after().as_secs()),
            ),
            Self::Internal(e) if database_unreachable(&e) => {
                tracing::warn!(error = %e, "database unreachable");
                let message = "the database is unavailable; try again shortly".to_string();
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "dependency_down",
                    message,
                    None,
                )
            }
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                let message = "internal server error".to_string();
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", message, None)
            }
        }
    }

    /// The code and message a client is told, for transports other than HTTP (WebSocket
    /// frames, Socket.IO errors).
    pub fn code_and_message(self) -> (String, String) {
        let (_, code, message, _) = self.answer();
        (code.to_string(), message)
    }

    /// `{"code", "message"}`: what an error body's `error` holds, for Socket.IO acks.
    pub fn into_detail(self) -> ErrorDetail {
        let (_, code, message, _) = self.answer();
        ErrorDetail {
            code: code.into(),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let limit_headers = match &self {
            Self::OverLimit(refusal) => {
                let mut headers = axum::http::HeaderMap::new();
                refusal.headers(&mut headers);
                headers
            }
            _ => Default::default(),
        };
        let (status, code, message, retry_after) = self.answer();
        let error = ErrorDetail {
            code: code.into(),
            message,
        };
        let mut response = (status, Json(ErrorBody { error })).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.headers_mut().extend(limit_headers);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A lost or exhausted database connection is an outage (503), not a bug (500).
fn database_unreachable(e: &anyhow::Error) -> bool {
    let sqlx_error = e.downcast_ref::<sqlx::Error>().or_else(|| {
        e.downcast_ref::<BatchError>()
            .and_then(BatchError::sqlx_error)
    });
    sqlx_error.is_some_and(sluice_shared::db::is_unreachable)
}
