//! Sending a message: validate it, then in ONE statement (so one transaction) store the user's
//! message, the queued answer and the chat job. Either all three exist or none does. Sends
//! arriving together share that statement (`insert_pairs.rs`). Then the job is offered
//! straight to the workers, and handed to the queue if none takes it (`sluice_shared::handoff`).

use std::time::Duration;

mod insert_pairs;

use axum::http::StatusCode;
use sluice_shared::{
    estimate,
    handoff::{self, Offer},
    job::{ChatJob, GenerationOptions},
    queue::{self, QueuedJob},
};

use super::store::MessageRow;
use crate::{
    error::ApiError,
    files,
    limits::{self, Spender},
    state::AppState,
};
pub use insert_pairs::{InsertPairs, NewConversation, Reservation, Target};
use insert_pairs::{NewPair, PairIds};

/// Checks the text of a user message against the configured limits.
pub fn validate_content(state: &AppState, content: &str) -> Result<(), ApiError> {
    if content.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty_content",
            "the message is empty",
        ));
    }
    // HTTP bodies are checked for NUL by `middleware::body`; WebSocket frames come here.
    if content.contains('\0') {
        return Err(ApiError::bad_request(
            "invalid_text",
            "the message contains a NUL character (\\u0000), which cannot be stored",
        ));
    }
    let limit = state.config.max_message_chars;
    if content.chars().count() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_large",
            format!("a message is limited to {limit} characters"),
        ));
    }
    Ok(())
}

pub fn validate_model(state: &AppState, model: &str) -> Result<(), ApiError> {
    match state.config.model(model) {
        Some(_) => Ok(()),
        None => Err(ApiError::unknown_model(model)),
    }
}

/// Stores the pair (the question carrying `files`, uploaded before) and enqueues the job;
/// returns (user message, queued answer). Refused (429, nothing stored) when a limit of the
/// spender's would break.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    state: &AppState,
    spender: Spender,
    target: Target,
    content: &str,
    files: &[uuid::Uuid],
    model: &str,
    request_id: Option<String>,
    options: GenerationOptions,
) -> Result<(MessageRow, MessageRow), ApiError> {
    // Taken before the job exists, so every event of the answer lands above it: re-attaching
    // starts here instead of scanning the stream.
    let first_seq = state.hub.next_seq_lower_bound();
    let ids = PairIds::new(&target);
    let claimed =
        files::attach::claim(state, spender.user_id, ids.user_message, files, model).await?;
    // The new text: the question (and its files), and for a new conversation its system
    // prompt.
    let mut new_tokens = estimate::tokens(content) + claimed.tokens;
    if let Target::New(new) = &target {
        let system = new.system_prompt.as_deref();
        new_tokens += estimate::tokens(system.unwrap_or(&state.config.system_prompt));
    }
    let reservation = reservation(state, model, new_tokens, options.max_tokens);
    let new_conversation = matches!(target, Target::New(_));
    let conversation = ids.conversation;
    let job = ChatJob {
        message_id: ids.answer,
        conversation_id: ids.conversation,
        user_id: spender.user_id,
        model: model.to_string(),
        request_id: request_id.clone(),
        options,
        traceparent: sluice_shared::telemetry::current_traceparent(),
    };
    let (queued, offer) = queue_row(state, job)?;
    let pair = NewPair {
        owner: spender.user_id,
        api_key: spender.api_key,
        reservation,
        target,
        ids,
        content: content.to_string(),
        model: model.to_string(),
        first_seq,
        request_id,
        job: queued,
    };
    let submitted = state.enqueues.submit(pair).await;
    match &submitted {
        Ok(Some(_)) => claimed.kept(),
        _ => claimed.give_back().await?,
    }
    let Some(stored) = submitted? else {
        // A limit (which may have cleared by now: another answer ended), or the conversation
        // was deleted between the caller's check and now (a new one cannot have been).
        let gone = !new_conversation
            && crate::conversations::find_owned(&state.pool, spender.user_id, conversation)
                .await
                .is_err();
        let otherwise = match gone {
            true => ApiError::not_found("conversation"),
            false => limits::limit_passed(),
        };
        return Err(limits::refused_or(&state.pool, spender, otherwise).await);
    };
    offer_to_workers(state, offer);
    Ok(stored)
}

/// What an answer for `model` reserves beside its history: `new_tokens` of new text and the
/// bounded output guess (lowered by the request's own `max_tokens`), at the model's price.
pub fn reservation(
    state: &AppState,
    model: &str,
    new_tokens: u32,
    max_tokens: Option<u32>,
) -> Reservation {
    let config = state.config.model(model);
    let price = config.and_then(|m| m.price.as_ref());
    let mut output_tokens = state.config.reserve_output_tokens;
    if let Some(m) = config {
        output_tokens = output_tokens.min(m.max_output_tokens);
    }
    if let Some(asked) = max_tokens {
        output_tokens = output_tokens.min(asked);
    }
    Reservation {
        new_tokens,
        output_tokens,
        price_in: price.map_or(0.0, |p| p.input_per_mtok),
        price_out: price.map_or(0.0, |p| p.output_per_mtok),
    }
}

/// The queue row for `job`, and the offer that hands it to a worker straight away.
pub fn queue_row(state: &AppState, job: ChatJob) -> Result<(QueuedJob, Offer), ApiError> {
    let window = handoff::offer_window(&state.config);
    // On offer, the row is not due until well after the window (see `handoff`).
    let not_due_for = window.map_or(Duration::ZERO, handoff::not_due_for);
    // One queue attempt more than the worker's own limit: the extra one exists only to mark
    // the answer failed (with an `error` event) if every real attempt crashed.
    let max_attempts = state.config.worker.max_attempts as i32 + 1;
    let queued = QueuedJob::chat(&job, max_attempts, not_due_for)?;
    let offer = Offer {
        job_id: queued.id.clone(),
        job,
        queue_busy: state.saturation.queue_may_be_busy(),
    };
    Ok((queued, offer))
}

/// Once the job's row is stored: offers it to the workers, not awaited (the client's stream
/// opens while a worker takes it). Nothing to do when offers are off.
pub fn offer_to_workers(state: &AppState, offer: Offer) {
    if let Some(window) = handoff::offer_window(&state.config) {
        tokio::spawn(offer_or_queue(state.clone(), offer, window));
    }
}

/// Offers the stored job to the workers; if none takes it within `window`, hands it to the
/// queue (made due, workers woken by NOTIFY).
async fn offer_or_queue(state: AppState, offer: Offer, window: Duration) {
    let payload = match serde_json::to_vec(&offer) {
        Ok(p) => p.into(),
        Err(e) => {
            tracing::error!(error = %e, "could not encode a job offer");
            return;
        }
    };
    let request = state.nats.request(state.subjects.handoff(), payload);
    let taken = match tokio::time::timeout(window, request).await {
        Ok(Ok(reply)) => reply.payload.as_ref() == handoff::TAKEN,
        // No worker listening, NATS down, or nobody answered in time.
        Ok(Err(_)) | Err(_) => false,
    };
    if taken {
        return;
    }
    state.saturation.declined();
    if let Err(e) = queue::make_due(&state.pool, &offer.job_id, None).await {
        // The row still becomes due by itself shortly; a worker's heartbeat fetch finds it.
        tracing::warn!(error = %e, job_id = %offer.job_id, "could not hand a job to the queue");
    }
}
