//! Step 2: check the attempt and the model, announce `start`, and build the prompt.

use std::collections::HashMap;

use sluice_shared::{config::ModelConfig, events::StreamEvent, job::ChatJob};
use uuid::Uuid;

use super::{
    End,
    own_keys::{self, Try},
};
use crate::{
    WorkerState, attachments, prompt,
    providers::{ProviderError, ProviderRequest},
    publisher::EventPublisher,
    store::{Claim, Prompt},
};

/// What happens before the provider is called.
pub(super) enum Prepared {
    Ready {
        /// The calls to make, in order: the model's deployments, each with the user's own
        /// key or the server's (`own_keys`).
        tries: Vec<Try>,
        request: ProviderRequest,
    },
    /// The attempt ends without calling the provider.
    Ended(End),
}

/// Checks the attempt and model, announces `start`, and builds the prompt.
#[tracing::instrument(name = "prepare", skip_all)]
pub(super) async fn prepare(
    state: &WorkerState,
    job: &ChatJob,
    claim: &Claim,
    publisher: &mut EventPublisher,
) -> anyhow::Result<Prepared> {
    if claim.attempt as u32 > state.config.worker.max_attempts {
        let e = ProviderError::new(
            "too_many_attempts",
            "the answer failed on every attempt",
            true,
        );
        return Ok(Prepared::Ended(End::Failed(e)));
    }
    let routes = state.routes.for_model(&job.model);
    let (Some(model), Some(first)) = (state.config.model(&job.model), routes.first()) else {
        let message = format!("model {:?} is not configured", job.model);
        return Ok(Prepared::Ended(End::Failed(ProviderError::new(
            "unknown_model",
            message,
            false,
        ))));
    };
    let start = StreamEvent::Start {
        message_id: job.message_id,
        conversation_id: job.conversation_id,
        model: job.model.clone(),
        provider: first.provider.name().into(),
        attempt: claim.attempt,
    };
    publisher.publish("start", &start).await?;
    if claim.cancel_requested {
        return Ok(Prepared::Ended(End::Cancelled));
    }
    let texts = file_texts(state, model, &claim.prompt).await?;
    let mut request = request_for(state, job, model, &claim.prompt, &texts);
    attachments::load_images(state.files.as_ref(), &mut request.messages).await?;
    let tries = own_keys::tries(state, job.user_id, routes, &claim.prompt.own_keys);
    Ok(Prepared::Ready { tries, request })
}

/// The text of the files in `prompt`'s history that the model's context could hold.
pub(super) async fn file_texts(
    state: &WorkerState,
    model: &ModelConfig,
    prompt: &Prompt,
) -> sqlx::Result<HashMap<Uuid, String>> {
    let budget_chars = (model.context_tokens - model.max_output_tokens) as usize * 4;
    attachments::read_texts(&state.pool, &prompt.history_files, budget_chars).await
}

/// The provider request for `job` with `prompt`: the system prompt, then as much of the
/// history (with its files' `texts`) as fits the model's context beside its longest answer.
pub(super) fn request_for(
    state: &WorkerState,
    job: &ChatJob,
    model: &ModelConfig,
    prompt: &Prompt,
    texts: &HashMap<Uuid, String>,
) -> ProviderRequest {
    let system = prompt
        .system_prompt
        .as_deref()
        .unwrap_or(&state.config.system_prompt);
    let budget = model.context_tokens - model.max_output_tokens;
    let no_files: &[_] = &[];
    let history = prompt
        .history_roles
        .iter()
        .zip(&prompt.history_contents)
        .enumerate()
        .map(|(i, (role, content))| prompt::Turn {
            role,
            content,
            files: prompt.history_files.get(i).map_or(no_files, Vec::as_slice),
        });
    let rules = attachments::FileRules {
        texts,
        sees: model.vision,
        max_image_bytes: sluice_shared::files::max_image_bytes(model),
    };
    let messages = prompt::fit(system, history, budget, &rules);
    let max_output_tokens = job
        .options
        .max_tokens
        .map_or(model.max_output_tokens, |m| m.min(model.max_output_tokens));
    ProviderRequest {
        model: model
            .upstream_model
            .clone()
            .unwrap_or_else(|| job.model.clone()),
        messages,
        max_output_tokens,
        options: job.options.clone(),
        api_key: None,
    }
}
