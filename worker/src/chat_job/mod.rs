//! The chat job, in four steps, one file each: `claim` the answer's next attempt, `prepare`
//! the prompt, `relay` the provider's tokens to NATS, `conclude` by storing the result and
//! publishing its end. Follow a token: provider stream → `relay::stream_with_failover` →
//! `EventPublisher::publish` → JetStream subject `…conv.{conversation}.msg.{message}` → the
//! API's SSE relay.

mod claim;
mod conclude;
mod early;
mod own_keys;
mod prepare;
mod relay;

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use apalis::prelude::{BoxDynError, Data};
use futures::FutureExt;
use sluice_shared::{
    events::{StreamEvent, Usage},
    job::ChatJob,
};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::{
    WorkerState, prompt, providers::ProviderError, publisher::EventPublisher, store::Lease,
};
use claim::claim;
use conclude::conclude;
use early::EarlyCall;
use prepare::{Prepared, prepare};
use relay::{Call, stream_with_failover};

/// The apalis handler, for jobs the queue hands out.
pub async fn chat_job(job: ChatJob, state: Data<Arc<WorkerState>>) -> Result<(), BoxDynError> {
    Ok(run(&state, &job, Source::Queue).await?)
}

/// How this worker came by a job.
pub enum Source {
    /// apalis fetched it from the queue, and holds its row.
    Queue,
    /// Taken from an offer (`handoff.rs`): the claim must lease the row, and says on `taken`
    /// whether this worker took it (the offer's side tells the API).
    Offer {
        lease: Lease,
        taken: oneshot::Sender<bool>,
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
    sluice_shared::telemetry::continue_trace(&span, job.traceparent.as_deref());
    let run = AssertUnwindSafe(generate(state, job, source)).catch_unwind();
    let outcome = run.instrument(span).await;
    if state.saturation.queue_may_be_busy() {
        state.slot_freed.notify_one();
    }
    match outcome {
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
pub(super) enum End {
    Finished {
        finish_reason: String,
        usage: Option<Usage>,
    },
    Cancelled,
    Failed(ProviderError),
}

pub(super) struct Generation {
    pub(super) text: String,
    pub(super) ttft: Option<Duration>,
    pub(super) end: End,
    /// The provider that was called, if one was.
    pub(super) provider: Option<&'static str>,
    /// Sluice's estimate of the prompt's tokens, for a provider that reports no usage.
    pub(super) estimated_input: u32,
}

impl Generation {
    /// Ended before any text.
    pub(super) fn ended(end: End) -> Self {
        Self {
            text: String::new(),
            ttft: None,
            end,
            provider: None,
            estimated_input: 0,
        }
    }
}

async fn generate(state: &Arc<WorkerState>, job: &ChatJob, source: Source) -> anyhow::Result<()> {
    // Listen for cancel before claiming, so a cancel sent right after the claim is not lost.
    let cancel = state.cancels.register(job.message_id);
    // The provider call opens beside the claim (`early.rs`); it is aborted if unused.
    let early = EarlyCall::start(state, job);
    let Some(claim) = claim(state, job, source).await? else {
        tracing::info!("message already finished, or the queue has it; nothing to do");
        return Ok(());
    };
    let _in_flight = state.metrics.answer_started();
    let mut publisher = EventPublisher::new(state, job, claim.attempt);
    if claim.attempt > 1 {
        let reset = StreamEvent::Reset {
            message_id: job.message_id,
            attempt: claim.attempt,
        };
        publisher.publish("reset", &reset).await?;
        state.metrics.resets.increment(1);
    }
    let started = Instant::now();
    let generation = match prepare(state, job, &claim, &mut publisher).await? {
        Prepared::Ready { tries, request } => {
            let estimated_input = request
                .messages
                .iter()
                .map(|m| prompt::estimate_tokens(&m.content))
                .sum();
            let deadline = started + Duration::from_secs(state.config.worker.job_timeout_secs);
            let deadline = deadline.into();
            let opened_early = tries
                .first()
                .map(|first| early.take(&claim.prompt, first.route.clone()).boxed());
            let call = Call {
                tries,
                request,
                opened_early,
            };
            let generation =
                stream_with_failover(call, job, claim.attempt, &mut publisher, &cancel, deadline)
                    .await?;
            Generation {
                estimated_input,
                ..generation
            }
        }
        Prepared::Ended(end) => Generation::ended(end),
    };
    if let (End::Finished { usage, .. }, Some(provider)) = (&generation.end, generation.provider)
        && let Some(usage) = usage
    {
        state
            .metrics
            .tokens_generated(provider, usage.output_tokens);
    }
    let status = conclude(
        state,
        job,
        claim.attempt,
        &mut publisher,
        generation,
        started,
    )
    .await?;
    state.metrics.attempt_ended(status.as_str());
    Ok(())
}

/// A panic is a bug, not a provider failure: end the message with an error event so clients
/// stop waiting, and do not retry (it would panic again).
async fn fail_after_panic(state: &WorkerState, job: &ChatJob) {
    let result = async {
        let Some(attempt) = state.store.current_attempt(job.message_id).await? else {
            return Ok(());
        };
        let mut publisher = EventPublisher::new(state, job, attempt);
        let failed = Generation::ended(End::Failed(ProviderError::new(
            "internal",
            "the worker failed while answering",
            false,
        )));
        conclude(state, job, attempt, &mut publisher, failed, Instant::now()).await?;
        anyhow::Ok(())
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, "could not record the panicked job's failure");
    }
}
