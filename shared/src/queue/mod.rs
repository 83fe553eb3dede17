//! Every statement Sluice runs on apalis's tables, in one place.
//!
//! apalis-postgres 1.0 runs the queue: its worker fetches due jobs (`apalis.get_jobs`), acks
//! them, keeps its heartbeat in `apalis.workers` and re-enqueues the jobs of workers whose
//! heartbeat stopped. Sluice also writes that table itself, where going through apalis would
//! cost a statement or a round trip per chat: the enqueue is part of the statement that stores
//! the messages, an offered job is leased in the statement that claims its answer, a stored
//! answer deletes its job, and a sweeper removes the rest of the finished ones.
//!
//! What those statements rely on, all of it apalis-postgres 1.0's (its `queries/*.sql`):
//! - `apalis.jobs` rows: `status` is one of `Pending`, `Queued`, `Running`, `Done`, `Failed`,
//!   `Killed`; `job_type` is the queue's name; `lock_by` is the name of the worker holding the
//!   job, as registered in `apalis.workers`; `attempts` counts tries; `idempotency_key` is ours
//!   (the answer's id).
//! - `get_jobs` fetches `Pending` (and retryable `Failed`) rows whose `run_at` has passed,
//!   oldest `run_at` first, `FOR UPDATE SKIP LOCKED`, and marks them `Queued` under the
//!   fetching worker (we turn off its second step, which would mark them `Running`).
//! - Recovery (`reenqueue_orphaned`, run at every worker's start and heartbeat): a `Running`
//!   or `Queued` row whose `lock_by` worker has not been seen for its missed heartbeats becomes
//!   `Pending` again, one attempt spent.
//! - The insert trigger NOTIFYs `apalis::job::insert` with the job's type, id and run_at (only
//!   for a row already due); a worker listening on it fetches at once. Ours (`triggers`) sends
//!   the same when recovery makes a held row `Pending` again.
//! - An ack (`handle_result`) updates the row by id and `lock_by`; a row deleted meanwhile is
//!   simply not updated.
//!
//! Each of these is pinned by a test in `testkit/tests/contracts/queue.rs` that fails if apalis
//! changes under it.

mod depth;
mod enqueue;
mod lease;
mod make_due;
mod spent;
mod sweep;
mod triggers;

pub use depth::depth;
pub use enqueue::QueuedJob;
pub use make_due::make_due;
pub use sweep::{DEAD_JOBS_KEPT, sweep};
pub use triggers::install_triggers;

/// The channel apalis's insert trigger notifies, which its workers listen on.
pub const NOTIFY_CHANNEL: &str = "apalis::job::insert";
