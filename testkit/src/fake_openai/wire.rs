//! Each vendor's streaming wire format, as the fake writes it: the events before the text, one
//! piece of text, the end with finish reason and usage, the vendor's in-stream error, and its
//! error body for an HTTP-level refusal.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// Whose wire format a request asked in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Vendor {
    OpenAi,
    Anthropic,
    Gemini,
}

/// The error body and status a vendor answers an HTTP-level fault with.
pub fn refusal(vendor: Vendor, status: StatusCode, message: &str) -> Response {
    let body = match vendor {
        Vendor::Anthropic => {
            json!({"type": "error", "error": {"type": "overloaded_error", "message": message}})
        }
        Vendor::Gemini => {
            json!({"error": {"code": status.as_u16(), "message": message, "status": "UNAVAILABLE"}})
        }
        Vendor::OpenAi => json!({"error": {"message": message, "type": "server_error"}}),
    };
    (status, Json(body)).into_response()
}

/// What a vendor sends before the first text: Anthropic's `message_start` (with the input
/// tokens), a `ping` and the text block's start.
pub fn opening(vendor: Vendor, prompt_tokens: u32) -> String {
    match vendor {
        Vendor::Anthropic => {
            let start = json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
                "role": "assistant", "content": [], "model": "claude-fake", "stop_reason": null,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}});
            let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
            format!(
                "event: message_start\ndata: {start}\n\nevent: ping\ndata: {{\"type\": \"ping\"}}\n\nevent: content_block_start\ndata: {block}\n\n"
            )
        }
        _ => String::new(),
    }
}

/// One piece of text in the vendor's format.
pub fn piece(vendor: Vendor, model: &str, text: &str) -> String {
    match vendor {
        Vendor::OpenAi => chunk(model, json!({"content": text}), Value::Null, Value::Null),
        Vendor::Anthropic => {
            let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}});
            format!("event: content_block_delta\ndata: {delta}\n\n")
        }
        Vendor::Gemini => {
            let part = json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]});
            format!("data: {part}\n\n")
        }
    }
}

/// The end of an answer in the vendor's format, with its finish reason and usage.
pub fn ending(
    vendor: Vendor,
    model: &str,
    prompt_tokens: u32,
    tokens: u32,
    omit_usage: bool,
) -> String {
    match vendor {
        Vendor::OpenAi => {
            let usage = match omit_usage {
                true => Value::Null,
                false => {
                    json!({"prompt_tokens": prompt_tokens, "completion_tokens": tokens, "total_tokens": prompt_tokens + tokens})
                }
            };
            format!(
                "{}data: [DONE]\n\n",
                chunk(model, json!({}), json!("stop"), usage)
            )
        }
        Vendor::Anthropic => {
            let stop = json!({"type": "content_block_stop", "index": 0});
            let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": tokens}});
            format!(
                "event: content_block_stop\ndata: {stop}\n\nevent: message_delta\ndata: {delta}\n\nevent: message_stop\ndata: {{\"type\": \"message_stop\"}}\n\n"
            )
        }
        Vendor::Gemini => {
            let last = json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": tokens, "totalTokenCount": prompt_tokens + tokens}});
            format!("data: {last}\n\n")
        }
    }
}

/// The vendor's own error event, sent mid-stream.
pub fn in_stream_error(vendor: Vendor) -> String {
    match vendor {
        Vendor::Anthropic => {
            let e = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
            format!("event: error\ndata: {e}\n\n")
        }
        Vendor::Gemini => {
            let e = json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}});
            format!("data: {e}\n\n")
        }
        Vendor::OpenAi => {
            let e =
                json!({"error": {"message": "The server had an error", "type": "server_error"}});
            format!("data: {e}\n\n")
        }
    }
}

fn chunk(model: &str, delta: Value, finish_reason: Value, usage: Value) -> String {
    let body = json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        "usage": usage,
    });
    format!("data: {body}\n\n")
}
