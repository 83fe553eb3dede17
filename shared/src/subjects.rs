//! NATS names. Everything hangs off one prefix (`sluice` by default) so that tests can give
//! each test its own stream and subjects on one shared nats-server.

use uuid::Uuid;

/// Subject and stream names derived from the configured prefix.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The JetStream stream holding every token: `SLUICE_EVENTS` for prefix `sluice`.
    pub fn stream_name(&self) -> String {
        format!(
            "{}_EVENTS",
            self.prefix.to_uppercase().replace(['.', '-'], "_")
        )
    }

    /// Where this deployment's replies to requests (job offers' answers, JetStream acks) are
    /// sent: `_INBOX.sluice.…`. Outside the stream's subjects; its own per deployment, so NATS
    /// permissions can be granted per prefix and tests can watch their own replies.
    pub fn inbox_prefix(&self) -> String {
        format!("_INBOX.{}", self.prefix)
    }

    /// All subjects the stream captures: `sluice.conv.>`.
    pub fn stream_filter(&self) -> String {
        format!("{}.conv.>", self.prefix)
    }

    /// One message's events: `sluice.conv.{conversation_id}.msg.{message_id}`.
    pub fn message(&self, conversation_id: Uuid, message_id: Uuid) -> String {
        format!("{}.conv.{conversation_id}.msg.{message_id}", self.prefix)
    }

    /// The conversation's own events (its `title`): the subject of a message whose id is the
    /// conversation's, so whatever relays a conversation's messages (the API's hub, the
    /// conversation stream) relays them too, and no reader of a real message sees them.
    pub fn conversation_meta(&self, conversation_id: Uuid) -> String {
        self.message(conversation_id, conversation_id)
    }

    /// Every message of one conversation: `sluice.conv.{conversation_id}.msg.*`.
    pub fn conversation(&self, conversation_id: Uuid) -> String {
        format!("{}.conv.{conversation_id}.msg.*", self.prefix)
    }

    /// Every message's control subject (workers subscribe once to all of them).
    pub fn control_all(&self) -> String {
        format!("{}.control.msg.*", self.prefix)
    }

    /// Core-NATS subject of what happens to one user's conversations (the account feed).
    pub fn account(&self, user_id: Uuid) -> String {
        format!("{}.account.{user_id}", self.prefix)
    }

    /// The JetStream stream holding durable streams' data (`/v1/stream/…`): `SLUICE_DURABLE`.
    /// Apart from the events stream, which forgets after `stream_max_age_secs`.
    pub fn durable_stream_name(&self) -> String {
        self.stream_name().replace("_EVENTS", "_DURABLE")
    }

    /// All subjects of durable streams: `sluice.durable.>`.
    pub fn durable_filter(&self) -> String {
        format!("{}.durable.>", self.prefix)
    }

    /// One durable stream's data, one message per append: `sluice.durable.{id}`.
    pub fn durable(&self, stream_id: Uuid) -> String {
        format!("{}.durable.{stream_id}", self.prefix)
    }

    /// Core-NATS subject told a durable stream's new tail after each committed change, so
    /// waiting readers on every API process wake: `sluice.durable-tail.{id}`.
    pub fn durable_tail(&self, stream_id: Uuid) -> String {
        format!("{}.durable-tail.{stream_id}", self.prefix)
    }

    /// Every durable stream's tail notices.
    pub fn durable_tail_all(&self) -> String {
        format!("{}.durable-tail.*", self.prefix)
    }

    /// Core-NATS subject on which the API offers new jobs to the workers (`handoff`).
    pub fn handoff(&self) -> String {
        format!("{}.jobs.chat", self.prefix)
    }

    /// Core-NATS control subject the worker running a message listens on (cancel).
    pub fn control(&self, message_id: Uuid) -> String {
        format!("{}.control.msg.{message_id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefix_gives_the_designed_names() {
        let s = Subjects::new("sluice");
        let c = Uuid::nil();
        assert_eq!(s.stream_name(), "SLUICE_EVENTS");
        assert_eq!(s.stream_filter(), "sluice.conv.>");
        assert_eq!(s.message(c, c), format!("sluice.conv.{c}.msg.{c}"));
        assert_eq!(s.control(c), format!("sluice.control.msg.{c}"));
    }
}
