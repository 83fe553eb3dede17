//! A local OpenAI-compatible server: `POST /v1/chat/completions` with `stream: true` answers
//! real `chat.completion.chunk` SSE, `data: [DONE]` and usage. Faults are queued per request:
//! 429 with `Retry-After`, 500, a stall, or a connection dropped mid-stream.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with this `Retry-After` (seconds).
    RateLimit { retry_after_secs: u64 },
    /// 500.
    ServerError,
    /// 200 and SSE headers, then nothing, ever.
    Stall,
    /// Sends this many tokens, then breaks the connection (no `[DONE]`).
    DropAfter(usize),
}

#[derive(Default)]
struct FakeState {
    faults: Mutex<VecDeque<Fault>>,
    requests: AtomicUsize,
    completed: AtomicUsize,
    disconnected: AtomicUsize,
    /// Streams open now, and the most ever open at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    tokens: AtomicU32,
    pacing_ms: AtomicU64,
    prompts: Mutex<Vec<Value>>,
    /// A reply of these deltas instead of `tok0 tok1 …`.
    custom_reply: Mutex<Option<Vec<String>>>,
    upstream_ttft: Mutex<Vec<Duration>>,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    /// Base URL including `/v1`, as `openai.base_url` expects.
    pub base_url: String,
    state: Arc<FakeState>,
}

impl FakeOpenAi {
    pub async fn start(tokens: u32, pacing: Duration) -> Self {
        let state = Arc::new(FakeState::default());
        state.tokens.store(tokens, Ordering::SeqCst);
        state
            .pacing_ms
            .store(pacing.as_millis() as u64, Ordering::SeqCst);
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake serves") });
        Self { base_url, state }
    }

    /// The next request gets this fault (faults queue up in order).
    pub fn push_fault(&self, fault: Fault) {
        self.state.faults.lock().expect("lock").push_back(fault);
    }

    /// Every later reply is `text`, streamed in pieces of a few characters (split inside
    /// markup, as a model's tokens would be).
    pub fn set_reply(&self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        let pieces = chars.chunks(3).map(|c| c.iter().collect()).collect();
        *self.state.custom_reply.lock().expect("lock") = Some(pieces);
    }

    pub fn set_pacing(&self, pacing: Duration) {
        self.state
            .pacing_ms
            .store(pacing.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Streams that ended with `[DONE]`.
    pub fn completed(&self) -> usize {
        self.state.completed.load(Ordering::SeqCst)
    }

    /// Streams the client hung up on before they ended.
    pub fn disconnected(&self) -> usize {
        self.state.disconnected.load(Ordering::SeqCst)
    }

    /// The most streams that were ever open at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Request bodies received, oldest first.
    pub fn prompts(&self) -> Vec<Value> {
        self.state.prompts.lock().expect("lock").clone()
    }

    /// Time from each request's arrival to its first chunk (for the benchmark).
    pub fn take_upstream_ttft(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.state.upstream_ttft.lock().expect("lock"))
    }

    /// The full text a fault-free stream of `n` tokens produces.
    pub fn reply(n: u32) -> String {
        (0..n).map(token).collect()
    }
}

fn token(i: u32) -> String {
    format!("tok{i} ")
}

async fn completions(State(state): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    let arrived = Instant::now();
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.prompts.lock().expect("lock").push(body.clone());
    let fault = state.faults.lock().expect("lock").pop_front();
    let drop_after = match fault {
        Some(Fault::RateLimit { retry_after_secs }) => {
            let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                Json(body),
            )
                .into_response();
        }
        Some(Fault::ServerError) => {
            let body =
                json!({"error": {"message": "The server had an error", "type": "server_error"}});
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
        }
        Some(Fault::Stall) => {
            let guard = Guard::new(&state);
            let body = stream::pending::<Result<Bytes, std::io::Error>>().map(move |x| {
                let _ = &guard;
                x
            });
            return sse_response(Body::from_stream(body));
        }
        Some(Fault::DropAfter(n)) => Some(n),
        None => None,
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake")
        .to_string();
    let pieces: Arc<Vec<String>> = Arc::new(
        state
            .custom_reply
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_else(|| {
                (0..state.tokens.load(Ordering::SeqCst))
                    .map(token)
                    .collect()
            }),
    );
    let tokens = pieces.len() as u32;
    let pacing = Duration::from_millis(state.pacing_ms.load(Ordering::SeqCst));
    let prompt_tokens = body
        .get("messages")
        .map(|m| m.to_string().len() as u32 / 4)
        .unwrap_or(0);
    let guard = Guard::new(&state);
    let chunks = stream::unfold((0u32, guard), move |(i, mut guard)| {
        let model = model.clone();
        let pieces = pieces.clone();
        async move {
            if i > tokens + 1 {
                return None;
            }
            if i < tokens && !pacing.is_zero() {
                tokio::time::sleep(pacing).await;
            }
            if drop_after == Some(i as usize) {
                return Some((
                    Err(std::io::Error::other("connection dropped by fault")),
                    (u32::MAX - 1, guard),
                ));
            }
            if i == 0 {
                guard
                    .state
                    .upstream_ttft
                    .lock()
                    .expect("lock")
                    .push(arrived.elapsed());
            }
            let data = if i < tokens {
                chunk(
                    &model,
                    json!({"content": pieces[i as usize]}),
                    Value::Null,
                    Value::Null,
                )
            } else if i == tokens {
                let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": tokens, "total_tokens": prompt_tokens + tokens});
                format!(
                    "{}data: [DONE]\n\n",
                    chunk(&model, json!({}), json!("stop"), usage)
                )
            } else {
                guard.finished = true;
                guard.state.completed.fetch_add(1, Ordering::SeqCst);
                return None;
            };
            Some((Ok(Bytes::from(data)), (i + 1, guard)))
        }
    });
    sse_response(Body::from_stream(chunks))
}

fn chunk(model: &str, delta: Value, finish_reason: Value, usage: Value) -> String {
    let body = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        "usage": usage,
    });
    format!("data: {body}\n\n")
}

fn sse_response(body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Counts a stream dropped before it finished: the client hung up (cancel, time limit).
/// One open stream: counted in flight from its creation until it is dropped.
struct Guard {
    state: Arc<FakeState>,
    finished: bool,
}

impl Guard {
    fn new(state: &Arc<FakeState>) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self {
            state: state.clone(),
            finished: false,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.state.disconnected.fetch_add(1, Ordering::SeqCst);
        }
    }
}
