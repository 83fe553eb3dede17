//! An answer's events as OpenAI's `chat.completion.chunk` stream: a first chunk with the role,
//! one chunk per `token`, a last chunk with the finish reason (and, when asked, one with the
//! usage), then `data: [DONE]`. OpenAI's format cannot take text back, so a `reset` after text
//! was sent (a worker died mid-answer and another starts again) ends the stream with an error
//! naming where the whole answer can be read.

use axum::response::sse::Event;
use serde_json::{Value, json};
use sluice_shared::events::{StreamEvent, Usage};
use uuid::Uuid;

use crate::stream::Relayed;

/// OpenAI's id of the completion that is Sluice answer `id`.
pub fn completion_id(id: Uuid) -> String {
    format!("chatcmpl-{}", id.simple())
}

/// The answer id in an OpenAI completion id.
pub fn answer_id(completion_id: &str) -> Option<Uuid> {
    let hex = completion_id.strip_prefix("chatcmpl-")?;
    (hex.len() == 32)
        .then(|| Uuid::try_parse(hex).ok())
        .flatten()
}

/// OpenAI's usage object.
pub fn usage(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

/// The finish reasons OpenAI clients know; others (a provider's own words) read as `stop`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "length",
        "content_filter" => "content_filter",
        _ => "stop",
    }
}

/// Turns one answer's relayed events into chunks.
pub struct Chunks {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    message_id: Uuid,
    /// Text went out: a `reset` can no longer be honoured.
    sent_text: bool,
    /// The stream is over (the last chunk, or an error, went out).
    pub ended: bool,
}

impl Chunks {
    pub fn new(message_id: Uuid, created: i64, model: String, include_usage: bool) -> Self {
        Self {
            id: completion_id(message_id),
            created,
            model,
            include_usage,
            message_id,
            sent_text: false,
            ended: false,
        }
    }

    /// The first chunk: the assistant's role, no text yet.
    pub fn opening(&self) -> Event {
        self.chunk(json!({"role": "assistant", "content": ""}), None)
    }

    /// The chunks one event becomes (none for events OpenAI's format has no place for).
    pub fn translate(&mut self, relayed: &Relayed) -> Vec<Event> {
        let Some(event) = relayed.event() else {
            return Vec::new();
        };
        match event {
            StreamEvent::Token { delta, .. } => {
                self.sent_text = true;
                vec![self.chunk(json!({ "content": delta }), None)]
            }
            StreamEvent::Reset { .. } if self.sent_text => self.fail(
                "answer_restarted",
                &format!(
                    "the answer was interrupted and is being generated again; read it whole at \
                     GET /v1/chat/completions/{} or resume GET /api/messages/{}/stream",
                    self.id, self.message_id
                ),
            ),
            StreamEvent::Done {
                finish_reason: reason,
                usage: used,
                ..
            } => {
                self.ended = true;
                let mut events = vec![self.chunk(json!({}), Some(finish_reason(&reason)))];
                if self.include_usage {
                    let mut last = self.base(json!([]));
                    last["usage"] = usage(used);
                    events.push(Event::default().data(last.to_string()));
                }
                events.push(Event::default().data("[DONE]"));
                events
            }
            StreamEvent::Error { code, message, .. } => self.fail(&code, &message),
            StreamEvent::Cancelled { .. } => self.fail("cancelled", "the answer was cancelled"),
            _ => Vec::new(),
        }
    }

    fn fail(&mut self, code: &str, message: &str) -> Vec<Event> {
        self.ended = true;
        let body = json!({ "error": {
            "message": message, "type": "server_error", "param": null, "code": code,
        }});
        vec![Event::default().data(body.to_string())]
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Event {
        let choices = json!([{
            "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason,
        }]);
        let mut chunk = self.base(choices);
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        Event::default().data(chunk.to_string())
    }

    fn base(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_ids_name_the_answer_and_nothing_else() {
        let id = Uuid::now_v7();
        assert_eq!(answer_id(&completion_id(id)), Some(id));
        assert_eq!(answer_id("chatcmpl-xyz"), None);
        assert_eq!(answer_id(&id.to_string()), None);
    }
}
