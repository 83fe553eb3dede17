//! Hand-off: the short way from a sent message to a worker.
//!
//! The queue (apalis on Postgres) holds every job: the API writes the job's row in the same
//! statement as the messages, so no job is ever lost. But going through the queue costs a
//! NOTIFY, a fetch by the worker's poll loop and a wait behind that loop's acks: most of the
//! time to first token on a busy box. So the API also *offers* each new job to the workers
//! over core NATS (request/reply on a queue group: exactly one worker hears each offer). The
//! worker that takes it leases the job's queue row in the statement that claims the answer
//! (`worker/src/store/claim.rs`, with `queue::lease`): `Running`, locked by its apalis worker, exactly as a fetch would
//! leave it. A crash is then recovered like any queued job's: apalis re-enqueues the rows of
//! a worker whose heartbeat stopped.
//!
//! While it is on offer the row is `Pending` but not yet due (`run_at` is past the offer
//! window), so no fetch races the offer and apalis's insert trigger sends no NOTIFY. When no
//! worker takes the offer in time (all busy, none running, NATS down), the API calls
//! `queue::make_due`: the row becomes due and workers are woken by LISTEN/NOTIFY. If the API dies
//! before that, the row becomes due by itself and the next heartbeat fetch finds it.

use std::time::Duration;

use crate::{Config, job::ChatJob};
use serde::{Deserialize, Serialize};

/// What the API sends to `Subjects::handoff`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    /// The job's row in `apalis.jobs`.
    pub job_id: String,
    pub job: ChatJob,
    /// The API handed jobs to the queue lately (`saturation`): they may be waiting there, so
    /// the worker checks the queue before taking this one, keeping arrival order.
    #[serde(default)]
    pub queue_busy: bool,
}

/// Queue group of the workers' offer subscription: one worker gets each offer.
pub const WORKERS: &str = "sluice-workers";

/// A worker's reply: it leased the job (or found its answer already over).
pub const TAKEN: &[u8] = b"taken";
/// A worker's reply: it cannot take the job now; the queue should have it.
pub const DECLINED: &[u8] = b"declined";

/// Time beyond the offer window before an offered row becomes due on its own: the API makes
/// it due itself when nobody takes the offer, so this only matters if the API died meanwhile.
const MARGIN: Duration = Duration::from_secs(5);

/// How long the API waits for a worker to take an offer; `None` when offers are off.
pub fn offer_window(config: &Config) -> Option<Duration> {
    let ms = config.worker.handoff_ms;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// How long after enqueueing an offered job its queue row becomes due by itself.
pub fn not_due_for(window: Duration) -> Duration {
    window + MARGIN
}
