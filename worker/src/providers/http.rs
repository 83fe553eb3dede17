//! What every HTTP streaming provider shares, whatever its wire format: before the first token
//! it retries 429 (honouring `Retry-After`, capped), 5xx (and Anthropic's 529), connect errors,
//! responses that do not begin within `first_byte_timeout_secs`, silent streams and in-stream
//! overload errors with jittered exponential back-off; after the first token
//! a failure ends the attempt (replaying tokens already shown would duplicate text). A stream
//! that goes quiet for `idle_timeout_secs` fails; one that ends before its format's end fails.
//!
//! Each vendor's format (`openai.rs`, `anthropic.rs`, `gemini.rs`) says only how to ask
//! (`WireFormat::request`) and how to read one server-sent event (`WireFormat::read`).

use std::{sync::Arc, time::Duration};

use eventsource_stream::{Event, Eventsource};
use futures::{FutureExt, Stream, StreamExt, future::BoxFuture, stream, stream::BoxStream};
use rand::Rng;
use reqwest::{StatusCode, header};
use sluice_shared::{config::HttpProviderConfig, events::Usage};

use super::{ChunkStream, Provider, ProviderChunk, ProviderError, ProviderRequest};

/// What one server-sent event says.
#[derive(Debug, PartialEq)]
pub enum Read {
    Text(String),
    FinishReason(String),
    /// Token counts as the provider reports them; a later report fills in what it gives.
    Usage {
        input: Option<u32>,
        output: Option<u32>,
    },
    /// The answer is complete.
    End,
    /// Nothing for us (pings, block boundaries).
    Nothing,
}

/// One vendor's wire format.
pub trait WireFormat: Send + Sync + 'static {
    /// The name shown in `start` events and stored with the answer.
    fn name(&self) -> &'static str;

    /// The streaming request for `request`, with the vendor's authentication.
    fn request(
        &self,
        http: &reqwest::Client,
        config: &HttpProviderConfig,
        request: &ProviderRequest,
    ) -> reqwest::RequestBuilder;

    /// What one event says; an error the provider reports in the stream is an `Err`.
    fn read(&self, event: &Event) -> Result<Vec<Read>, ProviderError>;

    /// Whether the stream simply ending is the answer's end (Gemini has no end event).
    fn ends_with_the_connection(&self) -> bool {
        false
    }
}

pub struct HttpProvider<W> {
    http: reqwest::Client,
    config: HttpProviderConfig,
    format: Arc<W>,
    /// Counts each retry (`sluice_provider_retries_total`).
    retries: metrics::Counter,
}

impl<W: WireFormat> HttpProvider<W> {
    pub fn new(config: HttpProviderConfig, format: W, retries: metrics::Counter) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client builds with static settings");
        Self {
            http,
            config,
            format: Arc::new(format),
            retries,
        }
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.config.idle_timeout_secs)
    }

    /// Exponential back-off with jitter (so retries from many jobs do not arrive together).
    fn backoff(&self, retry: u32) -> Duration {
        let base = self.config.retry_base_ms.saturating_mul(1 << retry.min(10));
        let jitter = rand::rng().random_range(0..=base / 2);
        Duration::from_millis(base / 2 + jitter)
    }
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

impl<W: WireFormat> Provider for HttpProvider<W> {
    fn name(&self) -> &'static str {
        self.format.name()
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
                tracing::warn!(provider = self.name(), retry, wait_ms = wait.as_millis() as u64, error = %why, "provider retry");
                tokio::time::sleep(wait).await;
                self.retries.increment(1);
                retry += 1;
            }
        }
        .boxed()
    }
}

