//! The worker's side of the hand-off (`sluice_shared::handoff`): one queue-group subscription
//! per process hears the API's job offers; each offer runs like a queued job (`chat_job::run`),
//! under the process's one concurrency limit (`WorkerState::slots`, which the queue's worker
//! shares). An offer is taken only when a slot is free now; otherwise it is declined at once
//! and the API hands it to the queue, where a worker with a free slot fetches it.
//!
//! The queue's worker reserves a slot while it waits for a job (tower's limit is taken in
//! `poll_ready`, before apalis fetches), so an idle worker takes at most `concurrency − 1`
//! offers and its last job comes through the queue; with `concurrency = 1` every job does.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::Subject;
use futures::StreamExt;
use sluice_shared::{
    handoff::{self, Offer},
    queue,
};
use tokio::{sync::oneshot, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    WorkerState,
    chat_job::{self, Source},
    store::Lease,
};

/// The name of this process's current apalis worker: offered jobs are leased to it, so they
/// are recovered with its other jobs if its heartbeat stops. Set at each (re)start.
#[derive(Clone, Default)]
pub struct QueueWorker(Arc<Mutex<String>>);

impl QueueWorker {
    pub fn set(&self, name: &str) {
        *self.0.lock().expect("queue worker lock") = name.to_string();
    }

    fn get(&self) -> String {
        self.0.lock().expect("queue worker lock").clone()
    }
}

/// Tells the API whether this worker took an offer (`handoff::TAKEN` / `DECLINED`). A lost
/// answer is harmless: the API then hands the job to the queue, which finds it leased (or
/// gone) and leaves it be.
async fn answer(state: &WorkerState, reply: Option<Subject>, taken: bool) {
    let answer = if taken {
        state.metrics.offers_taken.increment(1);
        handoff::TAKEN
    } else {
        state.metrics.offers_declined.increment(1);
        handoff::DECLINED
    };
    if let Some(reply) = reply {
        let _ = state.nats.publish(reply, answer.into()).await;
    }
}

/// Takes offers until `shutdown`; then stops hearing them, lets running jobs finish for
/// `grace`, and returns. Jobs still running then stay leased and are taken over once the
/// lease lapses, like the queue's.
pub async fn serve(
    state: Arc<WorkerState>,
    queue_worker: QueueWorker,
    grace: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut offers = state
        .nats
        .queue_subscribe(state.subjects.handoff(), handoff::WORKERS.into())
        .await?;
    let mut jobs = JoinSet::new();
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = jobs.join_next(), if !jobs.is_empty() => continue,
            message = offers.next() => match message {
                Some(m) => m,
                None => break,
            },
        };
        let Ok(offer) = serde_json::from_slice::<Offer>(&message.payload) else {
            tracing::warn!("an unreadable job offer; ignored (the queue will run the job)");
            continue;
        };
        let Ok(slot) = state.slots.clone().try_acquire_owned() else {
            state.saturation.declined();
            answer(&state, message.reply, false).await;
            continue;
        };
        if offer.queue_busy {
            state.saturation.declined();
        }
        let (state, worker) = (state.clone(), queue_worker.get());
        jobs.spawn(async move {
            let _slot = slot;
            let lease = Lease {
                job_id: offer.job_id.clone(),
                worker: worker.clone(),
            };
            let (took_tx, took_rx) = oneshot::channel();
            let source = Source::Offer {
                lease,
                taken: took_tx,
            };
            // The API hears the claim's word as soon as it is said, not when the job next
            // yields. No word (the claim failed first): no answer, as if it were lost.
            let replying = state.clone();
            tokio::spawn(async move {
                if let Ok(took) = took_rx.await {
                    answer(&replying, message.reply, took).await;
                }
            });
            if chat_job::run(&state, &offer.job, source).await.is_err() {
                // Back to the queue, one attempt spent, as apalis does with a failed job.
                if let Err(e) = queue::make_due(&state.pool, &offer.job_id, Some(&worker)).await {
                    tracing::error!(error = %e, job_id = %offer.job_id, "could not return a failed job to the queue; it is retried when its lease lapses");
                }
            }
        });
    }
    let _ = offers.unsubscribe().await;
    let finished = tokio::time::timeout(grace, async { while jobs.join_next().await.is_some() {} });
    if finished.await.is_err() {
        tracing::warn!(
            running = jobs.len(),
            "handed-off jobs still running at shutdown; their leases will lapse"
        );
        jobs.abort_all();
    }
    Ok(())
}
