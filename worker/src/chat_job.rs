//! The chat job: claim the answer, stream the provider's tokens to NATS, store the result.
//! Follow a token: provider stream → `generate` loop → `EventPublisher::publish` → JetStream
//! subject `…conv.{conversation}.msg.{message}` → the API's SSE relay.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use apalis::prelude::{BoxDynError, Data};
use async_nats::Subject;
use futures::{FutureExt, StreamExt};
use sluice_shared::{
    events::{StreamEvent, Usage},
    handoff,
    job::ChatJob,
};
use tokio::time::sleep_until;
use tracing::Instrument;

use crate::{
    WorkerState,
    cancels::CancelSignal,
    prompt,
    providers::{Provider, ProviderChunk, ProviderError, ProviderRequest},
    publisher::EventPublisher,
    store::{Claim, Finish, Lease, Offered, Outcome, Timing},
};

/// The apalis handler, for jobs the queue hands out.
pub async fn chat_job(job: ChatJob, state: Data<Arc<WorkerState>>) -> Result<(), BoxDynError> {
    Ok(run(&state, &job, Source::Queue).await?)
}

/// How this worker came by a job.
pub enum Source {
    /// apalis fetched it from the queue, and holds its row.
    Queue,
    /// Taken from an offer (`handoff.rs`): the claim must lease the row, and the API hears
    /// on `reply` whether this worker took it.
    Offer {
        lease: Lease,
        reply: Option<Subject>,
    },
}

/// Runs one job. Panics are caught here (not only by apalis's layer) so that the message is
/// marked failed instead of staying `streaming` forever. An `Err` means the attempt should be
/// retried by the queue.
pub async fn run(state: &Arc<WorkerState>, job: &ChatJob, source: Source) -> anyhow::Result<()> {
    let span = tracing::info_span!(
        "chat_job",
        message_id = %job.message_id,
        conversation_id = %job.conversation_id,
        request_id = job.request_id.as_deref().unwrap_or("-"),
    );
    let run = AssertUnwindSafe(generate(state, job, source)).catch_unwind();
    match run.instrument(span).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(message_id = %job.message_id, error = %e, "chat job failed; the queue will retry it");
            Err(e)
        }
        Err(_) => {
            tracing::error!(message_id = %job.message_id, "chat job panicked");
            fail_after_panic(state, job).await;
            Ok(())
        }
    }
}

/// How a generation ended, before it is stored.
enum End {
    Finished {
        finish_reason: String,
        usage: Option<Usage>,
    },
    Cancelled,
    Failed(ProviderError),
}

struct Generation {
    text: String,
    ttft: Option<Duration>,
    end: End,
    /// The provider that was called, if one was.
    provider: Option<&'static str>,
}

impl Generation {
    /// Ended before any text.
    fn ended(end: End) -> Self {
        Self {
            text: String::new(),
            ttft: None,
            end,
            provider: None,
        }
    }
}

async fn generate(state: &WorkerState, job: &ChatJob, source: Source) -> anyhow::Result<()> {
    // Listen for cancel before claiming, so a cancel sent right after the claim is not lost.
    let cancel = state.cancels.register(job.message_id);
    let Some(claim) = claim(state, job, source).await? else {
        tracing::info!("message already finished, or the queue has it; nothing to do");
        return Ok(());
    };
    let subject = state.subjects.message(job.conversation_id, job.message_id);
    let mut publisher = EventPublisher::new(
        state.js.clone(),
        subject,
        job.message_id,
        claim.attempt,
        job.request_id.clone(),
    );
    if claim.attempt > 1 {
        let reset = StreamEvent::Reset {
            message_id: job.message_id,
            attempt: claim.attempt,
        };
        publisher.publish("reset", &reset).await?;
    }
    let started = Instant::now();
    let generation = match prepare(state, job, &claim, &mut publisher).await? {
        Prepared::Ready { provider, request } => {
            let deadline = started + Duration::from_secs(state.config.worker.job_timeout_secs);
            let deadline = deadline.into();
            let generation =
                stream_tokens(provider, job, request, &mut publisher, &cancel, deadline).await?;
            Generation {
                provider: Some(provider.name()),
                ..generation
            }
        }
        Prepared::Ended(end) => Generation::ended(end),
    };
    conclude(
        state,
        job,
        claim.attempt,
        &mut publisher,
        generation,
        started,
    )
    .await
}

/// Takes the next attempt of the job's answer; `None` when there is nothing for this worker
/// to do.
async fn claim(
    state: &WorkerState,
    job: &ChatJob,
    source: Source,
) -> anyhow::Result<Option<Claim>> {
    let (lease, reply) = match source {
        Source::Queue => return Ok(state.store.claim(job.message_id).await?),
        Source::Offer { lease, reply } => (lease, reply),
    };
    let (claim, answer) = match state.store.claim_offered(job.message_id, lease).await? {
        Offered::Claimed(claim) => (Some(claim), handoff::TAKEN),
        Offered::Finished => (None, handoff::TAKEN),
        Offered::Gone => (None, handoff::DECLINED),
    };
    crate::handoff::answer(state, reply, answer).await;
    Ok(claim)
}

/// What happens before the provider is called.
enum Prepared<'a> {
    Ready {
        provider: &'a dyn Provider,
        request: ProviderRequest,
    },
    /// The attempt ends without calling the provider.
    Ended(End),
}

