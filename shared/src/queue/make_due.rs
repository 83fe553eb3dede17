//! Putting a job back in the queue at once (the hand-off's fallback).

use sqlx::PgPool;

/// Makes a job due now and wakes the workers. A `Pending` row that was on offer becomes due;
/// with `leased_by`, a row that worker leased and could not finish is marked `Failed` (one
/// attempt spent), which `get_jobs` fetches again while attempts remain. The NOTIFY is the one
/// apalis's insert trigger sends, on the channel its workers listen on. Returns whether a row
/// was put back.
pub async fn make_due(pool: &PgPool, job_id: &str, leased_by: Option<&str>) -> sqlx::Result<bool> {
    let put_back: Option<bool> = sqlx::query_scalar(
        "WITH due AS (
             UPDATE apalis.jobs
             SET run_at = now() - interval '1 second', lock_by = NULL, lock_at = NULL,
                 attempts = CASE WHEN status = 'Pending' THEN attempts ELSE attempts + 1 END,
                 status = CASE WHEN status = 'Pending' THEN 'Pending' ELSE 'Failed' END
             WHERE id = $1 AND (status = 'Pending' OR (status = 'Running' AND lock_by = $2))
             RETURNING id, job_type, run_at)
         SELECT true FROM due CROSS JOIN LATERAL (
             SELECT pg_notify($3,
                              json_build_object('job_type', job_type, 'id', id, 'run_at', run_at)::text)
         ) AS woken",
    )
    .bind(job_id)
    .bind(leased_by)
    .bind(super::NOTIFY_CHANNEL)
    .fetch_optional(pool)
    .await?;
    Ok(put_back.is_some())
}
