//! The sweeper: deletes streams past their time (a read finding one deletes it too), and
//! purges from JetStream the data of streams whose rows are gone (queued in
//! `durable_stream_purges` by a trigger: deleted, expired, their owner deleted). Every API
//! process runs it; batches are claimed with SKIP LOCKED, so they never collide.

use std::time::Duration;

use uuid::Uuid;

use super::{removal, store};
use crate::state::AppState;

/// Streams expired, or subjects purged, per round.
const BATCH: i64 = 100;

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.config.durable_streams.sweep_secs);
        loop {
            if let Err(e) = round(&state).await {
                tracing::warn!(error = %e, "durable stream sweep failed; tried again later");
            }
            tokio::select! {
                () = state.shutdown.cancelled() => return,
                () = state.durable.purge.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// Batches until there is nothing left (a deleted account may leave thousands), up to a
/// hundred batches a round.
pub async fn round(state: &AppState) -> anyhow::Result<()> {
    for _ in 0..100 {
        let expired = removal::expired(&state.pool, BATCH).await?;
        for (owner, path, id) in &expired {
            expire(state, *owner, path, *id).await;
        }
        let purged = purge_batch(state).await?;
        if (expired.len() as i64) < BATCH && (purged as i64) < BATCH {
            break;
        }
    }
    Ok(())
}

/// Purges one batch of deleted streams' data; returns how many.
async fn purge_batch(state: &AppState) -> anyhow::Result<usize> {
    let mut tx = state.pool.begin().await?;
    let gone = removal::claim_purges(&mut tx, BATCH).await?;
    for id in &gone {
        state.durable.log.purge(*id).await?;
    }
    removal::forget_purges(&mut tx, &gone).await?;
    tx.commit().await?;
    Ok(gone.len())
}

/// Deletes (or hides, while forks read it) a stream a request found expired.
pub async fn expire(state: &AppState, owner: Uuid, path: &str, id: Uuid) {
    let expired = async {
        let mut tx = state.pool.begin().await?;
        if let Some(row) = store::lock(&mut tx, owner, path).await?
            && row.id == id
            && row.expired
            && !row.soft_deleted
        {
            removal::remove(&mut tx, id).await?;
        }
        tx.commit().await?;
        anyhow::Ok(())
    };
    match expired.await {
        Ok(()) => state.durable.purge.notify_one(),
        Err(e) => {
            tracing::warn!(error = %e, "expired durable stream not deleted; the sweeper will")
        }
    }
}