/// Checks the attempt and model, announces `start`, and builds the prompt.
async fn prepare<'a>(
    state: &'a WorkerState,
    job: &ChatJob,
    claim: &Claim,
    publisher: &mut EventPublisher,
) -> anyhow::Result<Prepared<'a>> {
    if claim.attempt as u32 > state.config.worker.max_attempts {
        let e = ProviderError::new(
            "too_many_attempts",
            "the answer failed on every attempt",
            true,
        );
        return Ok(Prepared::Ended(End::Failed(e)));
    }
    let Some(model) = state.config.model(&job.model) else {
        let message = format!("model {:?} is not configured", job.model);
        return Ok(Prepared::Ended(End::Failed(ProviderError::new(
            "unknown_model",
            message,
            false,
        ))));
    };
    let provider = state.provider(model.provider);
    let start = StreamEvent::Start {
        message_id: job.message_id,
        conversation_id: job.conversation_id,
        model: job.model.clone(),
        provider: provider.name().into(),
        attempt: claim.attempt,
    };
    publisher.publish("start", &start).await?;
    if claim.cancel_requested {
        return Ok(Prepared::Ended(End::Cancelled));
    }
    let system = claim
        .system_prompt
        .as_deref()
        .unwrap_or(&state.config.system_prompt);
    let budget = model.context_tokens - model.max_output_tokens;
    let history = claim
        .history_roles
        .iter()
        .zip(&claim.history_contents)
        .map(|(role, content)| (role.as_str(), content.as_str()));
    let messages = prompt::fit(system, history, budget);
    let request = ProviderRequest {
        model: model
            .upstream_model
            .clone()
            .unwrap_or_else(|| job.model.clone()),
        messages,
        max_output_tokens: model.max_output_tokens,
    };
    Ok(Prepared::Ready { provider, request })
}

/// Relays provider deltas as `token` events until the provider finishes, the client cancels
/// or the job's time limit passes. Dropping the provider stream aborts the upstream call.
async fn stream_tokens(
    provider: &dyn Provider,
    job: &ChatJob,
    request: ProviderRequest,
    publisher: &mut EventPublisher,
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
        opened = provider.stream(request) => match opened {
            Ok(chunks) => chunks,
            Err(e) => return Ok(Generation::ended(End::Failed(e))),
        },
        _ = cancel.cancelled() => return Ok(Generation::ended(End::Cancelled)),
        _ = sleep_until(deadline) => return Ok(Generation::ended(End::Failed(timed_out()))),
    };
    let mut relay = TokenRelay::new(job.message_id, publisher);
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
    let text = relay.text;
    Ok(Generation {
        text,
        ttft,
        end,
        provider: None,
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

/// Stores the answer, then publishes the terminal event — only if this attempt still owns the
/// message, so a retried or stale attempt never produces a second answer.
async fn conclude(
    state: &WorkerState,
    job: &ChatJob,
    attempt: i32,
    publisher: &mut EventPublisher,
    generation: Generation,
    started: Instant,
) -> anyhow::Result<()> {
    // Acks first: `start_seq` must be known before the row records it.
    publisher.flush().await?;
    let message_id = job.message_id;
    let timing = Timing {
        latency_ms: started.elapsed().as_millis() as i32,
        ttft_ms: generation.ttft.map(|d| d.as_millis() as i32),
        start_seq: if attempt == 1 {
            publisher.first_seq()
        } else {
            None
        },
    };
    let text = generation.text;
    let chars = text.len();
    let (outcome, event) = match generation.end {
        End::Finished {
            finish_reason,
            usage,
        } => {
            let usage = usage.unwrap_or(Usage {
                input_tokens: 0,
                output_tokens: prompt::estimate_tokens(&text),
            });
            let event = StreamEvent::Done {
                message_id,
                finish_reason: finish_reason.clone(),
                usage,
            };
            (
                Outcome::Done {
                    finish_reason,
                    usage,
                },
                event,
            )
        }
        End::Cancelled => (Outcome::Cancelled, StreamEvent::Cancelled { message_id }),
        End::Failed(e) => {
            let event = StreamEvent::Error {
                message_id,
                code: e.code.into(),
                message: e.message.clone(),
                retryable: e.retryable,
            };
            (
                Outcome::Error {
                    code: e.code,
                    message: e.message,
                },
                event,
            )
        }
    };
    let finish = Finish {
        message_id,
        attempt,
        content: text,
        outcome,
        provider: generation.provider,
        timing,
    };
    if !state.store.finish(finish).await? {
        tracing::warn!(
            attempt,
            "another attempt owns this message; dropping this one's result"
        );
        return Ok(());
    }
    let last_seq = publisher.publish_terminal(&event).await?;
    state.store.set_last_seq(message_id, last_seq).await?;
    tracing::info!(attempt, kind = event.kind(), chars, "answer stored");
    Ok(())
}

/// A panic is a bug, not a provider failure: end the message with an error event so clients
/// stop waiting, and do not retry (it would panic again).
async fn fail_after_panic(state: &WorkerState, job: &ChatJob) {
    let result = async {
        let Some(attempt) = current_attempt(state, job).await? else {
            return Ok(());
        };
        let mut publisher = EventPublisher::new(
            state.js.clone(),
            state.subjects.message(job.conversation_id, job.message_id),
            job.message_id,
            attempt,
            job.request_id.clone(),
        );
        let failed = Generation::ended(End::Failed(ProviderError::new(
            "internal",
            "the worker failed while answering",
            false,
        )));
        conclude(state, job, attempt, &mut publisher, failed, Instant::now()).await
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, "could not record the panicked job's failure");
    }
}

async fn current_attempt(state: &WorkerState, job: &ChatJob) -> anyhow::Result<Option<i32>> {
    Ok(
        sqlx::query_scalar("SELECT attempt FROM messages WHERE id = $1 AND status = 'streaming'")
            .bind(job.message_id)
            .fetch_optional(&state.pool)
            .await?,
    )
}
