//! How handlers answer: `Reply` (a success with the protocol's headers, built up),
//! `Failure` (an error in Sluice's shape, with the headers some carry), and reading a body
//! within its limit.

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::BytesMut;
use futures::StreamExt;

use crate::error::ApiError;

/// Sets `name: value` when both are valid (values here are offsets, numbers, content types).
fn set(headers: &mut HeaderMap, name: impl TryInto<HeaderName>, value: impl ToString) {
    if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::try_from(value.to_string())) {
        headers.insert(name, value);
    }
}

/// An error answer, with the protocol headers some of them carry (`Stream-Next-Offset` on
/// a closed stream's 409, `Producer-Expected-Seq` on a gap, …).
#[derive(Debug)]
pub struct Failure(Box<Refused>);

#[derive(Debug)]
struct Refused {
    error: ApiError,
    headers: HeaderMap,
}

pub type Answer = Result<Response, Failure>;

impl Failure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(status, code, message).into()
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such stream")
    }

    pub fn gone() -> Self {
        Self::new(
            StatusCode::GONE,
            "stream_deleted",
            "the stream was deleted (its forks still read it)",
        )
    }

    pub fn header(mut self, name: impl TryInto<HeaderName>, value: impl ToString) -> Self {
        set(&mut self.0.headers, name, value);
        self
    }
}

/// JetStream failed (unreachable, restarting, an ack lost): 503. The append may have been
/// stored (the next append adopts it); a producer's retry is then a duplicate, so with
/// producer headers sending again is always safe.
pub fn log_down(e: anyhow::Error) -> Failure {
    tracing::warn!(error = %e, "durable streams: JetStream failed");
    let message = "the stream store is unavailable; try again (with producer headers, a retry is never stored twice)";
    ApiError::unavailable(message).into()
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self(Box::new(Refused {
            error,
            headers: HeaderMap::new(),
        }))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        // Two requests locking rows of a fork chain in opposite orders: one is chosen to fail.
        let busy = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "40P01" || code == "40001");
        if busy {
            return ApiError::unavailable("the stream was busy; try again").into();
        }
        ApiError::from(e).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let Refused { error, headers } = *self.0;
        let mut response = error.into_response();
        response.headers_mut().extend(headers);
        response
    }
}

/// A response with the protocol's headers, built up.
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl Reply {
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Body::empty(),
        }
    }

    pub fn header(mut self, name: impl TryInto<HeaderName>, value: impl ToString) -> Self {
        set(&mut self.headers, name, value);
        self
    }

    pub fn header_if(
        self,
        yes: bool,
        name: impl TryInto<HeaderName>,
        value: impl ToString,
    ) -> Self {
        if yes { self.header(name, value) } else { self }
    }

    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    pub fn done(self) -> Answer {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        Ok(response)
    }
}

/// Hard limit on what is read of a refused body before the connection is given up.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The request body, up to `limit` bytes. A larger one is read to its end (up to 64 MiB)
/// before the 413, so the client hears the answer instead of a reset connection.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Failure> {
    let mut frames = body.into_data_stream();
    let mut out = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the body was cut off",
            )
        })?;
        seen += frame.len();
        if seen <= limit {
            out.extend_from_slice(&frame);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "append_too_large",
            format!("an append may be at most {limit} bytes"),
        ));
    }
    Ok(out.freeze())
}
