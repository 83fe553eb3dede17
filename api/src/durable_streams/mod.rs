//! Durable streams for anything, not only chat: ElectricSQL's Durable Streams protocol
//! (`PROTOCOL.md` of github.com/durable-streams/durable-streams) at `/v1/stream/{path}`.
//! A stream is a URL: `PUT` creates it (or forks another), `POST` appends (and closes),
//! `GET` reads from an offset — at once, by long-poll, or as Server-Sent Events — `HEAD`
//! says where it ends, `DELETE` deletes it.
//!
//! Paths are their owner's (a bearer token or API key, as on the rest of `/v1`); a scoped
//! stream token (`POST /api/stream-tokens {"durable_stream": path}`) lets anyone holding it
//! read one stream. Rows in Postgres (`store.rs`) order appends and hold producers' state;
//! data is in JetStream (`log.rs`); waiting readers on every API process are woken by a
//! notice after each commit (`live.rs`). Handlers: `create.rs` (PUT), `append.rs` (POST),
//! `read.rs` (GET, HEAD), `sse.rs` (GET `live=sse`), `delete.rs`; `sweep.rs` deletes what
//! expired.

pub mod append;
pub mod cors;
mod create;
mod delete;
mod json;
pub mod live;
pub mod log;
pub mod offset;
mod producer;
mod read;
mod request;
mod routes;
mod sse;
mod store;
pub mod sweep;
mod turns;

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::ApiError,
    state::AppState,
    stream::tokens::{Scope, StreamReader},
};

/// The parts every handler shares (in `AppState`).
pub struct DurableStreams {
    pub log: log::Log,
    pub tails: Arc<live::Tails>,
    /// Wakes the sweeper (after a delete) to purge data at once.
    pub purge: tokio::sync::Notify,
    /// Appends per second per user on this process (`append.rs`).
    pub appends: append::Limiter,
    /// Whose turn it is to append to each stream on this process (`append.rs`).
    pub turns: turns::Turns,
}

/// `/v1/stream/{path}`, every method (others: 405 from `serve`). Outside the chat routes'
/// layers: it reads its bodies itself (any content type, up to `max_append_bytes`) and
/// answers errors in its own words.
pub fn router() -> OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    let (schemas, paths, methods) = routes!(
        routes::create,
        routes::append,
        routes::read,
        routes::describe,
        routes::delete
    );
    let header = |name, value| {
        tower_http::set_header::SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    OpenApiRouter::new()
        .routes((schemas, paths, methods.fallback(serve)))
        // Readable from pages of any site (`cors.rs`)…
        .layer(header("cross-origin-resource-policy", "cross-origin"))
        // …but never a page of this one: a stream created as `text/html` and opened in a tab
        // is a document without scripts, in an origin of its own.
        .layer(header("content-security-policy", "sandbox"))
}

async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(path) = request::stream_path(parts.uri.path()).map(str::to_string) else {
        return Failure::not_found().into_response();
    };
    // Reserved by the protocol for subscription control (§6), which Sluice does not serve.
    if path == "__ds" || path.starts_with("__ds/") {
        return Failure::not_found().into_response();
    }
    if path.len() > request::MAX_PATH_BYTES {
        let message = format!(
            "a stream's path is at most {} bytes",
            request::MAX_PATH_BYTES
        );
        return Failure::new(StatusCode::BAD_REQUEST, "path_too_long", message).into_response();
    }
    let answer = match parts.method.clone() {
        Method::GET | Method::HEAD => match reader(&mut parts, &state).await {
            Ok(caller) if parts.method == Method::HEAD => read::head(&state, caller, &path).await,
            Ok(caller) => read::get(&state, caller, &path, &parts).await,
            Err(e) => Err(e),
        },
        Method::PUT => match writer(&mut parts, &state).await {
            Ok(owner) => match append::within_rate(&state.durable.appends, owner) {
                Ok(()) => create::put(&state, owner, &path, &parts, body).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Method::POST => match writer(&mut parts, &state).await {
            Ok(owner) => append::post(&state, owner, &path, &parts.headers, body).await,
            Err(e) => Err(e),
        },
        Method::DELETE => match writer(&mut parts, &state).await {
            Ok(owner) => delete::delete(&state, owner, &path).await,
            Err(e) => Err(e),
        },
        _ => Err(Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "a stream takes PUT, POST, GET, HEAD and DELETE",
        )
        .header(header::ALLOW, "GET, HEAD, PUT, POST, DELETE")),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// Who reads: the owner (any credential), or anyone with a stream token for the stream.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub owner: Uuid,
    /// A stream token's stream: only that one may be read.
    pub only: Option<Uuid>,
    /// When a stream token expires (Unix seconds): live reads end then.
    pub expires_at: Option<u64>,
}

impl Caller {
    /// 404 unless this caller may read `row` (a token for another stream reads nothing).
    fn may_read(&self, stream: Uuid) -> Result<(), Failure> {
        match self.only {
            Some(only) if only != stream => Err(Failure::not_found()),
            _ => Ok(()),
        }
    }
}

async fn reader(parts: &mut Parts, state: &AppState) -> Result<Caller, Failure> {
    let reader = StreamReader::from_request_parts(parts, state).await?;
    let only = match reader.scope {
        None => {
            may_use(parts, state).await?;
            None
        }
        Some(Scope::DurableStream(id)) => Some(id),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_stream",
                "this stream token reads another stream",
            )
            .into());
        }
    };
    Ok(Caller {
        owner: reader.user_id,
        only,
        expires_at: reader.expires_at,
    })
}

/// The caller who writes, creates or deletes: only the owner, with the `chat` permission.
async fn writer(parts: &mut Parts, state: &AppState) -> Result<Uuid, Failure> {
    may_use(parts, state).await
}

async fn may_use(parts: &mut Parts, state: &AppState) -> Result<Uuid, Failure> {
    let user = AuthUser::from_request_parts(parts, state).await?;
    if !user.may_chat {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this account may not use streams (it lacks the chat permission)",
        )
        .into());
    }
    Ok(user.user_id)
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
        if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::try_from(value.to_string())) {
            self.0.headers.insert(name, value);
        }
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
        if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::try_from(value.to_string())) {
            self.headers.insert(name, value);
        }
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

pub use request::PREFIX;

/// The id of `owner`'s live stream at `path` (`/v1/stream/{path}` or `{path}`): what a
/// stream token for it names. 404 if there is none.
pub async fn find_owned(state: &AppState, owner: Uuid, path: &str) -> Result<Uuid, ApiError> {
    let path = request::stream_path(path).unwrap_or(path);
    match store::classify(store::find(&state.pool, owner, path).await?) {
        store::Found::Live(row) => Ok(row.id),
        _ => Err(ApiError::not_found("durable stream")),
    }
}
