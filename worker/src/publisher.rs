//! Publishes one attempt's events to the message's JetStream subject. Acks are pipelined: up
//! to `WINDOW` publishes are in flight, and every ack is awaited before the terminal event
//! (async-nats blocks forever past ~5000 un-awaited acks, so the window is bounded).

use std::{collections::VecDeque, future::IntoFuture, pin::Pin};

use async_nats::{
    HeaderMap, Subject,
    jetstream::{self, context::PublishError, publish::PublishAck},
};
use bytes::Bytes;
use sluice_shared::{
    events::{StreamEvent, TERMINAL_KEY, nats_msg_id},
    telemetry::REQUEST_ID_HEADER,
};
use uuid::Uuid;

const WINDOW: usize = 256;

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
    pending: VecDeque<PendingAck>,
    first_seq: Option<u64>,
}

impl EventPublisher {
    pub fn new(
        js: jetstream::Context,
        subject: String,
        message_id: Uuid,
        attempt: i32,
        request_id: Option<String>,
    ) -> Self {
        Self {
            js,
            subject: subject.into(),
            message_id,
            attempt,
            request_id,
            traceparent: sluice_shared::telemetry::current_traceparent(),
            pending: VecDeque::new(),
            first_seq: None,
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
        self.pending.push_back(ack.into_future());
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
        let ack = oldest.await?;
        self.pending.pop_front();
        self.first_seq.get_or_insert(ack.sequence);
        Ok(ack.sequence)
    }

    /// Stream sequence of the first event this publisher sent (known once its ack arrived).
    pub fn first_seq(&self) -> Option<u64> {
        self.first_seq
    }
}
