//! `[durable_streams]`: the Durable Streams protocol at `/v1/stream/{path}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DurableStreamsConfig {
    /// How long a `live=long-poll` read waits for data before answering 204.
    pub long_poll_timeout_ms: u64,
    /// An SSE read ends after this long; its client reconnects from the last offset (so
    /// proxies and load balancers see requests end, and readers spread over API processes).
    pub sse_max_secs: u64,
    /// Largest append (a POST's or a creating PUT's body), in bytes: one JetStream message,
    /// so at most NATS's `max_payload` (1 MiB by default) less room for headers.
    pub max_append_bytes: usize,
    /// Most bytes one catch-up read returns (at least one append, whatever its size); the
    /// reader asks again from `Stream-Next-Offset`.
    pub max_read_bytes: usize,
    /// Seconds between sweeps that delete expired streams and purge deleted ones' data.
    pub sweep_secs: u64,
    /// Appends (POSTs) one user may make per second on one API process, in bursts of up to
    /// `append_burst`; more: 429 with `Retry-After`. A guard against runaway writers, not a
    /// quota (each API process counts its own).
    pub appends_per_second: u32,
    pub append_burst: u32,
}

impl Default for DurableStreamsConfig {
    fn default() -> Self {
        Self {
            long_poll_timeout_ms: 20_000,
            sse_max_secs: 60,
            max_append_bytes: 1_000_000,
            max_read_bytes: 1024 * 1024,
            sweep_secs: 60,
            appends_per_second: 5_000,
            append_burst: 10_000,
        }
    }
}

impl DurableStreamsConfig {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.long_poll_timeout_ms == 0 || self.sse_max_secs == 0 || self.sweep_secs == 0 {
            return Err(
                "durable_streams: long_poll_timeout_ms, sse_max_secs and sweep_secs must be > 0"
                    .into(),
            );
        }
        if self.max_append_bytes == 0 || self.max_append_bytes > 8 * 1024 * 1024 {
            return Err(
                "durable_streams.max_append_bytes must be 1..=8388608 (NATS max_payload bounds it)"
                    .into(),
            );
        }
        if self.appends_per_second == 0 || self.append_burst == 0 {
            return Err("durable_streams.appends_per_second and append_burst must be > 0".into());
        }
        if self.max_read_bytes == 0 {
            return Err("durable_streams.max_read_bytes must be > 0".into());
        }
        Ok(())
    }
}
