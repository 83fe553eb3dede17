//! What the queue holds, for `/metrics`: jobs due and waiting for a worker, and how long the
//! oldest of them has waited. Offered jobs are `Pending` with a `run_at` after their hand-off
//! window, so they count only once the window has passed and no worker took them; jobs a
//! worker holds are `Queued` or `Running` (`mod.rs`).

use sqlx::PgPool;

/// Jobs due and not taken, and the age in seconds of the oldest (0 when none).
pub async fn depth(pool: &PgPool) -> sqlx::Result<(i64, f64)> {
    sqlx::query_as(
        "SELECT count(*),
                COALESCE(EXTRACT(EPOCH FROM now() - min(run_at))::float8, 0)
         FROM apalis.jobs
         WHERE job_type = 'chat' AND status = 'Pending' AND run_at <= now()",
    )
    .fetch_one(pool)
    .await
}
