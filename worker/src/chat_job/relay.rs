//! Step 3: relay the provider's deltas as `token` events, in order, coalescing bursts, from
//! the first of the model's deployments that answers.

use std::time::Instant;

use futures::{StreamExt, future::BoxFuture};
use sluice_shared::{events::StreamEvent, job::ChatJob};
use tokio::time::sleep_until;
use tracing::Instrument;

use super::{
    End, Generation,
    own_keys::{self, AfterFailure, OwnKey, Try},
};
use crate::{
    cancels::CancelSignal,
    providers::{ChunkStream, ProviderChunk, ProviderError, ProviderRequest},
    publisher::EventPublisher,
};

/// What to call: the model's deployments in order, each with its key (`own_keys.rs`), the
/// request, and the first call if it was opened while the claim ran (`early.rs`).
pub(super) struct Call<'a> {
    pub(super) tries: Vec<Try>,
    pub(super) request: ProviderRequest,
    pub(super) opened_early: Option<BoxFuture<'a, Option<Result<ChunkStream, ProviderError>>>>,
}

/// Streams the answer from the model's deployments in order (`providers::routes`): the first
/// that answers serves. One that fails before its first token (after its own retries) hands
/// over to the next; one that fails after it does too, with a `reset` first, so the client
/// drops the partial text and still sees exactly one answer. Each outcome feeds the
/// deployment's breaker. The last deployment's failure is the answer's.
pub(super) async fn stream_with_failover(
    call: Call<'_>,
    job: &ChatJob,
    attempt: i32,
    publisher: &mut EventPublisher,
    cancel: &CancelSignal,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Generation> {
    let Call {
        tries,
        mut request,
        mut opened_early,
    } = call;
    let mut relay = TokenRelay::new(job.message_id, publisher);
    let mut handovers = 0;
    let mut at = 0;
    loop {
        let Try { route, own_key } = &tries[at];
        request.model = route.upstream_model.clone();
        request.api_key = match own_key.as_deref().map(OwnKey::secret).transpose() {
            Ok(key) => key.cloned(),
            Err(unreadable) => return Ok(Generation::ended(End::Failed(unreadable))),
        };
        let metrics = &route.metrics;
        metrics.provider_called(route.provider.name());
        let early = opened_early.take();
        let (provider, request) = (route.provider.as_ref(), request.clone());
        let open = async move {
            if let Some(early) = early
                && let Some(opened) = early.await
            {
                return opened;
            }
            provider.stream(request).await
        };
        let span = tracing::info_span!("provider_call", deployment = %route.label);
        let generation = stream_tokens(open, &mut relay, cancel, deadline)
            .instrument(span)
            .await?;
        let generation = Generation {
            provider: Some(route.provider.name()),
            ..generation
        };
        let failed = match &generation.end {
            End::Finished { .. } => {
                route.breaker.succeeded();
                return Ok(generation);
            }
            End::Failed(e) if e.code != "timeout" => e,
            // Cancelled, or out of time: no deployment would do better.
            _ => return Ok(generation),
        };
        metrics.provider_failed(route.provider.name(), failed.code);
        // A failure with the user's own key (refused, or its quota spent) says nothing of the
        // deployment: only the server's key rests it.
        if own_key.is_none() {
            route.breaker.failed();
        }
        let next = match own_keys::after_failure(&tries, at, failed) {
            AfterFailure::Next(next) => next,
            AfterFailure::End(error) => {
                return Ok(Generation {
                    end: End::Failed(error),
                    ..generation
                });
            }
            AfterFailure::Stop => return Ok(generation),
        };
        let to = &tries[next].route.label;
        tracing::warn!(from = %route.label, %to, own_key = own_key.is_some(), error = %failed, "deployment failed; failing over");
        metrics.failovers.increment(1);
        if relay.has_text() {
            handovers += 1;
            relay.restart(attempt, handovers).await?;
            metrics.resets.increment(1);
        }
        at = next;
    }
}

/// Relays one deployment's deltas as `token` events until it finishes, the client cancels or
/// the job's time limit passes. Dropping the provider stream aborts the upstream call.
async fn stream_tokens(
    open: impl Future<Output = Result<ChunkStream, ProviderError>>,
    relay: &mut TokenRelay<'_>,
    cancel: &CancelSignal,
    deadline: tokio::time::Instant,
) -> anyhow::Result<Generation> {
    let started = Instant::now();
    let timed_out = || {
        ProviderError::new(
            "timeout",
            "the answer took longer than the time limit",
            true,
        )
    };
    let mut chunks = tokio::select! {
        opened = open => match opened {
            Ok(chunks) => chunks,
            Err(e) => return Ok(Generation::ended(End::Failed(e))),
        },
        _ = cancel.cancelled() => return Ok(Generation::ended(End::Cancelled)),
        _ = sleep_until(deadline) => return Ok(Generation::ended(End::Failed(timed_out()))),
    };
    let mut ttft = None;
    let end = loop {
        let chunk = tokio::select! {
            chunk = chunks.next() => chunk,
            settled = relay.publisher.settle_oldest(), if relay.is_holding() => {
                settled?;
                relay.send_held().await?;
                continue;
            }
            _ = cancel.cancelled() => break End::Cancelled,
            _ = sleep_until(deadline) => break End::Failed(timed_out()),
        };
        match chunk {
            Some(Ok(ProviderChunk::Delta(delta))) => {
                ttft.get_or_insert_with(|| started.elapsed());
                relay.push(&delta).await?;
            }
            Some(Ok(ProviderChunk::Finished {
                finish_reason,
                usage,
            })) => {
                break End::Finished {
                    finish_reason,
                    usage,
                };
            }
            Some(Err(e)) => break End::Failed(e),
            None => {
                break End::Failed(ProviderError::new(
                    "upstream_disconnected",
                    "the model provider stream ended early",
                    true,
                ));
            }
        }
    };
    // Text received but held back still goes out, before the end and into the stored answer.
    relay.send_held().await?;
    Ok(Generation {
        text: relay.text.clone(),
        ttft,
        end,
        provider: None,
        estimated_input: 0,
    })
}

/// `token` events in flight (published, not yet acknowledged) before `TokenRelay` holds
/// further deltas back. One: an ack takes ~0.1–0.3 ms, far less than any real model's time
/// between tokens, so only bursts are merged; measured with the 0 ms fake, 64 tokens became
/// ~2–3 events instead of ~7 with a window of 4, and every process on the path does less.
const TOKEN_WINDOW: usize = 1;

/// Turns provider deltas into `token` events. While `TOKEN_WINDOW` events await their acks,
/// new deltas are held and go out together as one event when an ack arrives: a provider slower
/// than NATS (any real model) gets one event per delta, a burst costs a few events, not dozens.
struct TokenRelay<'a> {
    message_id: uuid::Uuid,
    publisher: &'a mut EventPublisher,
    seq: u32,
    held: String,
    /// Everything published so far: what the stored answer will hold.
    text: String,
}

