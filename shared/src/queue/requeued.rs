//! Waking the workers when apalis puts a job back in the queue.
//!
//! apalis's recovery (`reenqueue_orphaned`, at a worker's heartbeat) turns the jobs of a worker
//! whose heartbeat stopped back into `Pending` rows, but only its insert trigger notifies the
//! workers, so nobody fetched a recovered job until some later due insert woke them — measured
//! in the chaos run as ~3 s after recovery, with chats still arriving (they are handed off
//! over NATS, and a row on offer is not due, so its insert notifies no one). This trigger sends
//! the insert trigger's notification when a held row becomes `Pending` again.
//!
//! Installed after apalis's migrations (which create `apalis.jobs`, and run after ours), in one
//! transaction under an advisory lock: every process runs it at start, perhaps at once.

use sqlx::PgPool;

/// Any constant of our own: serialises the processes installing the trigger.
const INSTALL_LOCK: i64 = 0x5105_ce00_0001;

pub async fn install_trigger(pool: &PgPool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INSTALL_LOCK)
        .execute(&mut *tx)
        .await?;
    // The channel is `super::NOTIFY_CHANNEL` (a test listens there).
    sqlx::query(
        "CREATE OR REPLACE FUNCTION apalis.sluice_notify_requeued() RETURNS trigger AS $$
         BEGIN
             PERFORM pg_notify('apalis::job::insert', json_build_object(
                 'job_type', NEW.job_type, 'id', NEW.id, 'run_at', NEW.run_at)::text);
             RETURN NULL;
         END $$ LANGUAGE plpgsql",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE OR REPLACE TRIGGER sluice_notify_requeued
         AFTER UPDATE OF status ON apalis.jobs
         FOR EACH ROW
         WHEN (NEW.status = 'Pending' AND OLD.status IN ('Queued', 'Running'))
         EXECUTE FUNCTION apalis.sluice_notify_requeued()",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
