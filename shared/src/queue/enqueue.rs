//! Enqueueing: the job's row, written in the statement that stores its messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::job::{CHAT_QUEUE, ChatJob};

/// An answer's row in `apalis.jobs`, as apalis-postgres 1.0's own `push_tasks` writes it
/// (`queries/task/sink.sql`; `testkit/tests/contracts/queue.rs` compares the two).
pub struct QueuedJob {
    /// A ULID, as apalis's task ids are.
    pub id: String,
    pub queue: &'static str,
    /// The job, JSON-encoded (apalis's `JsonCodec`).
    pub payload: Vec<u8>,
    pub max_attempts: i32,
    /// Unix seconds.
    pub run_at: i64,
}

impl QueuedJob {
    /// A chat job, due after `not_due_for` (zero: at once).
    pub fn chat(
        job: &ChatJob,
        max_attempts: i32,
        not_due_for: Duration,
    ) -> serde_json::Result<Self> {
        Ok(Self {
            id: ulid::Ulid::new().to_string(),
            queue: CHAT_QUEUE,
            payload: serde_json::to_vec(job)?,
            max_attempts,
            run_at: (due_now() + not_due_for.as_secs()) as i64,
        })
    }
}

/// A `run_at` (whole seconds, as apalis stores it) that is surely not after our transaction's
/// `now()`. apalis's insert trigger only NOTIFYs workers when `run_at <= now()`, and `now()` is
/// the transaction's start: with the current second, a transaction that straddles a second
/// boundary enqueued a job no worker heard of until its next heartbeat (seconds later).
fn due_now() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.saturating_sub(1)
}

/// The INSERT of new jobs' rows, as `push_tasks` writes them: `Pending`, no attempts yet, no
/// metadata, the answer's id as idempotency key. apalis's insert trigger wakes the workers
/// when the statement commits. `$source` is a query giving, in order: job id, queue, payload,
/// max attempts, run_at (Unix seconds) and the answer's id.
#[macro_export]
macro_rules! insert_queue_row {
    ($source:literal) => {
        concat!(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts,
                                      run_at, priority, metadata, idempotency_key)
             SELECT id, queue, payload, 'Pending', 0, max_attempts, to_timestamp(run_at),
                    0, ''::hstore, answer_id::text
             FROM (",
            $source,
            ") AS new_job (id, queue, payload, max_attempts, run_at, answer_id)"
        )
    };
}
