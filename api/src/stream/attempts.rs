//! Tokens of a superseded attempt are not relayed.
//!
//! A worker presumed dead (its lease lapsed while it stalled) may still be publishing when the
//! next attempt has begun with its `reset`; its tokens would mix into the new attempt's text.
//! The attempt that published an event is in its `Nats-Msg-Id` (`Stored::attempt`), so a relay
//! tracks the newest attempt it has seen of each answer and drops older attempts' tokens. The
//! old attempt's end never comes: the stored answer's writes are guarded by the attempt.
//!
//! A client resuming with `Last-Event-ID` is on the newest attempt among the events it was
//! sent, so a relay that resumes an answer retried before (`attempt > 1`) first reads that
//! answer's events up to the client's id (`Attempts::note` only), then relays from there.

use std::collections::HashMap;

use uuid::Uuid;

use super::Stored;

/// The newest attempt seen of each answer a response relays.
#[derive(Debug, Default)]
pub struct Attempts(HashMap<Uuid, i32>);

impl Attempts {
    /// Notes an event the client already has (read to learn which attempt it is on).
    pub fn note(&mut self, answer: Uuid, stored: &Stored) {
        let newest = self.0.entry(answer).or_default();
        *newest = (*newest).max(stored.attempt);
    }

    /// Notes an event about to be relayed; true when it is a token of an attempt older than
    /// one already seen, which must not be relayed.
    pub fn is_stale(&mut self, answer: Uuid, stored: &Stored) -> bool {
        let newest = self.0.entry(answer).or_default();
        let stale = stored.kind == "token" && stored.attempt < *newest;
        *newest = (*newest).max(stored.attempt);
        stale
    }
}

/// Where to start reading an answer for a client after `after` (its `Last-Event-ID`): from the
/// answer's `first` event when it was retried (the client's attempt is learnt from the events
/// it has), else just after `after`.
pub fn read_from(first: u64, after: Option<u64>, retried: bool) -> u64 {
    match after {
        Some(_) if retried => first,
        Some(a) => first.max(a.saturating_add(1)),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &'static str, attempt: i32) -> Stored {
        Stored {
            seq: 1,
            kind,
            attempt,
            payload: Default::default(),
        }
    }

    #[test]
    fn tokens_of_an_older_attempt_are_stale_once_a_newer_one_is_seen() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut attempts = Attempts::default();
        assert!(!attempts.is_stale(a, &event("token", 1)));
        assert!(!attempts.is_stale(a, &event("reset", 2)));
        assert!(attempts.is_stale(a, &event("token", 1)));
        assert!(!attempts.is_stale(a, &event("token", 2)));
        // Each answer on its own.
        assert!(!attempts.is_stale(b, &event("token", 1)));
        // Only tokens: an old attempt's other events carry no text.
        assert!(!attempts.is_stale(a, &event("start", 1)));
    }

    #[test]
    fn events_the_client_has_set_its_attempt() {
        let a = Uuid::now_v7();
        let mut attempts = Attempts::default();
        attempts.note(a, &event("reset", 3));
        assert!(attempts.is_stale(a, &event("token", 2)));
    }

    #[test]
    fn a_retried_answer_is_read_from_its_start_on_resume() {
        assert_eq!(read_from(10, Some(20), true), 10);
        assert_eq!(read_from(10, Some(20), false), 21);
        assert_eq!(read_from(10, Some(5), false), 10);
        assert_eq!(read_from(10, None, true), 10);
    }
}
