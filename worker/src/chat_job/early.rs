//! A faster first token: the first deployment's request opens while the claim runs.
//!
//! The claim is a write that commits; the provider's first token takes 200–800 ms with a real
//! model. Waiting for one before starting the other added the claim's time to every answer.
//! So the prompt is read (a read-only statement) and the call opened in a task of its own,
//! beside the claim. Exactly-once holds: nothing is published until the claim succeeds, and
//! the early call is used only if the claim's own prompt and first deployment are the ones it
//! was opened with. Otherwise it is dropped, which aborts the upstream request: a lost race
//! costs one cancelled call.

use std::sync::Arc;

use sluice_shared::job::ChatJob;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{
    own_keys,
    prepare::{file_texts, request_for},
};
use crate::{
    WorkerState,
    providers::{ChunkStream, ProviderError, routes::Route},
    store::Prompt,
};

/// The early call, running; dropped, it is aborted.
pub(super) struct EarlyCall(JoinHandle<Option<Opened>>);

/// What the early call opened, and with what.
struct Opened {
    prompt: Prompt,
    route: Arc<Route>,
    stream: Result<ChunkStream, ProviderError>,
}

impl EarlyCall {
    pub(super) fn start(state: &Arc<WorkerState>, job: &ChatJob) -> Self {
        // Its own span in the answer's trace (a child of the job's), as the call it may become.
        let span = tracing::info_span!("provider_call", early = true);
        Self(tokio::spawn(
            open(state.clone(), job.clone()).instrument(span),
        ))
    }

    /// The opened stream, if it was opened for this `prompt` on this `route` (else it is
    /// dropped, aborting the call).
    pub(super) async fn take(
        mut self,
        prompt: &Prompt,
        route: Arc<Route>,
    ) -> Option<Result<ChunkStream, ProviderError>> {
        let opened = (&mut self.0).await.ok()??;
        (opened.prompt == *prompt && Arc::ptr_eq(&opened.route, &route)).then_some(opened.stream)
    }
}

impl Drop for EarlyCall {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn open(state: Arc<WorkerState>, job: ChatJob) -> Option<Opened> {
    let prompt = state.store.read_prompt(job.message_id).await.ok()??;
    let model = state.config.model(&job.model)?;
    let routes = state.routes.for_model(&job.model);
    let first = own_keys::tries(&state, job.user_id, routes, &prompt.own_keys)
        .into_iter()
        .next()?;
    let route = first.route;
    let texts = file_texts(&state, model, &prompt).await.ok()?;
    let mut request = request_for(&state, &job, model, &prompt, &texts);
    crate::attachments::load_images(state.files.as_ref(), &mut request.messages)
        .await
        .ok()?;
    request.model = route.upstream_model.clone();
    // The same key the first call of the plan uses (a key that cannot be read: no early call).
    request.api_key = match &first.own_key {
        Some(key) => Some(key.secret().ok()?.clone()),
        None => None,
    };
    let stream = route.provider.stream(request).await;
    Some(Opened {
        prompt,
        route,
        stream,
    })
}
