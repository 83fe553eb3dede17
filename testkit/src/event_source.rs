//! A client that behaves as a browser's `EventSource` does (HTML Living Standard, "Server-sent
//! events"): when a response ends it waits the server's `retry:` time and reconnects with the
//! last event id it saw in `Last-Event-ID`; an event without `id:` keeps the previous one; a
//! `204 No Content` (or any status but 200) closes it for good. It can also be told to drop a
//! connection after some events, as a flaky network would.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

use crate::sse::SseEvent;

/// The wait before a reconnect until the server sends `retry:` (browsers use about 3 s).
const DEFAULT_RETRY: Duration = Duration::from_secs(3);

/// Everything one `EventSource` received until it closed.
#[derive(Debug, Default)]
pub struct Received {
    /// Every event, in order, over all connections.
    pub events: Vec<SseEvent>,
    /// Responses opened (the first connection and each reconnect).
    pub connections: usize,
    /// The last response was `204 No Content`: the server said there is nothing more.
    pub closed_by_204: bool,
    /// The `retry:` value the server last sent.
    pub retry: Option<Duration>,
}

impl Received {
    /// The answer text a page would show: tokens, with `reset` clearing earlier ones.
    pub fn text(&self) -> String {
        crate::sse::answer_text(&self.events)
    }

    /// Events received after the first terminal event (a correct server sends none).
    pub fn after_terminal(&self) -> usize {
        match self.events.iter().position(SseEvent::is_terminal) {
            Some(i) => self.events.len() - i - 1,
            None => 0,
        }
    }

    /// The ids carried by events, in the order received.
    pub fn ids(&self) -> Vec<u64> {
        self.events.iter().filter_map(|e| e.id).collect()
    }
}

pub struct EventSource {
    http: reqwest::Client,
    url: String,
    bearer: String,
    /// Drop the connection after this many events (None: never, like a stable network).
    pub drop_after: Option<usize>,
    /// Give up after this many connections (a server that never says 204 would loop forever).
    pub max_connections: usize,
    /// Close (as a page would) once this many terminal events arrived: for streams that never
    /// end by themselves, such as a conversation's.
    pub close_after_terminals: Option<usize>,
    last_event_id: Option<String>,
}

impl EventSource {
    pub fn new(url: impl Into<String>, bearer: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.into(),
            bearer: bearer.into(),
            drop_after: None,
            max_connections: 20,
            close_after_terminals: None,
            last_event_id: None,
        }
    }

    /// Starts as a page that already holds events up to `id` would.
    pub fn resuming_from(mut self, id: u64) -> Self {
        self.last_event_id = Some(id.to_string());
        self
    }

    /// Connects, and reconnects as a browser would, until the server closes it with a
    /// non-200 status or `max_connections` is reached.
    pub async fn run(mut self) -> Received {
        let mut received = Received::default();
        while received.connections < self.max_connections {
            let mut request = self
                .http
                .get(&self.url)
                .bearer_auth(&self.bearer)
                .header("Accept", "text/event-stream");
            if let Some(id) = &self.last_event_id {
                request = request.header("Last-Event-ID", id);
            }
            received.connections += 1;
            let response = match request.send().await {
                Ok(r) => r,
                // The server is down (restarting): try again after the retry time.
                Err(_) => {
                    tokio::time::sleep(received.retry.unwrap_or(DEFAULT_RETRY)).await;
                    continue;
                }
            };
            match response.status().as_u16() {
                200 => {}
                204 => {
                    received.closed_by_204 = true;
                    return received;
                }
                // A 5xx while the API restarts behind a proxy would also close a real
                // EventSource; tests see it as not closed by 204.
                _ => return received,
            }
            self.read(response, &mut received).await;
            if self.enough(&received) {
                return received;
            }
            tokio::time::sleep(received.retry.unwrap_or(DEFAULT_RETRY)).await;
        }
        received
    }

    fn enough(&self, received: &Received) -> bool {
        self.close_after_terminals
            .is_some_and(|n| received.events.iter().filter(|e| e.is_terminal()).count() >= n)
    }

    /// Reads one response until it ends (or `drop_after` events), dispatching as a browser.
    async fn read(&mut self, response: reqwest::Response, received: &mut Received) {
        let mut bytes = response.bytes_stream();
        let mut buffer = String::new();
        let mut pending = Pending::default();
        let mut this_connection = 0;
        loop {
            let chunk = match tokio::time::timeout(Duration::from_secs(60), bytes.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                // Ended, broke, or silent for a minute (keep-alives come every 15 s).
                _ => return,
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(newline) = buffer.find('\n') {
                let line: String = buffer.drain(..=newline).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                if !line.is_empty() {
                    pending.field(line, received);
                    continue;
                }
                // A blank line dispatches the event (if it has data).
                let Some(event) = pending.dispatch(&mut self.last_event_id) else {
                    continue;
                };
                received.events.push(event);
                this_connection += 1;
                if self.enough(received) || self.drop_after.is_some_and(|n| this_connection >= n) {
                    return;
                }
            }
        }
    }
}

/// The fields of the event being received.
#[derive(Default)]
struct Pending {
    event: String,
    data: Vec<String>,
    id: Option<String>,
}

impl Pending {
    fn field(&mut self, line: &str, received: &mut Received) {
        if line.starts_with(':') {
            return;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match name {
            "event" => self.event = value.to_string(),
            "data" => self.data.push(value.to_string()),
            // An id with NUL is ignored (the spec); any other sets the last event id.
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    received.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, last_event_id: &mut Option<String>) -> Option<SseEvent> {
        let Pending { event, data, id } = std::mem::take(self);
        // The last event id is updated even by events without data.
        if id.is_some() {
            *last_event_id = id.clone();
        }
        if data.is_empty() {
            return None;
        }
        let data = data.join("\n");
        Some(SseEvent {
            // Only ids the event itself carried: checks of "ids increase" look at those.
            id: id.and_then(|i| i.parse().ok()),
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
        })
    }
}
