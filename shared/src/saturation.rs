//! Whether jobs may lately have waited in the queue for a slot: a worker declined an offer, or
//! the API handed one to the queue (no worker took it), or an offer said so. Only then is it
//! worth the two things that keep jobs in arrival order: a worker checking the queue before
//! taking an offer (`worker/src/store/claim.rs`), and waking the queue's fetch when a slot
//! frees. Otherwise both would cost a statement per chat for nothing (measured: ~12 % more CPU
//! per chat at C = 64). The API keeps one too, and says it in each offer (`Offer::queue_busy`):
//! the worker that hears an offer need not be the one that declined the jobs now waiting.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How long after the last declined offer the worker still treats the queue as busy.
const BUSY_FOR: Duration = Duration::from_secs(2);

pub struct Saturation {
    started: Instant,
    /// Milliseconds from `started` to the last declined offer; 0: never.
    last_decline_ms: AtomicU64,
}

impl Default for Saturation {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_decline_ms: AtomicU64::new(0),
        }
    }
}

impl Saturation {
    /// A job went to the queue (an offer declined or not taken), or an offer said jobs wait.
    pub fn declined(&self) {
        let now = self.started.elapsed().as_millis().max(1) as u64;
        self.last_decline_ms.store(now, Ordering::Relaxed);
    }

    /// Whether jobs may be waiting in the queue.
    pub fn queue_may_be_busy(&self) -> bool {
        let last = self.last_decline_ms.load(Ordering::Relaxed);
        let now = self.started.elapsed().as_millis() as u64;
        last != 0 && now.saturating_sub(last) < BUSY_FOR.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_counts_as_busy_only_for_a_while_after_a_decline() {
        let s = Saturation::default();
        assert!(!s.queue_may_be_busy());
        s.declined();
        assert!(s.queue_may_be_busy());
        let long_ago = Saturation {
            started: Instant::now() - BUSY_FOR - Duration::from_millis(10),
            last_decline_ms: AtomicU64::new(1),
        };
        assert!(!long_ago.queue_may_be_busy());
    }
}
