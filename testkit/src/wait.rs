//! Waiting for a condition instead of sleeping: a test polls what it waits for and fails, with
//! what it last saw, when a deadline passes.

use std::{
    fmt::Debug,
    future::Future,
    time::{Duration, Instant},
};

/// How often `until` looks again.
const EVERY: Duration = Duration::from_millis(20);

/// Runs `probe` until `done` holds for its answer, and returns that answer. Panics after
/// `within`, naming `what` was awaited and showing the last answer seen.
pub async fn until<T: Debug, F: Future<Output = T>>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let seen = probe().await;
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "waited {within:?} for {what}; last saw {seen:?}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

/// Waits, if needed, until the current UTC minute has at least 20 seconds left: a test of a
/// per-minute limit must not see its window roll over halfway.
pub async fn fresh_minute() {
    use chrono::Timelike;
    let second = chrono::Utc::now().second();
    if second >= 40 {
        tokio::time::sleep(Duration::from_secs((60 - second + 1).into())).await;
    }
}
