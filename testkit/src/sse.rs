//! A small SSE client over reqwest, for tests and the benchmark.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{StreamExt, stream::BoxStream};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

impl SseEvent {
    pub fn is_terminal(&self) -> bool {
        sluice_shared::events::is_terminal_kind(&self.event)
    }
}

pub struct SseStream {
    events: BoxStream<'static, SseEvent>,
}

impl SseStream {
    pub fn new(response: reqwest::Response) -> Self {
        let events = response
            .bytes_stream()
            .eventsource()
            .filter_map(|e| async move {
                let e = e.ok()?;
                Some(SseEvent {
                    id: e.id.parse().ok(),
                    event: e.event,
                    data: serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)),
                })
            })
            .boxed();
        Self { events }
    }

    /// The next event, or `None` when the server ended the response.
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(Duration::from_secs(30), self.events.next())
            .await
            .expect("no SSE event within 30 s")
    }

    /// Every event up to and including the `n`th `token` event.
    pub async fn until_tokens(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events: Vec<SseEvent> = Vec::new();
        while events.iter().filter(|e| e.event == "token").count() < n {
            events.push(self.next().await.expect("the stream continues"));
        }
        events
    }

    /// Every event until the server ends the response.
    pub async fn collect(mut self) -> Vec<SseEvent> {
        let mut all = Vec::new();
        while let Some(e) = self.next().await {
            all.push(e);
        }
        all
    }
}

/// The answer text a client would show: tokens after the last `reset`.
pub fn answer_text(events: &[SseEvent]) -> String {
    let mut text = String::new();
    for e in events {
        match e.event.as_str() {
            "reset" => text.clear(),
            "token" => text.push_str(e.data["delta"].as_str().unwrap_or_default()),
            _ => {}
        }
    }
    text
}
