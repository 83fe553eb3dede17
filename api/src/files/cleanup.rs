//! The clean-up job: deletes from storage the objects whose rows are gone (queued in
//! `file_deletions` by a trigger when a file, its question, its conversation or its owner is
//! deleted). First it gives back files claimed by a send that never wrote its question, and
//! deletes files uploaded but never sent within `unattached_ttl_secs`.
//! Every API process runs it; each claims its batch with SKIP LOCKED, so they never collide,
//! and a batch whose objects could not all be deleted stays queued for the next round.

use std::time::Duration;

use object_store::ObjectStore;
use sqlx::PgPool;
use uuid::Uuid;

use crate::state::AppState;

/// Between rounds when nothing wakes the job sooner.
const EVERY: Duration = Duration::from_secs(60);
/// Objects deleted per transaction.
const BATCH: i64 = 100;

/// Runs until shutdown; `state.file_cleanup` wakes it at once (after a delete).
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = round(
                &state.pool,
                state.files.as_ref(),
                state.config.files.unattached_ttl_secs,
            )
            .await
            {
                tracing::warn!(error = %e, "file clean-up round failed; retried later");
            }
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = state.file_cleanup.notified() => {}
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    });
}

/// One round; returns how many objects it deleted.
pub async fn round(pool: &PgPool, store: &dyn ObjectStore, ttl_secs: u64) -> anyhow::Result<u64> {
    // Claimed by a send whose question was never written (its API died between the two):
    // unsent again. A send takes milliseconds; ten minutes is far past any.
    sqlx::query(
        "UPDATE files f SET message_id = NULL, claimed_at = NULL
         WHERE f.message_id IS NOT NULL AND f.claimed_at < now() - interval '10 minutes'
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = f.message_id)",
    )
    .execute(pool)
    .await?;
    // Never sent within the time: the trigger queues their objects. (A send claiming one
    // meanwhile either comes first — the file is then not unsent — or finds it gone.)
    sqlx::query(
        "DELETE FROM files
         WHERE message_id IS NULL AND created_at < now() - make_interval(secs => $1)",
    )
    .bind(ttl_secs as f64)
    .execute(pool)
    .await?;
    let mut deleted = 0;
    loop {
        let mut tx = pool.begin().await?;
        let batch: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT user_id, file_id FROM file_deletions ORDER BY queued_at
             LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if batch.is_empty() {
            return Ok(deleted);
        }
        for (owner, id) in &batch {
            match store.delete(&sluice_shared::files::key(*owner, *id)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                // The batch stays queued (the transaction rolls back).
                Err(e) => return Err(e.into()),
            }
        }
        let (owners, ids): (Vec<Uuid>, Vec<Uuid>) = batch.into_iter().unzip();
        sqlx::query(
            "DELETE FROM file_deletions d USING unnest($1::uuid[], $2::uuid[]) AS x(u, f)
             WHERE d.user_id = x.u AND d.file_id = x.f",
        )
        .bind(&owners)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
}
