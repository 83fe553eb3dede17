//! `GET /api/ws`: one WebSocket for everything a chat app streams. JSON frames (`frames.rs`):
//! subscribe to an answer or a conversation from the last id seen, send, cancel; the events
//! are the SSE streams' own, with the same ids and the same exactly-once contract, so a client
//! that reconnects and resubscribes with its last ids gets every token once, in order.
//!
//! The socket closes with a code that says why (`frames::CloseReason`): the server shutting
//! down, the credential expiring or being revoked, a stream token's stream deleted, a reader
//! too slow (subscriptions' frames wait in a bounded outbox, and a write the client has not
//! taken for `SLOW_READER` ends the socket: never an unbounded buffer), no pong.

pub mod caller;
pub mod frames;
mod session;
mod subscription;

use std::time::Duration;

use axum::{
    extract::{
        State,
        ws::{
            CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
        },
    },
    response::Response,
};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use utoipa_axum::{router::OpenApiRouter, routes};

use self::{
    caller::Caller,
    frames::{CloseReason, ServerFrame},
    session::Session,
    subscription::{Outbox, SLOW_READER},
};
use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// Frames waiting for the socket: room for a burst, not for a client that stopped reading.
const OUTBOX_FRAMES: usize = 256;
/// The socket's read buffer to start with: a client's frames are small (a subscribe is ~100
/// bytes), and it grows for a larger one.
const READ_BUFFER: usize = 1024;
/// A ping this often; a socket that answers none for two intervals is closed.
const PING_EVERY: Duration = Duration::from_secs(20);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(open))
}

/// Opens the WebSocket. Authenticated like every route (bearer access token or API key, or the
/// session cookie from a page of this site), or by `?token=` (a stream token, which may only
/// subscribe to its one stream).
#[utoipa::path(get, path = "/api/ws", tag = "streams",
    params(("token" = Option<String>, Query, description = "A stream token, instead of a credential")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol (JSON frames)"),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`: a cookie-signed socket from another site", body = ErrorBody),
    ))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request(
            "not_a_websocket",
            "GET /api/ws must be a WebSocket upgrade request",
        )
    })?;
    let limit = state.config.body_limit_bytes;
    let span = tracing::info_span!("websocket", user_id = %caller.user_id);
    Ok(upgrade
        .max_message_size(limit)
        // An idle socket should cost little: the library's default buffers are 128 KiB each way.
        // Frames are small (a token event is ~200 bytes), the read buffer grows for a larger
        // one, and every frame is flushed as it is sent, so no write buffer is needed.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(limit)
        .on_upgrade(move |socket| serve(socket, state, caller).instrument(span)))
}

/// The socket's life: frames in and out until one side ends it, then the close frame saying why.
async fn serve(socket: WebSocket, state: AppState, caller: Caller) {
    let (mut sink, incoming) = socket.split();
    let (frames, outgoing) = mpsc::channel(OUTBOX_FRAMES);
    let outbox = Outbox {
        frames,
        too_slow: CancellationToken::new(),
        stream_deleted: CancellationToken::new(),
    };
    let mut session = Session::new(state.clone(), caller, outbox);
    let close = relay(&mut sink, incoming, outgoing, &mut session).await;
    session.stop_all();
    tracing::debug!(?close, "websocket closed");
    if let Some(reason) = close {
        let frame = CloseFrame {
            code: reason.code(),
            reason: reason.text().into(),
        };
        // A reader too slow may never take the close frame: don't wait on it for long.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
}

type Sink = SplitSink<WebSocket, Message>;

/// Frames in, frames out, pings and credential checks, until one side ends the socket: `None`
/// when the client did, else why the server does.
async fn relay(
    sink: &mut Sink,
    mut incoming: futures::stream::SplitStream<WebSocket>,
    mut outgoing: mpsc::Receiver<subscription::Queued>,
    session: &mut Session,
) -> Option<CloseReason> {
    let state = session.state.clone();
    let caller = session.caller;
    let outbox = session.outbox.clone();
    // Boxed here and below: an idle socket's task holds its largest state inline, so the
    // rarely-run steps (a credential check, a send with its enqueue) live on the heap only
    // while they run. An idle socket costs ~30 KiB; unboxed, more.
    let mut invalid = Box::pin(caller.until_invalid(&state));
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut unanswered_pings = 0;
    loop {
        let written = tokio::select! {
            _ = state.shutdown.cancelled() => return Some(CloseReason::ShuttingDown),
            _ = outbox.too_slow.cancelled() => return Some(CloseReason::TooSlow),
            _ = outbox.stream_deleted.cancelled(), if caller.scope.is_some() => {
                return Some(CloseReason::Deleted)
            }
            _ = &mut invalid => return Some(CloseReason::AuthExpired),
            Some(queued) = outgoing.recv() => {
                if !session.is_current(queued.from) {
                    continue;
                }
                write(sink, Message::Text(queued.text.into())).await
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    // Replies go out from here, not through the outbox, so a full outbox can
                    // never hold up the loop that empties it.
                    let mut written = Written::Yes;
                    for reply in Box::pin(session.handle(&text)).await {
                        written = write(sink, Message::Text(reply.to_text().into())).await;
                        if !matches!(written, Written::Yes) {
                            break;
                        }
                    }
                    written
                }
                Some(Ok(Message::Binary(_))) => {
                    let e = ApiError::bad_request("invalid_frame", "frames are JSON text");
                    let reply = ServerFrame::error(None, None, e);
                    write(sink, Message::Text(reply.to_text().into())).await
                }
                Some(Ok(Message::Pong(_))) => {
                    unanswered_pings = 0;
                    Written::Yes
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                // Pings are answered by the library.
                Some(Ok(_)) => Written::Yes,
            },
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    return Some(CloseReason::NoPong);
                }
                unanswered_pings += 1;
                write(sink, Message::Ping(Default::default())).await
            }
        };
        match written {
            Written::Yes => {}
            Written::Gone => return None,
            Written::TooSlow => return Some(CloseReason::TooSlow),
        }
    }
}

enum Written {
    Yes,
    Gone,
    /// The client has not taken what was sent before for `SLOW_READER`.
    TooSlow,
}

/// Writes one message, giving up on a client that stopped reading (its socket buffers full).
async fn write(sink: &mut Sink, message: Message) -> Written {
    match tokio::time::timeout(SLOW_READER, sink.send(message)).await {
        Ok(Ok(())) => Written::Yes,
        Ok(Err(_)) => Written::Gone,
        Err(_) => Written::TooSlow,
    }
}
