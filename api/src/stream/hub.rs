//! One live feed per API process. A single ordered consumer on `{prefix}.conv.>` from
//! `DeliverPolicy::New` receives every event once, with its stream sequence, and hands it to
//! the SSE responses waiting on that message or conversation. Clients therefore cost NATS
//! nothing while they wait: no consumer per client, however many streams are open.
//! Anything published before a client subscribed is read by Direct Get (see `message.rs`).
//!
//! The feed reopens from just after the last event dispatched when it breaks, and at once when
//! the NATS connection comes back: a restarted server has forgotten the consumer (it lives in
//! memory), and the client library would find out only after seconds of its own retries.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{
    consumer::{
        DeliverPolicy,
        pull::{Ordered, OrderedConfig},
    },
    stream::Stream,
};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use sluice_shared::nats;

use super::Stored;

/// The longest wait between two attempts to reopen a broken feed.
const MAX_REOPEN_WAIT: Duration = Duration::from_millis(250);

/// Events buffered per subscriber. A client that falls this far behind is cut off and
/// resumes with `Last-Event-ID` instead of holding memory.
const BUFFER: usize = 4096;

/// A live event and the answer it belongs to.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub message_id: Uuid,
    pub stored: Stored,
}

/// Who is waiting: one answer, or every answer of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Message(Uuid),
    Conversation(Uuid),
}

type Senders = HashMap<Topic, Vec<(u64, mpsc::Sender<Delivered>)>>;

pub struct Hub {
    subscribers: Mutex<Senders>,
    next_id: AtomicU64,
    /// Highest stream sequence known to exist; every later event is above it.
    high_water: AtomicU64,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    topic: Topic,
    id: u64,
    pub events: mpsc::Receiver<Delivered>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = self.hub.subscribers.lock().expect("hub lock");
        if let Some(list) = subs.get_mut(&self.topic) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                subs.remove(&self.topic);
            }
        }
    }
}

impl Hub {
    /// Starts the feed from the stream's current end and keeps it running until `shutdown`.
    /// `reconnected` changes whenever the NATS connection is made again.
    pub async fn start(
        stream: Stream,
        filter: String,
        reconnected: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Hub>> {
        let last = stream.get_info().await?.state.last_sequence;
        let hub = Arc::new(Hub {
            subscribers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            high_water: AtomicU64::new(last),
        });
        // Fail fast at start-up; later outages are retried by `relay`.
        let feed = open_feed(&stream, &filter, last + 1).await?;
        tokio::spawn(
            hub.clone()
                .relay(stream, filter, feed, reconnected, shutdown),
        );
        Ok(hub)
    }

    /// Dispatches the feed until shutdown. When the feed breaks, or the connection to NATS is
    /// made again (the server may have restarted and lost the consumer), it is reopened just
    /// after the last event dispatched, so no event is skipped.
    async fn relay(
        self: Arc<Self>,
        stream: Stream,
        filter: String,
        mut feed: Ordered,
        mut reconnected: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) {
        loop {
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    Ok(()) = reconnected.changed() => {
                        tracing::info!("NATS connection made again; reopening the live feed");
                        break;
                    }
                    next = feed.next() => next,
                };
                match next {
                    Some(Ok(message)) => self.dispatch(&message),
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "live feed broke; reopening");
                        break;
                    }
                    None => break,
                }
            }
            let mut wait = Duration::ZERO;
            feed = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                // Opened while the connection is down, the request would wait out its 5 s
                // timeout even once NATS is back (the chaos run's ~3.9 s stalls).
                let open = nats::asked_again_on_reconnect(&reconnected, || {
                    open_feed(&stream, &filter, self.next_seq_lower_bound())
                });
                match open.await {
                    Ok(feed) => {
                        // This reconnect is the one the feed was opened after.
                        reconnected.borrow_and_update();
                        break feed;
                    }
                    Err(e) => tracing::warn!(error = %e, "live feed still down"),
                }
                wait = (wait * 2).clamp(Duration::from_millis(50), MAX_REOPEN_WAIT);
            };
        }
    }

    pub fn subscribe(self: &Arc<Self>, topic: Topic) -> Subscription {
        let (tx, rx) = mpsc::channel(BUFFER);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .lock()
            .expect("hub lock")
            .entry(topic)
            .or_default()
            .push((id, tx));
        Subscription {
            hub: self.clone(),
            topic,
            id,
            events: rx,
        }
    }

    /// A lower bound for the sequence of any event published from now on.
    pub fn next_seq_lower_bound(&self) -> u64 {
        self.high_water.load(Ordering::Acquire) + 1
    }

    fn dispatch(&self, message: &async_nats::jetstream::Message) {
        let Ok(info) = message.info() else { return };
        let seq = info.stream_sequence;
        self.high_water.fetch_max(seq, Ordering::AcqRel);
        let Some((conversation_id, message_id)) = parse_subject(&message.subject) else {
            return;
        };
        let mut subs = self.subscribers.lock().expect("hub lock");
        let mut delivered = None;
        for topic in [
            Topic::Message(message_id),
            Topic::Conversation(conversation_id),
        ] {
            if let Some(list) = subs.get_mut(&topic) {
                // Decoded once, and only when someone listens.
                let delivered = delivered.get_or_insert_with(|| Delivered {
                    message_id,
                    stored: Stored::new(seq, message.payload.clone(), message.headers.as_ref()),
                });
                // A full buffer means a stalled client: drop it rather than block everyone.
                list.retain(|(_, tx)| tx.try_send(delivered.clone()).is_ok());
                if list.is_empty() {
                    subs.remove(&topic);
                }
            }
        }
    }
}

/// An ordered consumer over every conversation subject, from `start` (always a recent sequence).
async fn open_feed(stream: &Stream, filter: &str, start: u64) -> anyhow::Result<Ordered> {
    let config = OrderedConfig {
        filter_subject: filter.to_string(),
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: start,
        },
        ..Default::default()
    };
    Ok(stream.create_consumer(config).await?.messages().await?)
}

/// `{prefix}.conv.{conversation}.msg.{message}` → the two ids.
fn parse_subject(subject: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = subject.rsplitn(4, '.');
    let message = parts.next()?.parse().ok()?;
    (parts.next()? == "msg").then_some(())?;
    let conversation = parts.next()?.parse().ok()?;
    Some((conversation, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_into_their_ids() {
        let (c, m) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            parse_subject(&format!("sluice.conv.{c}.msg.{m}")),
            Some((c, m))
        );
        assert_eq!(parse_subject("sluice.control.msg.x"), None);
    }
}
