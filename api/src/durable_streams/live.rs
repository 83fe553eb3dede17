//! Waking live readers. After an append (or close) commits, its API publishes the stream's
//! new tail on core NATS (`{prefix}.durable-tail.{id}`); every API process holds one
//! subscription to all of them and wakes its readers of that stream. Readers subscribe
//! before they read the row, so a change between the two is never missed; a notice lost with
//! a NATS connection is made up for by re-reading the row on reconnect.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::offset::Seq;

/// What a notice says: the stream's tail, and whether it is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tail {
    pub seq: Seq,
    pub closed: bool,
}

impl Tail {
    fn encode(self) -> String {
        format!("{} {}", self.seq, u8::from(self.closed))
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(payload).ok()?;
        let (seq, closed) = text.split_once(' ')?;
        Some(Self {
            seq: seq.parse().ok()?,
            closed: closed == "1",
        })
    }

    /// What is known with `other` told too: the later tail, closed if either says so.
    pub fn merge(self, other: Tail) -> Tail {
        Tail {
            seq: self.seq.max(other.seq),
            closed: self.closed || other.closed,
        }
    }

    /// Whether `self` is news to a reader that has seen `seen`.
    pub fn is_after(self, seen: Tail) -> bool {
        self.seq > seen.seq || (self.closed && !seen.closed)
    }
}

pub struct Tails {
    nats: async_nats::Client,
    subjects: sluice_shared::subjects::Subjects,
    watched: Mutex<HashMap<Uuid, watch::Sender<Tail>>>,
}

impl Tails {
    pub async fn start(
        nats: async_nats::Client,
        subjects: sluice_shared::subjects::Subjects,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let mut notices = nats.subscribe(subjects.durable_tail_all()).await?;
        let tails = Arc::new(Self {
            nats,
            subjects,
            watched: Mutex::default(),
        });
        let hub = tails.clone();
        tokio::spawn(async move {
            loop {
                let notice = tokio::select! {
                    () = shutdown.cancelled() => return,
                    notice = notices.next() => notice,
                };
                let Some(notice) = notice else { return };
                let id = notice
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|id| id.parse().ok());
                if let (Some(id), Some(tail)) = (id, Tail::decode(&notice.payload)) {
                    hub.wake(id, tail);
                }
            }
        });
        Ok(tails)
    }

    /// A receiver of `stream`'s tails from now on; check it against what you then read.
    pub fn watch(&self, stream: Uuid) -> watch::Receiver<Tail> {
        let mut watched = self.watched.lock().expect("not poisoned");
        if watched.len() > 1024 && watched.len().is_power_of_two() {
            watched.retain(|_, tx| tx.receiver_count() > 0);
        }
        watched
            .entry(stream)
            .or_insert_with(|| watch::channel(Tail::default()).0)
            .subscribe()
    }

    fn wake(&self, stream: Uuid, tail: Tail) {
        let mut watched = self.watched.lock().expect("not poisoned");
        let Some(tx) = watched.get(&stream) else {
            return;
        };
        if tx.receiver_count() == 0 {
            watched.remove(&stream);
            return;
        }
        tx.send_if_modified(|seen| {
            let news = tail.is_after(*seen);
            if news {
                *seen = seen.merge(tail);
            }
            news
        });
    }

    /// Tells every API process (this one too) `stream`'s new tail. Call after the commit.
    /// Sent from a task of its own: a request dropped now (its client gone) still tells.
    pub fn announce(&self, stream: Uuid, tail: Tail) {
        self.wake(stream, tail);
        let (nats, subject) = (self.nats.clone(), self.subjects.durable_tail(stream));
        tokio::spawn(async move {
            if let Err(e) = nats.publish(subject, tail.encode().into()).await {
                tracing::warn!(error = %e, "durable stream tail notice not sent");
            }
        });
    }
}

/// Waits until `rx` says something after `seen` (false if `rx`'s sender is gone).
pub async fn changed_after(rx: &mut watch::Receiver<Tail>, seen: Tail) -> bool {
    rx.wait_for(|t| t.is_after(seen)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_only_news_wakes() {
        let t = Tail {
            seq: 42,
            closed: true,
        };
        assert_eq!(Tail::decode(t.encode().as_bytes()), Some(t));
        assert_eq!(Tail::decode(b"x 1"), None);
        let seen = Tail {
            seq: 42,
            closed: false,
        };
        assert!(t.is_after(seen));
        assert!(!seen.is_after(seen));
        assert!(
            Tail {
                seq: 43,
                closed: false
            }
            .is_after(seen)
        );
    }
}
