//! `[worker]`: how a worker process takes and runs jobs.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once per worker process.
    pub concurrency: usize,
    /// Jobs fetched per queue poll. A worker fetches only with a slot free, but takes the
    /// whole batch: jobs beyond its free slots then wait on it while another worker may be
    /// idle. 1 (the default) keeps every queued job free for whichever worker can start it;
    /// raise it only for a single worker process.
    pub batch_size: usize,
    /// A job running longer than this fails with `timeout`.
    pub job_timeout_secs: u64,
    /// Attempts per job (crashed workers and failures count).
    pub max_attempts: u32,
    /// Worker heartbeat; a worker silent for `heartbeat_ms × missed_heartbeats` is presumed
    /// dead and its jobs go to another worker (the lease).
    pub heartbeat_ms: u64,
    pub missed_heartbeats: usize,
    /// On shutdown, in-flight jobs get this long to finish before they are released.
    pub shutdown_grace_secs: u64,
    /// The API offers each new job straight to a worker over core NATS and waits this long for
    /// one to take it; if none does, the job is made due in the queue and workers are woken by
    /// LISTEN/NOTIFY. 0: no offers, every job goes through the queue's wake-up (see
    /// `sluice_shared::handoff`).
    pub handoff_ms: u64,
    /// A model deployment that fails this many times in a row rests (is tried only after the
    /// model's other deployments) for `breaker_cooldown_secs`, then is tried again.
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Where this worker serves `GET /metrics` (Prometheus). Unset: no metrics. Each worker
    /// process needs its own address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// After a conversation's first answer, ask its model for a short title (one more small
    /// call to the provider per conversation; the demo model titles by a rule). Off: a
    /// conversation keeps its first message's title.
    pub auto_titles: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch_size: 1,
            job_timeout_secs: 300,
            max_attempts: 3,
            heartbeat_ms: 2000,
            missed_heartbeats: 3,
            shutdown_grace_secs: 20,
            handoff_ms: 1000,
            breaker_failures: 3,
            breaker_cooldown_secs: 30,
            metrics_listen: None,
            auto_titles: true,
        }
    }
}

impl WorkerConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.concurrency == 0
            || self.batch_size == 0
            || self.max_attempts == 0
            || self.heartbeat_ms == 0
            || self.missed_heartbeats == 0
            || self.breaker_failures == 0
        {
            return Err("worker.concurrency, batch_size, max_attempts, heartbeat_ms, missed_heartbeats and breaker_failures must be above 0".into());
        }
        // apalis measures the lease in whole seconds: below one second it rounds to zero, and
        // every heartbeat would hand every running job (even live workers') to another worker.
        let lease_ms = self.heartbeat_ms * self.missed_heartbeats as u64;
        if lease_ms < 1000 {
            return Err(format!(
                "worker.heartbeat_ms × missed_heartbeats must be at least 1000 (a worker's lease), got {lease_ms} ms"
            ));
        }
        Ok(())
    }
}
