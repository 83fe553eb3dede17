//! Any OpenAI-compatible `/chat/completions` endpoint, streaming. Before the first token it
//! retries 429 (honouring `Retry-After`), 5xx, connect errors and silent streams with
//! exponential back-off; after the first token a failure ends the message with an error
//! (replaying tokens already shown would duplicate text).

use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures::{FutureExt, Stream, StreamExt, future::BoxFuture, stream};
use reqwest::{StatusCode, header};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sluice_shared::{config::OpenAiConfig, events::Usage};

use super::{ChunkStream, Provider, ProviderChunk, ProviderError, ProviderRequest};

pub struct OpenAi {
    http: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAi {
    pub fn new(config: OpenAiConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client builds with static settings");
        Self { http, config }
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.config.idle_timeout_secs)
    }

    fn backoff(&self, retry: u32) -> Duration {
        Duration::from_millis(self.config.retry_base_ms.saturating_mul(1 << retry.min(10)))
    }
}

#[derive(Deserialize)]
struct ChunkBody {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<UsageBody>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageBody {
    prompt_tokens: u32,
    completion_tokens: u32,
}

/// What one attempt to open the stream came to.
enum Opened {
    Streaming(ChunkStream),
    Retry {
        after: Option<Duration>,
        why: ProviderError,
    },
    Fail(ProviderError),
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn stream(
        &self,
        request: ProviderRequest,
    ) -> BoxFuture<'_, Result<ChunkStream, ProviderError>> {
        async move {
            let mut retry = 0;
            loop {
                let (after, why) = match self.open(&request).await {
                    Opened::Streaming(s) => return Ok(s),
                    Opened::Fail(e) => return Err(e),
                    Opened::Retry { after, why } => (after, why),
                };
                if retry >= self.config.max_retries {
                    return Err(why);
                }
                let wait = after.unwrap_or_else(|| self.backoff(retry));
                tracing::warn!(retry, wait_ms = wait.as_millis() as u64, error = %why, "provider retry");
                tokio::time::sleep(wait).await;
                retry += 1;
            }
        }
        .boxed()
    }
}

impl OpenAi {
    async fn open(&self, request: &ProviderRequest) -> Opened {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "model": request.model,
            "messages": request.messages,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": request.max_output_tokens,
        });
        let mut call = self.http.post(url).json(&body);
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key.expose_secret());
        }
        let response = match call.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = ProviderError::new(
                    "upstream_unreachable",
                    "could not reach the model provider",
                    true,
                );
                tracing::warn!(error = %e, "provider connect failed");
                return Opened::Retry { after: None, why };
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return self.rate_limited(&response);
        }
        if status.is_server_error() {
            let why = ProviderError::new(
                "upstream_error",
                format!("model provider answered {status}"),
                true,
            );
            return Opened::Retry { after: None, why };
        }
        if !status.is_success() {
            let code = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                "upstream_auth"
            } else {
                "upstream_rejected"
            };
            return Opened::Fail(ProviderError::new(
                code,
                format!("model provider answered {status}"),
                false,
            ));
        }
        let events = with_idle_timeout(response.bytes_stream().eventsource(), self.idle_timeout());
        first_chunk_then_rest(events.boxed()).await
    }

    fn rate_limited(&self, response: &reqwest::Response) -> Opened {
        let after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let why = ProviderError::new(
            "rate_limited",
            "the model provider is rate-limiting requests",
            true,
        );
        match after {
            Some(d) if d.as_secs() > self.config.max_retry_after_secs => Opened::Fail(why),
            after => Opened::Retry { after, why },
        }
    }
}

type EventResult = Result<Event, ProviderError>;

/// Ends the stream with `upstream_timeout` when nothing arrives for `idle`.
fn with_idle_timeout<S, E>(events: S, idle: Duration) -> impl Stream<Item = EventResult>
where
    S: Stream<Item = Result<Event, E>> + Unpin,
    E: std::fmt::Display,
{
    stream::unfold(Some(events), move |state| async move {
        let mut events = state?;
        match tokio::time::timeout(idle, events.next()).await {
            Err(_) => Some((
                Err(ProviderError::new(
                    "upstream_timeout",
                    "the model provider stopped sending",
                    true,
                )),
                None,
            )),
            Ok(None) => None,
            Ok(Some(Ok(e))) => Some((Ok(e), Some(events))),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "provider stream broke");
                Some((
                    Err(ProviderError::new(
                        "upstream_disconnected",
                        "the model provider closed the stream early",
                        true,
                    )),
                    None,
                ))
            }
        }
    })
}

/// Reads until the first delta (or finish) so that failures before any token can be retried,
/// then hands back a stream starting with that chunk.
async fn first_chunk_then_rest(events: futures::stream::BoxStream<'static, EventResult>) -> Opened {
    let mut chunks = chunks(events);
    match chunks.next().await {
        Some(Ok(first)) => {
            Opened::Streaming(stream::once(async { Ok(first) }).chain(chunks).boxed())
        }
        Some(Err(why)) => Opened::Retry { after: None, why },
        None => Opened::Retry {
            after: None,
            why: ProviderError::new(
                "upstream_disconnected",
                "the model provider closed the stream early",
                true,
            ),
        },
    }
}

/// Turns SSE events into chunks: deltas, then one `Finished` on `[DONE]`. A stream that ends
/// without `[DONE]` is an error: the answer is incomplete.
fn chunks(events: futures::stream::BoxStream<'static, EventResult>) -> ChunkStream {
    struct State {
        events: futures::stream::BoxStream<'static, EventResult>,
        finish_reason: Option<String>,
        usage: Option<Usage>,
        done: bool,
    }
    let state = State {
        events,
        finish_reason: None,
        usage: None,
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            let event = match s.events.next().await {
                None => {
                    s.done = true;
                    let e = ProviderError::new(
                        "upstream_disconnected",
                        "the model provider closed the stream early",
                        true,
                    );
                    return Some((Err(e), s));
                }
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
                Some(Ok(event)) => event,
            };
            if event.data.trim() == "[DONE]" {
                s.done = true;
                let finish = ProviderChunk::Finished {
                    finish_reason: s.finish_reason.take().unwrap_or_else(|| "stop".into()),
                    usage: s.usage.take(),
                };
                return Some((Ok(finish), s));
            }
            let Ok(body) = serde_json::from_str::<ChunkBody>(&event.data) else {
                s.done = true;
                let e = ProviderError::new(
                    "upstream_protocol",
                    "the model provider sent a malformed chunk",
                    false,
                );
                return Some((Err(e), s));
            };
            if let Some(u) = body.usage {
                s.usage = Some(Usage {
                    input_tokens: u.prompt_tokens,
                    output_tokens: u.completion_tokens,
                });
            }
            let mut delta = String::new();
            for choice in body.choices {
                if let Some(reason) = choice.finish_reason {
                    s.finish_reason = Some(reason);
                }
                delta.push_str(choice.delta.content.as_deref().unwrap_or_default());
            }
            if !delta.is_empty() {
                return Some((Ok(ProviderChunk::Delta(delta)), s));
            }
        }
    })
    .boxed()
}
