//! Sweeps finished chat jobs from the queue table once a second (`sluice_shared::queue::sweep`
//! says which and why).

use std::time::Duration;

use sluice_shared::queue;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(1);

/// Sweeps until `shutdown`.
pub async fn sweep_until(pool: PgPool, queue: &'static str, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        match queue::sweep(&pool, queue).await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "finished jobs swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not sweep finished jobs"),
        }
    }
}
