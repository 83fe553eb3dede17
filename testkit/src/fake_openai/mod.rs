//! A local model provider speaking each vendor's real streaming wire format, on one port:
//! OpenAI's `POST /v1/chat/completions` (`chat.completion.chunk`s, usage, `data: [DONE]`),
//! Anthropic's `POST /v1/messages` (`message_start` … `message_stop`, with a `ping`) and
//! Gemini's `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`. Faults are queued per
//! request, whichever format asks: 429 with `Retry-After`, 500, overloaded (529 for Anthropic,
//! 503 otherwise), a stall, a connection dropped mid-stream, a malformed event, or the
//! vendor's own in-stream error event.

mod wire;

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
use serde_json::Value;

use wire::{Vendor, ending, in_stream_error, opening, piece, refusal};

#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with this `Retry-After` (seconds).
    RateLimit { retry_after_secs: u64 },
    /// 500.
    ServerError,
    /// 200 and SSE headers, then nothing, ever.
    Stall,
    /// No response at all, not even headers.
    NoResponse,
    /// Sends this many tokens, then breaks the connection (no `[DONE]`).
    DropAfter(usize),
    /// 529 (Anthropic's "overloaded"), 503 for the others.
    Overloaded,
    /// Sends this many tokens, then an event that is not the format's JSON.
    MalformedAfter(usize),
    /// Sends this many tokens, then the vendor's in-stream error (Anthropic's
    /// `overloaded_error`), and ends.
    ErrorEventAfter(usize),
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
    headers: Mutex<Vec<axum::http::HeaderMap>>,
    /// Send no usage (as some servers do).
    omit_usage: std::sync::atomic::AtomicBool,
    /// Requests authenticated with one of these keys get 401, as a revoked key would.
    refused_keys: Mutex<Vec<String>>,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    /// Base URL including `/v1`, as `openai.base_url` and `anthropic.base_url` expect.
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
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .route("/v1beta/models/{action}", post(gemini))
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

    /// Waits (5 s at most) until `n` streams were dropped by the client (an aborted call).
    pub async fn wait_for_disconnected(&self, n: usize) {
        let dropped = || async { self.disconnected() };
        crate::wait::until(
            "the upstream call to be aborted",
            Duration::from_secs(5),
            dropped,
            |d| *d == n,
        )
        .await;
    }

    /// The most streams that were ever open at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Request bodies received, oldest first.
    pub fn prompts(&self) -> Vec<Value> {
        self.state.prompts.lock().expect("lock").clone()
    }

    /// From now on, a request authenticated with `key` (in whichever header its vendor uses)
    /// gets 401 in the vendor's error shape.
    pub fn refuse_key(&self, key: &str) {
        self.state
            .refused_keys
            .lock()
            .expect("lock")
            .push(key.into());
    }

    /// Answers from now on carry no usage, as some OpenAI-compatible servers send none.
    pub fn omit_usage(&self) {
        self.state.omit_usage.store(true, Ordering::SeqCst);
    }

    /// Base URL for `gemini.base_url` (`…/v1beta`).
    pub fn gemini_base_url(&self) -> String {
        format!("{}beta", self.base_url)
    }

    /// The request headers of every request, in order (to check authentication headers).
    pub fn headers(&self) -> Vec<axum::http::HeaderMap> {
        self.state.headers.lock().expect("lock").clone()
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

async fn openai(
    State(state): State<Arc<FakeState>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    answer(state, Vendor::OpenAi, headers, body).await
}

async fn anthropic(
    State(state): State<Arc<FakeState>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    answer(state, Vendor::Anthropic, headers, body).await
}

async fn gemini(
    State(state): State<Arc<FakeState>>,
    axum::extract::Path(action): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    Json(mut body): Json<Value>,
) -> Response {
    let Some(model) = action.strip_suffix(":streamGenerateContent") else {
        return (StatusCode::NOT_FOUND, "only streamGenerateContent").into_response();
    };
    // The model is in the path; kept in the recorded body for tests to read.
    body["model"] = model.into();
    answer(state, Vendor::Gemini, headers, body).await
}

async fn answer(
    state: Arc<FakeState>,
    vendor: Vendor,
    headers: axum::http::HeaderMap,
    body: Value,
) -> Response {
    let arrived = Instant::now();
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.prompts.lock().expect("lock").push(body.clone());
    let refused = {
        let refused_keys = state.refused_keys.lock().expect("lock");
        let presents = |key: &String| {
            (headers.values()).any(|v| v.to_str().is_ok_and(|v| v.contains(key.as_str())))
        };
        refused_keys.iter().any(presents)
    };
    state.headers.lock().expect("lock").push(headers);
    if refused {
        return refusal(
            vendor,
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
        );
    }
    let fault = state.faults.lock().expect("lock").pop_front();
    let (mut drop_after, mut malformed_after, mut error_after) = (None, None, None);
    match fault {
        Some(Fault::RateLimit { retry_after_secs }) => {
            let mut r = refusal(vendor, StatusCode::TOO_MANY_REQUESTS, "Rate limit reached");
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            return r;
        }
        Some(Fault::ServerError) => {
            return refusal(
                vendor,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error",
            );
        }
        Some(Fault::Overloaded) => {
            let status = match vendor {
                Vendor::Anthropic => StatusCode::from_u16(529).expect("529"),
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return refusal(vendor, status, "Overloaded");
        }
        Some(Fault::Stall) => {
            let guard = Guard::new(&state);
            let body = stream::pending::<Result<Bytes, std::io::Error>>().map(move |x| {
                let _ = &guard;
                x
            });
            return sse_response(Body::from_stream(body));
        }
        Some(Fault::NoResponse) => {
            let _guard = Guard::new(&state);
            return std::future::pending().await;
        }
        Some(Fault::DropAfter(n)) => drop_after = Some(n as u32),
        Some(Fault::MalformedAfter(n)) => malformed_after = Some(n as u32),
        Some(Fault::ErrorEventAfter(n)) => error_after = Some(n as u32),
        None => {}
    }
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
    let prompt_tokens = body.to_string().len() as u32 / 4;
    let omit_usage = state.omit_usage.load(Ordering::SeqCst);
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
            if drop_after == Some(i) {
                return Some((
                    Err(std::io::Error::other("connection dropped by fault")),
                    (u32::MAX - 1, guard),
                ));
            }
            if malformed_after == Some(i) {
                let data = "data: {this is not json\n\n".to_string();
                return Some((Ok(Bytes::from(data)), (u32::MAX - 1, guard)));
            }
            if error_after == Some(i) {
                let data = in_stream_error(vendor);
                return Some((Ok(Bytes::from(data)), (u32::MAX - 1, guard)));
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
                let opening = if i == 0 {
                    opening(vendor, prompt_tokens)
                } else {
                    String::new()
                };
                opening + &piece(vendor, &model, &pieces[i as usize])
            } else if i == tokens {
                ending(vendor, &model, prompt_tokens, tokens, omit_usage)
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