impl<W: WireFormat> HttpProvider<W> {
    async fn open(&self, request: &ProviderRequest) -> Opened {
        let with_own_key;
        let config = match &request.api_key {
            Some(key) => {
                with_own_key = HttpProviderConfig {
                    api_key: Some(key.clone()),
                    ..self.config.clone()
                };
                &with_own_key
            }
            None => &self.config,
        };
        let mut call = self.format.request(&self.http, config, request);
        // The provider call's place in the answer's trace, for providers (and proxies) that
        // record it.
        if let Some(traceparent) = sluice_shared::telemetry::current_traceparent() {
            call = call.header("traceparent", traceparent);
        }
        let first_byte = Duration::from_secs(self.config.first_byte_timeout_secs);
        let response = match tokio::time::timeout(first_byte, call.send()).await {
            Ok(Ok(r)) => r,
            Err(_) => {
                let why = ProviderError::new(
                    "upstream_timeout",
                    "the model provider did not begin to answer in time",
                    true,
                );
                return Opened::Retry { after: None, why };
            }
            Ok(Err(e)) => {
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
        // 529: Anthropic's "overloaded".
        if status.is_server_error() || status.as_u16() == 529 {
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
        first_chunk_then_rest(chunks(events.boxed(), self.format.clone())).await
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

fn disconnected() -> ProviderError {
    ProviderError::new(
        "upstream_disconnected",
        "the model provider closed the stream early",
        true,
    )
}

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
                Some((Err(disconnected()), None))
            }
        }
    })
}

/// Reads until the first delta (or finish) so that failures before any token can be retried,
/// then hands back a stream starting with that chunk.
async fn first_chunk_then_rest(mut chunks: ChunkStream) -> Opened {
    match chunks.next().await {
        Some(Ok(first)) => {
            Opened::Streaming(stream::once(async { Ok(first) }).chain(chunks).boxed())
        }
        Some(Err(why)) if why.retryable => Opened::Retry { after: None, why },
        Some(Err(why)) => Opened::Fail(why),
        None => Opened::Retry {
            after: None,
            why: disconnected(),
        },
    }
}

/// Turns server-sent events into chunks: deltas, then one `Finished` at the format's end. A
/// stream that ends before it is an error: the answer is incomplete.
fn chunks<W: WireFormat>(events: BoxStream<'static, EventResult>, format: Arc<W>) -> ChunkStream {
    struct State<W> {
        events: BoxStream<'static, EventResult>,
        format: Arc<W>,
        finish_reason: Option<String>,
        input: Option<u32>,
        output: Option<u32>,
        ended: bool,
        done: bool,
    }
    impl<W> State<W> {
        fn finished(&mut self) -> ProviderChunk {
            self.done = true;
            let usage = match (self.input, self.output) {
                (None, None) => None,
                (input, output) => Some(Usage {
                    input_tokens: input.unwrap_or(0),
                    output_tokens: output.unwrap_or(0),
                }),
            };
            ProviderChunk::Finished {
                finish_reason: self.finish_reason.take().unwrap_or_else(|| "stop".into()),
                usage,
            }
        }
    }
    let state = State {
        events,
        format,
        finish_reason: None,
        input: None,
        output: None,
        ended: false,
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            if s.ended {
                let finished = s.finished();
                return Some((Ok(finished), s));
            }
            let event = match s.events.next().await {
                None if s.format.ends_with_the_connection() && s.finish_reason.is_some() => {
                    let finished = s.finished();
                    return Some((Ok(finished), s));
                }
                None => {
                    s.done = true;
                    return Some((Err(disconnected()), s));
                }
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
                Some(Ok(event)) => event,
            };
            let reads = match s.format.read(&event) {
                Ok(reads) => reads,
                Err(e) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
            };
            let mut delta = String::new();
            for read in reads {
                match read {
                    Read::Text(t) => delta.push_str(&t),
                    Read::FinishReason(r) => s.finish_reason = Some(r),
                    Read::Usage { input, output } => {
                        s.input = input.or(s.input);
                        s.output = output.or(s.output);
                    }
                    Read::End => s.ended = true,
                    Read::Nothing => {}
                }
            }
            if !delta.is_empty() {
                return Some((Ok(ProviderChunk::Delta(delta)), s));
            }
        }
    })
    .boxed()
}

/// A malformed event: the provider broke its own format.
pub fn malformed() -> ProviderError {
    ProviderError::new(
        "upstream_protocol",
        "the model provider sent a malformed event",
        false,
    )
}
