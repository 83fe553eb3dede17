//! The protocol's operations as the OpenAPI document describes them: each method of
//! `/v1/stream/{path}` is one entry point, and all of them are `serve` (`mod.rs`), which
//! dispatches by method. `{path}` may hold slashes (`jobs/42/steps`); the document says
//! `{path}` where the router matches `{*path}`.

use axum::{extract::State, response::Response};

use super::serve;
use crate::{error::ErrorBody, state::AppState};

type Request = axum::extract::Request;

/// One Server-Sent Event of `live=sse`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only described: `sse.rs` writes the events.
struct DurableStreamEvent {
    /// `data`: what was appended; `control`: where the reader is.
    event: EventKind,
    /// `data`: the appends as text, as one JSON array (JSON streams) or as base64 (other
    /// streams; the response says `Stream-SSE-Data-Encoding: base64`). `control`: JSON —
    /// `streamNextOffset` (resume from it), `streamCursor`, `upToDate`, `streamClosed`.
    data: String,
    /// On `control` events: the offset, which an `EventSource` sends back as `Last-Event-ID`.
    id: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum EventKind {
    Data,
    Control,
}

/// Creates a stream (201), or confirms one with the same settings (200), or forks another
/// (`Stream-Forked-From`). The body, if any, is the stream's first data.
#[utoipa::path(put, path = "/v1/stream/{*path}", tag = "durable-streams",
    params(
        ("path" = String, Path, description = "The stream's path (slashes allowed), the owner's own"),
        ("Content-Type" = Option<String>, Header, description = "The stream's content type, echoed on every read (`application/octet-stream` if absent); `application/json` makes it a JSON stream"),
        ("Stream-TTL" = Option<String>, Header, pattern = "^(0|[1-9][0-9]{0,9})$", description = "Seconds the stream lives after its last read or write"),
        ("Stream-Expires-At" = Option<String>, Header, format = DateTime, description = "When it expires (RFC 3339); not with `Stream-TTL`"),
        ("Stream-Closed" = Option<String>, Header, description = "`true`: created closed, the body its whole content"),
        ("Stream-Forked-From" = Option<String>, Header, description = "`/v1/stream/{path}` of a stream to fork: the new one reads its data up to the fork offset, then its own"),
        ("Stream-Fork-Offset" = Option<String>, Header, pattern = "^[0-9]{16}_[0-9]{16}$", description = "Where to fork (the source's end if absent)"),
        ("Stream-Fork-Sub-Offset" = Option<String>, Header, pattern = "^(0|[1-9][0-9]{0,9})$", description = "How far into the next append to fork: bytes, or values of a JSON stream"),
    ),
    request_body(description = "The stream's first data (optional)", content(
        (String = "application/octet-stream"), (String = "text/plain"), (serde_json::Value = "application/json"))),
    responses(
        (status = 201, description = "Created: `Location`, `Content-Type`, `Stream-Next-Offset`"),
        (status = 200, description = "It exists with these settings (the body is not appended)"),
        (status = 400, description = "A header is malformed, or they contradict", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "The account may not use streams", body = ErrorBody),
        (status = 404, description = "No stream at `Stream-Forked-From`", body = ErrorBody),
        (status = 409, description = "It exists with other settings, or the fork's source was deleted", body = ErrorBody),
        (status = 413, description = "`append_too_large`: over `max_append_bytes`", body = ErrorBody),
        (status = 503, description = "Storage unavailable; try again", body = ErrorBody),
    ))]
pub async fn create(state: State<AppState>, request: Request) -> Response {
    serve(state, request).await
}

/// Appends the body (one append; a JSON array appends its items), and with
/// `Stream-Closed: true` closes the stream (an empty body only closes). With
/// `Producer-Id`/`-Epoch`/`-Seq` an append is stored exactly once however often it is sent.
#[utoipa::path(post, path = "/v1/stream/{*path}", tag = "durable-streams",
    params(
        ("path" = String, Path, description = "The stream's path"),
        ("Content-Type" = Option<String>, Header, description = "The stream's content type (required with a body)"),
        ("Stream-Closed" = Option<String>, Header, description = "`true`: close after this append"),
        ("Stream-Seq" = Option<String>, Header, description = "Must increase (byte-wise) from append to append"),
        ("Producer-Id" = Option<String>, Header, description = "An idempotent producer's id (with the two below)"),
        ("Producer-Epoch" = Option<i64>, Header, minimum = 0, description = "The producer's epoch: a new one fences off older ones"),
        ("Producer-Seq" = Option<i64>, Header, minimum = 0, description = "The producer's sequence: 0, 1, 2, … within an epoch"),
    ),
    request_body(description = "The data", content(
        (String = "application/octet-stream"), (String = "text/plain"), (serde_json::Value = "application/json"))),
    responses(
        (status = 200, description = "A producer's append stored (`Producer-Epoch`, `Producer-Seq`, `Stream-Next-Offset`)"),
        (status = 204, description = "Stored, or closed; for a producer, already stored (`Producer-Seq` says the highest)"),
        (status = 400, description = "No body, no content type, bad JSON, bad producer headers", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`stale_producer_epoch` (`Producer-Epoch` says the current), or the account may not use streams", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "Closed, another content type, `Stream-Seq` not increasing, or a producer sequence gap (`Producer-Expected-Seq`)", body = ErrorBody),
        (status = 410, description = "Deleted (its forks still read it)", body = ErrorBody),
        (status = 413, description = "`append_too_large`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: over `appends_per_second`; `Retry-After` says when to send again", body = ErrorBody),
        (status = 503, description = "Storage unavailable; send it again", body = ErrorBody),
    ))]
