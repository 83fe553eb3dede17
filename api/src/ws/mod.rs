//! `GET /api/ws`: one WebSocket for everything a chat app streams. JSON frames (`frames.rs`):
//! subscribe to an answer or a conversation from the last id seen, send, cancel; the events
//! are the SSE streams' own, with the same ids and the same exactly-once contract, so a client
//! that reconnects and resubscribes with its last ids gets every token once, in order.
//!
//! The socket closes with a code that says why (`frames::CloseReason`): the server shutting
//! down, the credential expiring or being revoked, a stream token's stream deleted, a reader
//! too slow (its frames wait in a bounded outbox, and a write it has not taken for
//! `SLOW_READER` ends the socket: never an unbounded buffer), no pong.

mod caller;
pub mod frames;
mod subscription;

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::{
        State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use futures::{SinkExt, StreamExt, stream::SplitSink};
use sluice_shared::dto::ChatIn;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use utoipa_axum::{router::OpenApiRouter, routes};

use self::{
    caller::Caller,
    frames::{ClientFrame, CloseReason, ServerFrame, Target},
    subscription::Outbox,
};
use crate::{
    error::ApiError,
    messages,
    openapi::ErrorBody,
    state::AppState,
    stream::{Scope, tokens},
};

/// Frames waiting for the socket: room for a burst, not for a client that stopped reading.
const OUTBOX_FRAMES: usize = 256;
/// A ping this often; a socket that answers none for two intervals is closed.
const PING_EVERY: Duration = Duration::from_secs(20);
/// How often a live socket's credential is checked again (revocation, disabling).
const RECHECK_AUTH_EVERY: Duration = Duration::from_secs(30);

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
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request(
            "not_a_websocket",
            "GET /api/ws must be a WebSocket upgrade request",
        )
    })?;
    let limit = state.config.body_limit_bytes;
    Ok(upgrade
        .max_message_size(limit)
        .on_upgrade(move |socket| serve(socket, state, caller)))
}

/// The socket's life: frames in, frames out, pings, credential checks, until one side closes.
async fn serve(socket: WebSocket, state: AppState, caller: Caller) {
    let (mut sink, mut incoming) = socket.split();
    let (frames, mut outgoing) = mpsc::channel(OUTBOX_FRAMES);
    let outbox = Outbox {
        frames,
        too_slow: CancellationToken::new(),
        deleted: CancellationToken::new(),
    };
    let mut session = Session {
        state: state.clone(),
        caller,
        outbox: outbox.clone(),
        subscriptions: HashMap::new(),
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut recheck = tokio::time::interval(RECHECK_AUTH_EVERY);
    let mut unanswered_pings = 0;
    let expiry = session.caller.time_left().unwrap_or(Duration::MAX / 4);
    let expired = tokio::time::sleep(expiry);
    tokio::pin!(expired);
    let close = loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => break Some(CloseReason::ShuttingDown),
            _ = outbox.too_slow.cancelled() => break Some(CloseReason::TooSlow),
            _ = outbox.deleted.cancelled(), if session.caller.scope.is_some() => {
                break Some(CloseReason::Deleted)
            }
            _ = &mut expired => break Some(CloseReason::AuthExpired),
            Some(text) = outgoing.recv() => {
                match write(&mut sink, Message::Text(text.into())).await {
                    Written::Yes => {}
                    Written::Gone => break None,
                    Written::TooSlow => break Some(CloseReason::TooSlow),
                }
            }
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => session.handle(&text).await,
                Some(Ok(Message::Pong(_))) => unanswered_pings = 0,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                // Pings are answered by the library; binary frames mean nothing here.
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    break Some(CloseReason::NoPong);
                }
                unanswered_pings += 1;
                match write(&mut sink, Message::Ping(Default::default())).await {
                    Written::Yes => {}
                    Written::Gone => break None,
                    Written::TooSlow => break Some(CloseReason::TooSlow),
                }
            }
            _ = recheck.tick() => {
                if !session.caller.still_valid(&state).await {
                    break Some(CloseReason::AuthExpired);
                }
            }
        }
    };
    session.stop_all();
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

