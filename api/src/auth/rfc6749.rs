//! The OAuth 2.0 wire format (RFC 6749) the device endpoints speak: bodies are
//! `application/x-www-form-urlencoded` or JSON, errors are `{"error", "error_description"}`
//! with HTTP 400, and no answer is cached.

use axum::{
    Json,
    extract::{FromRequest, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;

/// A form-encoded or JSON body, by its `Content-Type`.
pub struct OAuthBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthBody<T> {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        let parsed = if content_type.starts_with("application/x-www-form-urlencoded") {
            serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
        } else if content_type.starts_with("application/json") {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        } else {
            Err("send application/x-www-form-urlencoded or application/json".into())
        };
        parsed
            .map(Self)
            .map_err(|e| OAuthError::invalid_request(&e))
    }
}

/// An RFC 6749 §5.2 error, or an internal one answered in the API's usual way.
#[derive(Debug)]
pub enum OAuthError {
    Rfc {
        error: &'static str,
        description: String,
    },
    Api(ApiError),
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self::Rfc {
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: &str) -> Self {
        Self::new("invalid_request", description)
    }
}

impl<E: Into<ApiError>> From<E> for OAuthError {
    fn from(e: E) -> Self {
        Self::Api(e.into())
    }
}

/// RFC 6749 §5.2's error body: `authorization_pending`, `slow_down`, `access_denied`,
/// `expired_token`, `invalid_request`, `invalid_client`, `unsupported_grant_type`, …
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    error: String,
    error_description: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = match self {
            Self::Rfc { error, description } => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": error, "error_description": description })),
            )
                .into_response(),
            Self::Api(e) => e.into_response(),
        };
        no_store(&mut response);
        response
    }
}

/// `Cache-Control: no-store` (RFC 6749 §5.1): tokens and codes must not sit in caches.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
