//! Extractors that answer bad input in the API's error format instead of axum's plain text.

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Request, rejection::JsonRejection},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// `Json<T>` with JSON errors: malformed → 400 `invalid_json`, wrong shape → 400
/// `invalid_body`, too large → 413 `body_too_large`, wrong content type → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        }
        JsonRejection::JsonDataError(_) => {
            ApiError::bad_request("invalid_body", strip_prefix(&detail))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        r if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        ),
        _ => ApiError::bad_request("invalid_body", "the request body could not be read"),
    }
}

/// Parses a body already read as JSON, with `ApiJson`'s errors.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        } else {
            ApiError::bad_request("invalid_body", e.to_string())
        }
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
