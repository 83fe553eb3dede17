//! Two triggers of ours on apalis's tables, for its recovery of a dead worker's jobs.
//!
//! - **A recovered job wakes the workers.** apalis's recovery (`reenqueue_orphaned`, at a
//!   worker's heartbeat) turns the jobs of a worker whose heartbeat stopped back into
//!   `Pending` rows, but only its insert trigger notifies the workers, so nobody fetched a
//!   recovered job until some later due insert woke them (chats arrive as offers over NATS, and
//!   a row on offer is not due, so its insert notifies no one). `sluice_notify_requeued` sends
//!   the insert trigger's notification when a held row becomes `Pending` again.
//! - **A worker registers as seen now.** apalis's `register` writes `last_seen` in whole
//!   seconds, up to a second in the past, and the next heartbeat comes a heartbeat later. With
//!   a short lease a worker could look dead the moment it started, and the jobs it took from
//!   offers in its first heartbeat were re-run under it (measured in the chaos run: a handful
//!   per 30 worker kills at a 1 s lease). `sluice_registered_now` stamps the row with `now()`.
//!
//! Installed after apalis's migrations (which create its tables, and run after ours), in one
//! transaction under an advisory lock: every API process runs it at start, perhaps at once.

use sqlx::PgPool;

/// Any constant of our own: serialises the processes installing the triggers.
const INSTALL_LOCK: i64 = 0x5105_ce00_0001;

pub async fn install_triggers(pool: &PgPool) -> sqlx::Result<()> {
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
    sqlx::query(
        "CREATE OR REPLACE FUNCTION apalis.sluice_registered_now() RETURNS trigger AS $$
         BEGIN
             NEW.last_seen := now();
             RETURN NEW;
         END $$ LANGUAGE plpgsql",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE OR REPLACE TRIGGER sluice_registered_now
         BEFORE INSERT ON apalis.workers
         FOR EACH ROW EXECUTE FUNCTION apalis.sluice_registered_now()",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
