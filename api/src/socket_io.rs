//! Socket.IO, namespace `/chat`, for apps built on `socket.io-client` (socketioxide serves the
//! protocol on `/socket.io/`). Authenticated by the handshake's `auth: {token}` (an access
//! token or an API key) or its `Authorization` header; refused with a `connect_error` otherwise.
//!
//! `join {conversationId, lastEventId?}` (with an ack: `{ok: true}` or `{error}`) follows a
//! conversation: `message:new {messageId, conversationId, id}` when an answer starts (again
//! after a resume: treat it as idempotent), `message:stream {messageId, delta, id}` per token
//! event, `message:update {messageId, content: "", reset: true, id}` when an answer starts over
//! (drop its text), `message:done {messageId, status, id, …}` at its end (`done`, `error`,
//! `cancelled`). `id` is the SSE stream's: after a reconnect, `join` again with the last one
//! seen and nothing is repeated or lost. `leave {conversationId}` stops following.
//!
//! A client too slow to take its events (socketioxide's per-socket buffer full) is
//! disconnected; it reconnects and joins again with its last id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::{
    SocketIo,
    extract::{AckSender, Data, SocketRef, State, TryData},
    handler::ConnectHandler,
    layer::SocketIoLayer,
};
use uuid::Uuid;

use crate::{
    auth::extractor,
    conversations::store as conversations,
    error::ApiError,
    state::AppState,
    stream::{self, Stored},
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

/// Who the socket is (set by `authenticate`).
#[derive(Clone, Copy)]
struct Caller(Uuid);

/// The socket's followed conversations: their relaying tasks, stopped on leave or disconnect.
#[derive(Clone, Default)]
struct Joined(Arc<Mutex<HashMap<Uuid, tokio::task::AbortHandle>>>);

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
    let user = extractor::from_bearer(&state, token)
        .await
        .map_err(|e| Refused(e.code_and_message().1))?;
    socket.extensions.insert(Caller(user.user_id));
    Ok(())
}

async fn on_connect(socket: SocketRef) {
    socket.extensions.insert(Joined::default());
    socket.on("join", join);
    socket.on("leave", leave);
    socket.on_disconnect(stop_following);
}

async fn stop_following(socket: SocketRef) {
    if let Some(joined) = socket.extensions.get::<Joined>() {
        for (_, task) in joined.0.lock().expect("not poisoned").drain() {
            task.abort();
        }
    }
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
        Err(e) => {
            let (code, message) = e.code_and_message();
            json!({ "error": { "code": code, "message": message } })
        }
    };
    let _ = ack.send(&reply);
}

async fn start_following(
    socket: &SocketRef,
    state: &AppState,
    input: JoinIn,
) -> Result<(), ApiError> {
    let Caller(user_id) = socket.extensions.get::<Caller>().expect("authenticated");
    let id = input.conversation_id;
    conversations::find(&state.pool, user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let events = stream::conversation_stream(state, id, input.last_event_id).await?;
    let relay = tokio::spawn(relay(socket.clone(), id, events));
    let joined = socket.extensions.get::<Joined>().unwrap_or_default();
    if let Some(old) = joined
        .0
        .lock()
        .expect("not poisoned")
        .insert(id, relay.abort_handle())
    {
        old.abort();
    }
    Ok(())
}

async fn leave(socket: SocketRef, Data(input): Data<Value>) {
    let id = input["conversationId"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok());
    if let (Some(id), Some(joined)) = (id, socket.extensions.get::<Joined>())
        && let Some(task) = joined.0.lock().expect("not poisoned").remove(&id)
    {
        task.abort();
    }
}

/// Emits the conversation's events as Socket.IO events until the socket goes.
async fn relay(
    socket: SocketRef,
    conversation_id: Uuid,
    events: impl futures::Stream<Item = Stored> + Send + 'static,
) {
    let mut events = std::pin::pin!(events);
    let mut started = std::collections::HashSet::new();
    while let Some(stored) = events.next().await {
        let data = stored.data();
        let Some(message_id) = data["message_id"].as_str().map(str::to_string) else {
            continue;
        };
        let id = stored.seq;
        let mut emits = Vec::new();
        if started.insert(message_id.clone()) {
            let new =
                json!({ "messageId": message_id, "conversationId": conversation_id, "id": id });
            emits.push(("message:new", new));
        }
        match stored.kind {
            "token" => emits.push((
                "message:stream",
                json!({ "messageId": message_id, "delta": data["delta"], "id": id }),
            )),
            "reset" => emits.push((
                "message:update",
                json!({ "messageId": message_id, "content": "", "reset": true, "id": id }),
            )),
            "done" => emits.push((
                "message:done",
                json!({ "messageId": message_id, "status": "done", "id": id,
                        "finishReason": data["finish_reason"], "usage": data["usage"] }),
            )),
            "error" => emits.push((
                "message:done",
                json!({ "messageId": message_id, "status": "error", "id": id,
                        "error": { "code": data["code"], "message": data["message"],
                                   "retryable": data["retryable"] } }),
            )),
            "cancelled" => emits.push((
                "message:done",
                json!({ "messageId": message_id, "status": "cancelled", "id": id }),
            )),
            _ => {}
        }
        for (event, payload) in emits {
            if socket.emit(event, &payload).is_err() {
                // Gone, or its buffer is full (too slow): it reconnects and joins with its id.
                let _ = socket.disconnect();
                return;
            }
        }
    }
}
