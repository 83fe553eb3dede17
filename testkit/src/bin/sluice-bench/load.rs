//! Closed-loop load: C clients, each sending a chat and reading its answer to the end, back to
//! back.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::join_all;
use serde_json::json;
use sluice_testkit::sse::SseStream;
use tokio::sync::Mutex;

use crate::stack::Stack;

/// `BENCH_ROUTE=v1`: chats through the OpenAI-compatible `POST /v1/chat/completions` instead
/// of `POST /api/chat`, to compare the two doors.
static V1: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var("BENCH_ROUTE").is_ok_and(|r| r == "v1"));

/// `BENCH_TRACE`: print the events of every chat slower than 300 ms (to find stalls).
static TRACE: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var("BENCH_TRACE").is_ok());

pub struct Row {
    pub chats: usize,
    /// Upstream tokens the clients received (counted in the text they assembled).
    pub tokens: usize,
    /// `token` events the clients received (a burst may share one event).
    pub events: usize,
    pub phases: Vec<Phases>,
    pub elapsed: Duration,
}

/// When one chat was sent, and when its first events arrived, from sending it.
#[derive(Clone, Copy)]
pub struct Phases {
    pub sent: Instant,
    pub meta: Duration,
    pub start: Duration,
    pub first_token: Duration,
    pub done: Duration,
}

impl Phases {
    /// A chat sent at `sent`, nothing arrived yet.
    fn sent_at(sent: Instant) -> Self {
        Self {
            sent,
            meta: Duration::ZERO,
            start: Duration::ZERO,
            first_token: Duration::ZERO,
            done: Duration::ZERO,
        }
    }
}

/// What one client saw of one chat.
pub struct Chat {
    pub phases: Phases,
    pub tokens: usize,
    pub events: usize,
    /// Time between consecutive token events as the client received them.
    pub gaps: Vec<Duration>,
}

/// Records a token event received at `at`: its gap from the previous one.
fn token_at(at: Duration, last: &mut Option<Duration>, gaps: &mut Vec<Duration>) {
    if let Some(previous) = last.replace(at) {
        gaps.push(at.saturating_sub(previous));
    }
}

/// C clients, each sending chats back to back for `length`; client i signs in as `users[i]`.
pub async fn load(
    stack: &Stack,
    users: &[String],
    c: usize,
    length: Duration,
) -> anyhow::Result<Row> {
    let phases = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let deadline = started + length;
    let clients = (0..c).map(|i| {
        let phases = phases.clone();
        let token = users[i % users.len()].as_str();
        async move {
            let (mut chats, mut tokens, mut events) = (0usize, 0usize, 0usize);
            while Instant::now() < deadline {
                let chat = one_chat(stack, token).await?;
                phases.lock().await.push(chat.phases);
                chats += 1;
                tokens += chat.tokens;
                events += chat.events;
            }
            anyhow::Ok((chats, tokens, events))
        }
    });
    let results = join_all(clients).await;
    let elapsed = started.elapsed();
    let (mut chats, mut tokens, mut events) = (0, 0, 0);
    for r in results {
        let (c, t, e) = r?;
        chats += c;
        tokens += t;
        events += e;
    }
    let phases = std::mem::take(&mut *phases.lock().await);
    Ok(Row {
        chats,
        tokens,
        events,
        phases,
        elapsed,
    })
}

/// `POST /api/chat`: the response is the answer's SSE stream, `meta` first.
pub async fn post_chat(
    stack: &Stack,
    token: &str,
    message: &str,
    model: &str,
) -> reqwest::Result<reqwest::Response> {
    stack
        .http
        .post(format!("{}/api/chat", stack.base))
        .bearer_auth(token)
        .json(&json!({"message": message, "model": model}))
        .send()
        .await
}

