//! How a stream goes, in Postgres: deleted (up its fork chain), found past its time by the
//! sweeper, and the purge queue (`durable_stream_purges`, filled by a trigger when a row goes)
//! by which its data leaves JetStream (`sweep.rs` works through it).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::store;

/// Queues `id`'s purge for `after` from now: a create that publishes before it commits takes
/// it back in its transaction (`cancel_purge`), so data of a create that never commits goes.
pub async fn purge_later(pool: &PgPool, id: Uuid, after_secs: f64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO durable_stream_purges (stream_id, queued_at)
         VALUES ($1, now() + make_interval(secs => $2)) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(after_secs)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn cancel_purge(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM durable_stream_purges WHERE stream_id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Deletes a stream (its row locked by the caller): hidden (soft-deleted) while forks read
/// it; otherwise gone, and its source loses a reader — a source deleted or expired earlier
/// goes with its last fork, and so on up the chain, in this transaction.
pub async fn remove(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    let mut next = Some(id);
    while let Some(id) = next.take() {
        let row: Option<(i32, Option<Uuid>)> = sqlx::query_as(
            "SELECT ref_count, forked_from FROM durable_streams WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((refs, source)) = row else { break };
        if refs > 0 {
            sqlx::query("UPDATE durable_streams SET soft_deleted = true WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            break;
        }
        sqlx::query("DELETE FROM durable_streams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let Some(source) = source else { break };
        let (refs, gone): (i32, bool) = sqlx::query_as(concat!(
            "UPDATE durable_streams s SET ref_count = ref_count - 1 WHERE s.id = $1
             RETURNING s.ref_count, s.soft_deleted OR ",
            store::expired!()
        ))
        .bind(source)
        .fetch_one(&mut *tx)
        .await?;
        if refs == 0 && gone {
            next = Some(source);
        }
    }
    Ok(())
}

/// Streams past their time, for the sweeper: `(owner, path, id)`, a batch at a time.
pub async fn expired(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<(Uuid, String, Uuid)>> {
    sqlx::query_as(concat!(
        "SELECT s.owner_id, s.path, s.id FROM durable_streams s WHERE NOT s.soft_deleted AND ",
        store::expired!(),
        " LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Claims a batch of purges that are due (skipping those another API process claimed): they
/// stay claimed until `tx` ends, and go with `forget_purges` once their data is purged.
pub async fn claim_purges(tx: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    let due: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT stream_id FROM durable_stream_purges WHERE queued_at <= now()
         ORDER BY queued_at LIMIT $1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx)
    .await?;
    Ok(due.into_iter().map(|(id,)| id).collect())
}

pub async fn forget_purges(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM durable_stream_purges WHERE stream_id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}
