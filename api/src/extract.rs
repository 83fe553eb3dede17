//! Extractors that answer bad input in the API's error format instead of axum's plain text.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::de::{DeserializeOwned, IgnoredAny};
use uuid::Uuid;

use crate::error::ApiError;

/// `Json<T>` with JSON errors: malformed → 400 `invalid_json`, wrong shape → 400
/// `invalid_body`, too large → 413 `body_too_large`, wrong content type → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::bad_request("invalid_body", "the request body could not be read")
            }
        })?;
        Ok(Self(parse_json(&body)?))
    }
}

/// `application/json`, or another `application/…+json`, whatever its parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, with `ApiJson`'s errors: malformed → 400 `invalid_json`; not an object
/// (every body the API takes is one, though serde would fill a struct from an array such as
/// `[null, null]`) or the wrong shape → 400 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed = || ApiError::bad_request("invalid_json", "the body is not valid JSON");
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Not an object: malformed, or JSON of another kind.
        serde_json::from_slice::<IgnoredAny>(body).map_err(|_| malformed())?;
        return Err(ApiError::bad_request(
            "invalid_body",
            "the request body must be a JSON object",
        ));
    }
    // axum's reader names the field at fault (`content: invalid type …`).
    axum::Json::<T>::from_bytes(body)
        .map(|axum::Json(value)| value)
        .map_err(|rejection| match rejection {
            JsonRejection::JsonSyntaxError(_) => malformed(),
            other => ApiError::bad_request("invalid_body", strip_prefix(&other.body_text())),
        })
}

/// serde's message without axum's "Failed to deserialize the JSON body into the target type: ".
fn strip_prefix(detail: &str) -> String {
    detail
        .rsplit_once("target type: ")
        .map(|(_, m)| m)
        .unwrap_or(detail)
        .to_string()
}

/// A resource id from the path. An id that is not a UUID names nothing: 404, like an unknown one.
pub struct Id(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("resource"))?;
        raw.parse()
            .map(Id)
            .map_err(|_| ApiError::not_found("resource"))
    }
}

/// The request id set by the request-id layer (travels into jobs and NATS headers).
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get(sluice_shared::telemetry::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self(id))
    }
}
