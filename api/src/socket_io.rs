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

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sluice_shared::events::{StreamEvent, Usage};
use socketioxide::{
    SocketIo,
    extract::{AckSender, SocketRef, State, TryData},
    handler::ConnectHandler,
    layer::SocketIoLayer,
};
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::{
    auth::extractor,
    error::ApiError,
    state::AppState,
    stream::{self, Stored},
    ws::caller::Caller,
};

/// Events waiting for one socket; past it, the socket is too slow and is disconnected.
const BUFFERED_EVENTS: usize = 256;
/// Conversations one socket may follow at once.
const MAX_JOINED: usize = 64;

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

/// The socket's tasks: a relay per joined conversation, and the credential's watch; all
/// stopped on disconnect.
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<TaskList>>);

#[derive(Default)]
struct TaskList {
    joined: HashMap<Uuid, AbortHandle>,
    watch: Option<AbortHandle>,
    /// Set on disconnect: a task started after it is stopped at once.
    closed: bool,
}

impl Tasks {
    /// Keeps `task` as `conversation`'s relay (replacing and stopping an older one); stops it
    /// at once if the socket has gone meanwhile.
    fn join(&self, conversation: Uuid, task: AbortHandle) {
        let mut list = self.0.lock().expect("not poisoned");
        if list.closed {
            task.abort();
            return;
        }
        if let Some(old) = list.joined.insert(conversation, task) {
            old.abort();
        }
    }

    fn leave(&self, conversation: Uuid) {
        if let Some(task) = self
            .0
            .lock()
            .expect("not poisoned")
            .joined
            .remove(&conversation)
        {
            task.abort();
        }
    }

    /// Whether one more conversation may be joined.
    fn has_room(&self, conversation: Uuid) -> bool {
        let list = self.0.lock().expect("not poisoned");
        list.joined.len() < MAX_JOINED || list.joined.contains_key(&conversation)
    }

    fn stop_all(&self) {
        let mut list = self.0.lock().expect("not poisoned");
        list.closed = true;
        for (_, task) in list.joined.drain() {
            task.abort();
        }
        if let Some(watch) = list.watch.take() {
            watch.abort();
        }
    }
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
        Err(e) => json!({ "error": e.into_detail() }),
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

/// One Socket.IO event of an answer (`id`: the SSE stream's).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Emitted {
    message_id: Uuid,
    id: u64,
    #[serde(flatten)]
    what: What,
}

#[derive(Serialize)]
#[serde(untagged)]
enum What {
    New {
        #[serde(rename = "conversationId")]
        conversation_id: Uuid,
    },
    Stream {
        delta: String,
    },
    Update {
        content: String,
        reset: bool,
    },
    Done {
        status: &'static str,
        #[serde(rename = "finishReason", skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<serde_json::Value>,
    },
}

/// The Socket.IO events one stored event becomes: (name, payload).
fn translate(
    conversation_id: Uuid,
    started: &mut HashSet<Uuid>,
    stored: &Stored,
) -> Vec<(&'static str, Emitted)> {
    let Ok(event) = serde_json::from_slice::<StreamEvent>(&stored.payload) else {
        return Vec::new();
    };
    let id = stored.seq;
    let emitted = |message_id, what| Emitted {
        message_id,
        id,
        what,
    };
    let message_id = match &event {
        StreamEvent::Meta { message_id, .. }
        | StreamEvent::Start { message_id, .. }
        | StreamEvent::Token { message_id, .. }
        | StreamEvent::Reset { message_id, .. }
        | StreamEvent::Done { message_id, .. }
        | StreamEvent::Error { message_id, .. }
        | StreamEvent::Cancelled { message_id } => *message_id,
    };
    let mut out = Vec::new();
    if started.insert(message_id) {
        out.push((
            "message:new",
            emitted(message_id, What::New { conversation_id }),
        ));
    }
    let done = |status, finish_reason, usage, error| What::Done {
        status,
        finish_reason,
        usage,
        error,
    };
    let what = match event {
        StreamEvent::Token { delta, .. } => ("message:stream", What::Stream { delta }),
        StreamEvent::Reset { .. } => (
            "message:update",
            What::Update {
                content: String::new(),
                reset: true,
            },
        ),
        StreamEvent::Done {
            finish_reason,
            usage,
            ..
        } => (
            "message:done",
            done("done", Some(finish_reason), Some(usage), None),
        ),
        StreamEvent::Error {
            code,
            message,
            retryable,
            ..
        } => {
            let error = json!({ "code": code, "message": message, "retryable": retryable });
            ("message:done", done("error", None, None, Some(error)))
        }
        StreamEvent::Cancelled { .. } => ("message:done", done("cancelled", None, None, None)),
        StreamEvent::Meta { .. } | StreamEvent::Start { .. } => return out,
    };
    out.push((what.0, emitted(message_id, what.1)));
    out
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