/// One `POST /api/chat` read to its end. Checks that the whole answer arrived: the tokens in
/// the assembled text must equal the upstream's `usage.output_tokens`.
pub async fn one_chat(stack: &Stack, token: &str) -> anyhow::Result<Chat> {
    if *V1 {
        return one_v1_chat(stack, token).await;
    }
    let sent = Instant::now();
    let response = post_chat(stack, token, "benchmark prompt", "fake").await?;
    anyhow::ensure!(
        response.status().is_success(),
        "chat failed: {}",
        response.status()
    );
    let mut events = SseStream::new(response);
    let (mut first, mut count, mut text) = (None, 0, String::new());
    // Only kept when tracing: the load client shares the CPU with what it measures.
    let mut marks = Vec::new();
    let mut phases = Phases::sent_at(sent);
    let (mut last, mut gaps) = (None, Vec::new());
    while let Some(e) = events.next().await {
        let at = sent.elapsed();
        match e.event.as_str() {
            "meta" => phases.meta = at,
            "start" => phases.start = at,
            "done" => phases.done = at,
            "token" => {
                first.get_or_insert(at);
                token_at(at, &mut last, &mut gaps);
                count += 1;
                text.push_str(e.data["delta"].as_str().unwrap_or_default());
            }
            _ => {}
        }
        if *TRACE {
            let id = match e.event.as_str() {
                "meta" => e.data["message_id"].to_string(),
                _ => e.id.unwrap_or(0).to_string(),
            };
            marks.push((format!("{} {id}", e.event), at));
        }
        if e.is_terminal() {
            anyhow::ensure!(
                e.event == "done",
                "answer ended with {}: {}",
                e.event,
                e.data
            );
            let tokens = text.split_whitespace().count();
            let reported = e.data["usage"]["output_tokens"].as_u64().unwrap_or(0) as usize;
            anyhow::ensure!(tokens == reported, "received {tokens} tokens of {reported}");
            break;
        }
    }
    if *TRACE && sent.elapsed() > Duration::from_millis(300) {
        eprintln!(
            "slow chat: {:?} in all, first token {first:?}; {marks:?}",
            sent.elapsed()
        );
    }
    phases.first_token = first.unwrap_or_default();
    Ok(Chat {
        phases,
        tokens: text.split_whitespace().count(),
        events: count,
        gaps,
    })
}

/// One streaming chat through Sluice's `POST /v1/chat/completions`.
async fn one_v1_chat(stack: &Stack, token: &str) -> anyhow::Result<Chat> {
    let endpoint = format!("{}/v1/chat/completions", stack.base);
    openai_chat(&stack.http, &endpoint, Some(token), "fake").await
}

/// One streaming chat at any OpenAI-compatible `endpoint` (`…/chat/completions`), read to
/// `[DONE]`, checked whole as `one_chat` checks its answer. Its phases: the first chunk (the
/// role) stands for `meta`, the first text for the first token.
pub async fn openai_chat(
    http: &reqwest::Client,
    endpoint: &str,
    key: Option<&str>,
    model: &str,
) -> anyhow::Result<Chat> {
    let sent = Instant::now();
    let mut request = http.post(endpoint);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request
        .json(&json!({
            "model": model,
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "benchmark prompt"}]
        }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "chat failed: {}",
        response.status()
    );
    let mut events = SseStream::new(response);
    let mut phases = Phases::sent_at(sent);
    let (mut count, mut text, mut reported) = (0, String::new(), None);
    let (mut last, mut gaps) = (None, Vec::new());
    while let Some(e) = events.next().await {
        let at = sent.elapsed();
        if e.data == "[DONE]" {
            phases.done = at;
            break;
        }
        anyhow::ensure!(e.data.get("error").is_none(), "answer failed: {}", e.data);
        if phases.meta.is_zero() {
            phases.meta = at;
            phases.start = at;
        }
        if let Some(u) = e.data["usage"]["completion_tokens"].as_u64() {
            reported = Some(u as usize);
        }
        if let Some(delta) = e.data["choices"][0]["delta"]["content"].as_str()
            && !delta.is_empty()
        {
            if phases.first_token.is_zero() {
                phases.first_token = at;
            }
            token_at(at, &mut last, &mut gaps);
            count += 1;
            text.push_str(delta);
        }
    }
    let tokens = text.split_whitespace().count();
    anyhow::ensure!(
        Some(tokens) == reported,
        "received {tokens} tokens of {reported:?}"
    );
    Ok(Chat {
        phases,
        tokens,
        events: count,
        gaps,
    })
}
