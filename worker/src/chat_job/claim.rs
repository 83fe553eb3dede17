//! Step 1: take the next attempt of the job's answer. A job the queue delivered is claimed
//! outright; an offered one only while its row is still on offer, and the API is told
//! whether this worker took it.

use sluice_shared::job::ChatJob;

use super::Source;
use crate::{
    WorkerState,
    store::{Claim, Offered},
};

/// Takes the next attempt of the job's answer; `None` when there is nothing for this worker
/// to do.
#[tracing::instrument(name = "claim", skip_all)]
pub(super) async fn claim(
    state: &WorkerState,
    job: &ChatJob,
    source: Source,
) -> anyhow::Result<Option<Claim>> {
    let (lease, taken) = match source {
        Source::Queue => return Ok(state.store.claim(job.message_id).await?),
        Source::Offer { lease, taken } => (lease, taken),
    };
    let check_queue = state.saturation.queue_may_be_busy();
    let offered = state
        .store
        .claim_offered(job.message_id, lease, check_queue);
    let (claim, took) = match offered.await? {
        Offered::Claimed(claim) => (Some(claim), true),
        // Over already: taken, so that no one else looks for it.
        Offered::Finished => (None, true),
        Offered::Gone => {
            state.saturation.declined();
            (None, false)
        }
    };
    // The offer's side (`handoff.rs`) tells the API. (Its receiver only goes with the process.)
    let _ = taken.send(took);
    Ok(claim)
}
