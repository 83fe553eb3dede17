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

mod answer;
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
mod recent;
mod removal;
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
    http::{HeaderName, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use sluice_shared::{Config, subjects::Subjects};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use answer::{Answer, Failure, Reply, log_down, read_body};

use crate::{
    auth::{AuthUser, roles},
    error::ApiError,
    state::AppState,
    stream::tokens::{self, Scope, StreamReader},
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

impl DurableStreams {
    /// Their JetStream stream (created if missing) and the subscription to tail notices.
    pub async fn start(
        config: &Config,
        nats: &async_nats::Client,
        subjects: &Subjects,
        reconnected: &tokio::sync::watch::Receiver<u64>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let js = async_nats::jetstream::new(nats.clone());
        let stream = sluice_shared::nats::ensure_durable_stream(&js, subjects).await?;
        Ok(Self {
            log: log::Log::new(js, stream, subjects.clone(), reconnected.clone()),
            tails: live::Tails::start(nats.clone(), subjects.clone(), shutdown.clone()).await?,
            purge: Default::default(),
            appends: append::limiter(&config.durable_streams),
            turns: Default::default(),
        })
    }
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
    let (parts, body) = request.into_parts();
    dispatch(&state, parts, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn dispatch(state: &AppState, mut parts: Parts, body: Body) -> Answer {
    let path = stream_path(&parts)?;
    match parts.method {
        Method::HEAD => read::head(state, reader(&mut parts, state).await?, &path).await,
        Method::GET => {
            let caller = reader(&mut parts, state).await?;
            read::get(state, caller, &path, &parts).await
        }
        Method::PUT => {
            let owner = writer(&mut parts, state).await?;
            append::within_rate(&state.durable.appends, owner)?;
            create::put(state, owner, &path, &parts, body).await
        }
        Method::POST => {
            let owner = writer(&mut parts, state).await?;
            append::post(state, owner, &path, &parts.headers, body).await
        }
        Method::DELETE => delete::delete(state, writer(&mut parts, state).await?, &path).await,
        _ => Err(Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "a stream takes PUT, POST, GET, HEAD and DELETE",
        )
        .header(header::ALLOW, "GET, HEAD, PUT, POST, DELETE")),
    }
}

/// The stream's path (after `/v1/stream/`), as the URL has it.
fn stream_path(parts: &Parts) -> Result<String, Failure> {
    let path = request::stream_path(parts.uri.path()).ok_or_else(Failure::not_found)?;
    // Reserved by the protocol for subscription control (§6), which Sluice does not serve.
    if path == "__ds" || path.starts_with("__ds/") {
        return Err(Failure::not_found());
    }
    if path.len() > request::MAX_PATH_BYTES {
        let message = format!(
            "a stream's path is at most {} bytes",
            request::MAX_PATH_BYTES
        );
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "path_too_long",
            message,
        ));
    }
    Ok(path.to_string())
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
            writer(parts, state).await?;
            None
        }
        Some(Scope::DurableStream(id)) => Some(id),
        Some(_) => return Err(tokens::wrong_stream().into()),
    };
    Ok(Caller {
        owner: reader.user_id,
        only,
        expires_at: reader.expires_at,
    })
}

/// The signed-in owner (who alone writes, creates and deletes), with the `chat` permission.
async fn writer(parts: &mut Parts, state: &AppState) -> Result<Uuid, Failure> {
    let user = AuthUser::from_request_parts(parts, state).await?;
    if !user.may_chat {
        return Err(roles::missing("chat").into());
    }
    Ok(user.user_id)
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