impl<'a> TokenRelay<'a> {
    fn new(message_id: uuid::Uuid, publisher: &'a mut EventPublisher) -> Self {
        Self {
            message_id,
            publisher,
            seq: 0,
            held: String::new(),
            text: String::new(),
        }
    }

    fn is_holding(&self) -> bool {
        !self.held.is_empty()
    }

    async fn push(&mut self, delta: &str) -> anyhow::Result<()> {
        self.held.push_str(delta);
        if self.publisher.in_flight() < TOKEN_WINDOW {
            self.send_held().await?;
        }
        Ok(())
    }

    fn has_text(&self) -> bool {
        !self.text.is_empty() || !self.held.is_empty()
    }

    /// Starts the answer over (another deployment takes it): `reset`, so clients drop the text
    /// so far, which the stored answer drops too. `seq` goes on, so every event keeps its own
    /// `Nats-Msg-Id`.
    async fn restart(&mut self, attempt: i32, handover: u32) -> anyhow::Result<()> {
        self.held.clear();
        self.text.clear();
        let reset = StreamEvent::Reset {
            message_id: self.message_id,
            attempt,
        };
        self.publisher
            .publish(format!("reset-{handover}"), &reset)
            .await
    }

    async fn send_held(&mut self) -> anyhow::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let event = StreamEvent::Token {
            message_id: self.message_id,
            seq: self.seq,
            delta: std::mem::take(&mut self.held),
        };
        self.publisher.publish(self.seq, &event).await?;
        if let StreamEvent::Token { delta, .. } = event {
            self.text.push_str(&delta);
        }
        self.seq += 1;
        Ok(())
    }
}
