//! Publishes one attempt's events to the message's JetStream subject. Acks are pipelined: up
//! to `WINDOW` publishes are in flight, and every ack is awaited before the terminal event
//! (async-nats blocks forever past ~5000 un-awaited acks, so the window is bounded).
//!
//! An ack whose publish went out on a connection that was then lost never comes; the client
//! library would wait out its whole request timeout (5 s) before saying so. After a reconnect,
//! acks still outstanding get `AFTER_RECONNECT` more: those sent on the new connection arrive
//! within it, and a missing one fails the attempt at once, so the queue runs the answer again
//! (`reset` first). Publishing the lost events again instead is not safe: events published
//! since the reconnect are already stored after them, and the tokens would be out of order.

use std::{collections::VecDeque, future::IntoFuture, pin::Pin, time::Duration};

use async_nats::{
    HeaderMap, Subject,
    jetstream::{self, context::PublishError, publish::PublishAck},
};
use bytes::Bytes;
use sluice_shared::{
    events::{StreamEvent, TERMINAL_KEY, nats_msg_id},
    job::ChatJob,
    telemetry::REQUEST_ID_HEADER,
};
use tokio::{sync::watch, time::Instant};
use uuid::Uuid;

use crate::WorkerState;

const WINDOW: usize = 256;
/// How long outstanding acks may still take once the NATS connection is made again.
const AFTER_RECONNECT: Duration = Duration::from_millis(500);

/// A publish ack being awaited. Boxed so the oldest can be awaited in a `select!` and stay
/// queued if another branch wins.
type PendingAck = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

pub struct EventPublisher {
    js: jetstream::Context,
    /// `Subject` shares its bytes: cloning it per token does not copy the string.
    subject: Subject,
    message_id: Uuid,
    attempt: i32,
    request_id: Option<String>,
    /// The job's span in its trace, on every message (`telemetry`).
    traceparent: Option<String>,
    pending: VecDeque<Pending>,
    first_seq: Option<u64>,
    /// Counts NATS reconnects.
    reconnected: watch::Receiver<u64>,
    /// The latest reconnect seen here (its count, and when it was seen).
    connection: (u64, Instant),
}

/// A publish whose ack is awaited, and the connection (reconnect count) it went out on.
struct Pending {
    sent_on: u64,
    ack: PendingAck,
}

impl EventPublisher {
    /// The publisher of `attempt` at answering `job`.
    pub fn new(state: &WorkerState, job: &ChatJob, attempt: i32) -> Self {
        Self {
            js: state.js.clone(),
            subject: (state.subjects)
                .message(job.conversation_id, job.message_id)
                .into(),
            message_id: job.message_id,
            attempt,
            request_id: job.request_id.clone(),
            traceparent: sluice_shared::telemetry::current_traceparent(),
            pending: VecDeque::new(),
            first_seq: None,
            connection: (*state.nats_reconnected.borrow(), Instant::now()),
            reconnected: state.nats_reconnected.clone(),
        }
    }

    /// Publishes without waiting for the ack. `key` makes the `Nats-Msg-Id`
    /// (`{message_id}:{attempt}:{key}`), so a re-sent publish is dropped by the server.
    pub async fn publish(
        &mut self,
        key: impl std::fmt::Display,
        event: &StreamEvent,
    ) -> anyhow::Result<()> {
        if self.pending.len() >= WINDOW {
            self.settle_oldest().await?;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            nats_msg_id(self.message_id, self.attempt, key).as_str(),
        );
        if let Some(id) = &self.request_id {
            headers.insert(REQUEST_ID_HEADER, id.as_str());
        }
        if let Some(traceparent) = &self.traceparent {
            headers.insert("traceparent", traceparent.as_str());
        }
        let payload = Bytes::from(serde_json::to_vec(event)?);
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, payload)
            .await?;
        self.pending.push_back(Pending {
            sent_on: *self.reconnected.borrow(),
            ack: ack.into_future(),
        });
        Ok(())
    }

    /// Awaits every outstanding ack. Returns the sequence of the last event published.
    pub async fn flush(&mut self) -> anyhow::Result<Option<u64>> {
        let mut last = None;
        while !self.pending.is_empty() {
            last = Some(self.settle_oldest().await?);
        }
        Ok(last)
    }

    /// Publishes a terminal event after all earlier events are stored; returns its sequence.
    pub async fn publish_terminal(&mut self, event: &StreamEvent) -> anyhow::Result<u64> {
        self.flush().await?;
        self.publish(TERMINAL_KEY, event).await?;
        Ok(self.flush().await?.expect("one event was just published"))
    }

    /// Events published whose acks have not arrived yet.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Waits for the oldest outstanding ack (pending forever when none is outstanding).
    /// Cancel-safe: the ack stays queued until it has arrived.
    pub async fn settle_oldest(&mut self) -> anyhow::Result<u64> {
        let Some(oldest) = self.pending.front_mut() else {
            return std::future::pending().await;
        };
        loop {
            let (latest, seen_at) = self.connection;
            let sent_before_reconnect = oldest.sent_on < latest;
            let give_up = async move {
                if sent_before_reconnect {
                    tokio::time::sleep_until(seen_at + AFTER_RECONNECT).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                ack = &mut oldest.ack => {
                    let ack = ack?;
                    self.pending.pop_front();
                    self.first_seq.get_or_insert(ack.sequence);
                    return Ok(ack.sequence);
                }
                Ok(()) = self.reconnected.changed() => {
                    self.connection = (*self.reconnected.borrow_and_update(), Instant::now());
                }
                () = give_up => {
                    anyhow::bail!("the NATS connection was lost before these events were stored");
                }
            }
        }
    }

    /// Stream sequence of the first event this publisher sent (known once its ack arrived).
    pub fn first_seq(&self) -> Option<u64> {
        self.first_seq
    }
}