pub async fn append(state: State<AppState>, request: Request) -> Response {
    serve(state, request).await
}

/// Reads from `offset`: at once, or with `live=long-poll` as soon as there is something
/// (204 if nothing comes), or with `live=sse` as Server-Sent Events (`data` events, each
/// followed by a `control` event whose `streamNextOffset` is where to resume). JSON streams
/// answer one JSON array. The owner reads with their credentials; anyone with a stream token
/// (`POST /api/stream-tokens {"durable_stream": …}`) reads with `?token=`.
#[utoipa::path(get, path = "/v1/stream/{*path}", tag = "durable-streams",
    params(
        ("path" = String, Path, description = "The stream's path"),
        ("offset" = Option<String>, Query, pattern = "^(-1|now|[0-9]{16}_[0-9]{16})$", description = "`-1` (the start, as if absent), `now` (the end), or a `Stream-Next-Offset`"),
        ("live" = Option<String>, Query, pattern = "^(long-poll|sse)$", description = "`long-poll` or `sse` (with an `offset`)"),
        ("cursor" = Option<String>, Query, description = "The last `Stream-Cursor` seen (for caches)"),
        ("token" = Option<String>, Query, description = "A stream token, instead of credentials"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from before: 304 if nothing changed"),
        ("Last-Event-ID" = Option<String>, Header, description = "SSE: an `EventSource` resuming says the last offset it had"),
    ),
    responses(
        (status = 200, description = "Data from the offset: `Stream-Next-Offset`, `Stream-Up-To-Date` when it reaches the end, `Stream-Closed` when that end is final, `ETag`; with `live=sse`, an event stream", content(
            (String = "application/octet-stream"), (String = "text/plain"), (serde_json::Value = "application/json"), (inline(DurableStreamEvent) = "text/event-stream"))),
        (status = 204, description = "Long-poll: nothing new within the wait (`Stream-Next-Offset`, `Stream-Cursor`), or closed"),
        (status = 304, description = "Unchanged since that `ETag`"),
        (status = 400, description = "A malformed or repeated `offset`, `live` without `offset`, an offset past the end", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "A token for another kind of stream", body = ErrorBody),
        (status = 404, description = "No such stream (or not the token's)", body = ErrorBody),
        (status = 410, description = "Deleted (its forks still read it)", body = ErrorBody),
        (status = 503, description = "Storage unavailable; try again", body = ErrorBody),
    ))]
pub async fn read(state: State<AppState>, request: Request) -> Response {
    serve(state, request).await
}

/// Where the stream ends (`Stream-Next-Offset`), its content type, TTL or expiry, whether
/// it is closed. Does not count as a read for its TTL.
#[utoipa::path(head, path = "/v1/stream/{*path}", tag = "durable-streams",
    params(
        ("path" = String, Path, description = "The stream's path"),
        ("token" = Option<String>, Query, description = "A stream token, instead of credentials"),
    ),
    responses(
        (status = 200, description = "`Content-Type`, `Stream-Next-Offset`, `Stream-TTL` or `Stream-Expires-At`, `Stream-Closed`"),
        (status = 401, description = "`unauthorized`"),
        (status = 404, description = "No such stream"),
        (status = 410, description = "Deleted (its forks still read it)"),
    ))]
pub async fn describe(state: State<AppState>, request: Request) -> Response {
    serve(state, request).await
}

/// Deletes the stream and its data; while forks still read it, it is hidden (410) until the
/// last of them goes.
#[utoipa::path(delete, path = "/v1/stream/{*path}", tag = "durable-streams",
    params(("path" = String, Path, description = "The stream's path")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "The account may not use streams", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 410, description = "Already deleted (its forks still read it)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ))]
pub async fn delete(state: State<AppState>, request: Request) -> Response {
    serve(state, request).await
}
