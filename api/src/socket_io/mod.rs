//! Socket.IO, namespace `/chat`, for apps built on `socket.io-client` (socketioxide serves the
//! protocol on `/socket.io/`). Authenticated by the handshake's `auth: {token}` (an access
//! token or an API key) or its `Authorization` header; refused with a `connect_error` otherwise.
//! The credential is checked again while the socket lives (`ws::caller`): once it expires or
//! is revoked, the socket gets `session:expired` and is disconnected.
//!
//! `join {conversationId, lastEventId?}` (with an ack: `{ok: true}` or `{error}`) follows a
//! conversation: `message:new {messageId, conversationId, id}` when an answer starts (again
//! after a resume: treat it as idempotent), `message:stream {messageId, delta, id}` per token
//! event, `message:update {messageId, content: "", reset: true, id}` when an answer starts over
//! (drop its text), `message:done {messageId, status, id, …}` at its end (`done`, `error`,
//! `cancelled`). `id` is the SSE stream's: after a reconnect, `join` again with the last one
//! seen and nothing is repeated or lost. `leave {conversationId}` stops following.
//!
//! A client too slow to take its events (socketioxide's per-socket buffer full), or whose
//! relay stops (the live feed cut it off), is disconnected; it reconnects and joins again with
//! its last id.

use std::collections::HashSet;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use socketioxide::{
    SocketIo,
    extract::{AckSender, SocketRef, State, TryData},
    handler::ConnectHandler,
    layer::SocketIoLayer,
};
use uuid::Uuid;

use crate::{
    auth::extractor,
    error::ApiError,
    state::AppState,
    stream::{self, Stored},
    ws::caller::Caller,
};

mod events;
mod tasks;

use self::{
    events::translate,
    tasks::{MAX_JOINED, Tasks},
};

/// Events waiting for one socket; past it, the socket is too slow and is disconnected.
const BUFFERED_EVENTS: usize = 256;

/// The layer serving `/socket.io/`, with the `/chat` namespace.
pub fn layer(state: AppState) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(BUFFERED_EVENTS)
        .max_payload(state.config.body_limit_bytes as u64)
        .with_state(state)
        .build_layer();
    io.ns("/chat", on_connect.with(authenticate));
    layer
}

#[derive(Deserialize)]
struct HandshakeAuth {
    token: Option<String>,
}

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

async fn authenticate(
    socket: SocketRef,
    State(state): State<AppState>,
    TryData(auth): TryData<HandshakeAuth>,
) -> Result<(), Refused> {
    let from_auth = auth.ok().and_then(|a| a.token);
    let token = from_auth
        .as_deref()
        .or_else(|| extractor::bearer(&socket.req_parts().headers))
        .ok_or_else(|| Refused("sign in: send auth: {token: <access token or API key>}".into()))?;
    let caller = Caller::from_bearer(&state, token)
        .await
        .map_err(|e| Refused(e.code_and_message().1))?;
    socket.extensions.insert(caller);
    Ok(())
}

async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    let tasks = Tasks::default();
    socket.extensions.insert(tasks.clone());
    let caller = socket.extensions.get::<Caller>().expect("authenticated");
    let watched = socket.clone();
    let watch = tokio::spawn(async move {
        caller.until_invalid(&state).await;
        tracing::info!("socket.io: the credential expired or was revoked; disconnecting");
        let _ = watched.emit(
            "session:expired",
            &json!({ "message": "the credential expired or was revoked: connect again" }),
        );
        let _ = watched.disconnect();
    });
    tasks.0.lock().expect("not poisoned").watch = Some(watch.abort_handle());
    socket.on("join", join);
    socket.on("leave", leave);
    socket.on_disconnect(async |socket: SocketRef| {
        if let Some(tasks) = socket.extensions.get::<Tasks>() {
            tasks.stop_all();
        }
    });
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinIn {
    conversation_id: Uuid,
    last_event_id: Option<u64>,
}

async fn join(
    socket: SocketRef,
    State(state): State<AppState>,
    TryData(input): TryData<JoinIn>,
    ack: AckSender,
) {
    let result = match input {
        Ok(input) => start_following(&socket, &state, input).await,
        Err(e) => Err(ApiError::bad_request(
            "invalid_body",
            format!("join takes {{conversationId, lastEventId?}}: {e}"),
        )),
    };
    let reply = match result {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!(crate::error::ErrorBody {
            error: e.into_detail()
        }),
    };
    let _ = ack.send(&reply);
}

async fn start_following(
    socket: &SocketRef,
    state: &AppState,
    input: JoinIn,
) -> Result<(), ApiError> {
    let caller = socket.extensions.get::<Caller>().expect("authenticated");
    let tasks = socket.extensions.get::<Tasks>().expect("set on connect");
    let id = input.conversation_id;
    if !tasks.has_room(id) {
        return Err(ApiError::bad_request(
            "too_many_subscriptions",
            format!("a socket follows at most {MAX_JOINED} conversations; leave one first"),
        ));
    }
    // An older relay of the same conversation stops before the new one reads anything.
    tasks.leave(id);
    let events =
        stream::conversation_stream(state, caller.user_id, id, input.last_event_id).await?;
    let relay = tokio::spawn(relay(socket.clone(), id, events));
    tasks.join(id, relay.abort_handle());
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaveIn {
    conversation_id: Uuid,
}

async fn leave(socket: SocketRef, TryData(input): TryData<LeaveIn>) {
    if let (Ok(input), Some(tasks)) = (input, socket.extensions.get::<Tasks>()) {
        tasks.leave(input.conversation_id);
    }
}

/// Emits the conversation's events as Socket.IO events until the socket goes or the relay
/// stops; then disconnects, so the client reconnects and joins again with its last id.
async fn relay(
    socket: SocketRef,
    conversation_id: Uuid,
    events: impl futures::Stream<Item = Stored> + Send + 'static,
) {
    let mut events = std::pin::pin!(events);
    let mut started = HashSet::new();
    while let Some(stored) = events.next().await {
        for (name, payload) in translate(conversation_id, &mut started, &stored) {
            if let Err(e) = socket.emit(name, &payload) {
                // Gone, or its buffer is full (too slow).
                tracing::info!(error = %e, "socket.io: disconnecting a socket that cannot take events");
                let _ = socket.disconnect();
                return;
            }
        }
    }
    tracing::info!("socket.io: the conversation's relay stopped; disconnecting");
    let _ = socket.disconnect();
}