enum Written {
    Yes,
    Gone,
    /// The client has not taken what was sent before for `SLOW_READER`.
    TooSlow,
}

/// Writes one message, giving up on a client that stopped reading (its socket buffers full).
async fn write(sink: &mut SplitSink<WebSocket, Message>, message: Message) -> Written {
    match tokio::time::timeout(subscription::SLOW_READER, sink.send(message)).await {
        Ok(Ok(())) => Written::Yes,
        Ok(Err(_)) => Written::Gone,
        Err(_) => Written::TooSlow,
    }
}

/// What one socket holds: who it is, and its subscriptions.
struct Session {
    state: AppState,
    caller: Caller,
    outbox: Outbox,
    subscriptions: HashMap<Target, JoinHandle<()>>,
}

impl Session {
    async fn handle(&mut self, text: &str) {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                let e = ApiError::bad_request("invalid_frame", format!("not a frame: {e}"));
                return self.outbox.error(None, e).await;
            }
        };
        match frame {
            ClientFrame::Subscribe {
                target,
                last_event_id,
            } => {
                if let Err(e) = self.may_read(target) {
                    return self.outbox.error(None, e).await;
                }
                self.subscribe(target, last_event_id);
            }
            ClientFrame::Unsubscribe { target } => {
                if let Some(task) = self.subscriptions.remove(&target) {
                    task.abort();
                }
            }
            ClientFrame::Send {
                reference,
                conversation_id,
                content,
                model,
            } => {
                let input = ChatIn {
                    message: content,
                    conversation_id,
                    model,
                };
                self.send(reference, input).await;
            }
            ClientFrame::Cancel {
                reference,
                message_id,
            } => self.cancel(reference, message_id).await,
            ClientFrame::Ping => {
                self.outbox.deliver(ServerFrame::Pong).await;
            }
        }
    }

    /// A stream token reads only its own stream.
    fn may_read(&self, target: Target) -> Result<(), ApiError> {
        let scope = match target {
            Target::MessageId(id) => Scope::Message(id),
            Target::ConversationId(id) => Scope::Conversation(id),
        };
        tokens::may_read(self.caller.scope, scope)
    }

    fn read_only(&self) -> Option<ApiError> {
        self.caller.scope.map(|_| {
            ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "read_only",
                "a stream token can only subscribe to its stream",
            )
        })
    }

    /// (Re)starts following `target`: one subscription per stream.
    fn subscribe(&mut self, target: Target, after: Option<u64>) {
        let task = tokio::spawn(subscription::follow(
            self.state.clone(),
            self.caller.user_id,
            target,
            after,
            self.outbox.clone(),
        ));
        if let Some(old) = self.subscriptions.insert(target, task) {
            old.abort();
        }
    }

    async fn send(&mut self, reference: Option<String>, input: ChatIn) {
        if let Some(e) = self.read_only() {
            return self.outbox.error(reference, e).await;
        }
        let started = messages::start_chat(&self.state, self.caller.user_id, input, None).await;
        match started {
            Ok((question, answer)) => {
                let sent = ServerFrame::Sent {
                    reference,
                    conversation_id: answer.conversation_id,
                    user_message_id: question.id,
                    message_id: answer.id,
                };
                self.outbox.deliver(sent).await;
                self.subscribe(Target::MessageId(answer.id), None);
            }
            Err(e) => self.outbox.error(reference, e).await,
        }
    }

    async fn cancel(&mut self, reference: Option<String>, message_id: uuid::Uuid) {
        if let Some(e) = self.read_only() {
            return self.outbox.error(reference, e).await;
        }
        match messages::cancel_answer(&self.state, self.caller.user_id, message_id).await {
            Ok(()) => {
                let frame = ServerFrame::Cancelling {
                    reference,
                    message_id,
                };
                self.outbox.deliver(frame).await;
            }
            Err(e) => self.outbox.error(reference, e).await,
        }
    }

    fn stop_all(&mut self) {
        for (_, task) in self.subscriptions.drain() {
            task.abort();
        }
    }
}
