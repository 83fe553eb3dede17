//! Step 4: store the outcome, then publish the terminal event, once.

use std::time::Instant;

use sluice_shared::{
    events::{Ending, Usage},
    job::ChatJob,
    message_status::MessageStatus,
};

use super::{End, Generation};
use crate::{
    WorkerState, prompt,
    publisher::EventPublisher,
    store::{Finish, Finished, Timing},
    title_job,
};

/// Stores the answer, then publishes the terminal event — only if this attempt still owns the
/// message, so a retried or stale attempt never produces a second answer. Returns how the
/// attempt ended.
#[tracing::instrument(name = "conclude", skip_all)]
pub(super) async fn conclude(
    state: &WorkerState,
    job: &ChatJob,
    attempt: i32,
    publisher: &mut EventPublisher,
    generation: Generation,
    started: Instant,
) -> anyhow::Result<MessageStatus> {
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
    let mut usage_estimated = false;
    let ending = match generation.end {
        End::Finished {
            finish_reason,
            usage,
        } => {
            // The provider's own numbers; an estimate, said to be one, where it sent none.
            let usage = usage.unwrap_or_else(|| {
                usage_estimated = true;
                Usage {
                    input_tokens: generation.estimated_input,
                    output_tokens: prompt::estimate_tokens(&text),
                }
            });
            Ending::Done {
                finish_reason,
                usage,
            }
        }
        End::Cancelled => Ending::Cancelled,
        End::Failed(e) => Ending::Error {
            code: e.code.into(),
            message: e.message,
            retryable: e.retryable,
        },
    };
    let usage = match &ending {
        Ending::Done { usage, .. } => Some(*usage),
        // Stopped after text came: the provider read the prompt and wrote that much.
        _ if !text.is_empty() => {
            usage_estimated = true;
            Some(Usage {
                input_tokens: generation.estimated_input,
                output_tokens: prompt::estimate_tokens(&text),
            })
        }
        _ => None,
    };
    let cost_usd = usage.and_then(|usage| {
        let price = state.config.model(&job.model)?.price?;
        Some(price.cost(usage.input_tokens, usage.output_tokens))
    });
    let event = ending.event(message_id);
    let status = ending.status();
    let finish = Finish {
        message_id,
        attempt,
        content: text,
        ending,
        usage,
        usage_estimated,
        cost_usd,
        provider: generation.provider,
        timing,
    };
    let Finished::Stored { needs_title } = state.store.finish(finish).await? else {
        // Its conversation was deleted (the usual case), or a later attempt took it over.
        tracing::info!(
            attempt,
            "the message is gone or another attempt owns it; dropping this one's result"
        );
        return Ok(status);
    };
    let last_seq = publisher.publish_terminal(&event).await?;
    state.store.set_last_seq(message_id, last_seq).await?;
    tracing::info!(attempt, kind = event.kind(), chars, "answer stored");
    if needs_title && state.config.worker.auto_titles {
        // A nicety: the answer stands whether or not its conversation gets a new name.
        if let Err(e) = title_job::enqueue(&state.pool, job.conversation_id, job.user_id).await {
            tracing::warn!(error = %e, "title job not enqueued");
        }
    }
    Ok(status)
}
