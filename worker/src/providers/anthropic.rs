//! Anthropic's Messages API, streaming: `message_start` (input tokens), `content_block_start`,
//! `content_block_delta` (`text_delta`), `content_block_stop`, `message_delta` (`stop_reason`,
//! output tokens), `message_stop`; `ping`s between; an `error` event (`overloaded_error`, ...)
//! mid-stream. The system prompt is the top-level `system` field, never a message.

use eventsource_stream::Event;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sluice_shared::config::HttpProviderConfig;

use super::{
    ProviderError, ProviderRequest,
    http::{Read, WireFormat, malformed},
};

/// The API version this format is written against.
const VERSION: &str = "2023-06-01";

pub struct Anthropic;

impl WireFormat for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn request(
        &self,
        http: &reqwest::Client,
        config: &HttpProviderConfig,
        request: &ProviderRequest,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}/messages", config.base_url.trim_end_matches('/'));
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == "system")
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != "system")
            .map(|m| {
                if m.images.is_empty() {
                    return json!({ "role": m.role, "content": m.content });
                }
                // Images first, then the text about them (as Anthropic advises).
                let mut blocks: Vec<Value> = m
                    .images
                    .iter()
                    .map(|i| {
                        json!({ "type": "image", "source": {
                            "type": "base64", "media_type": i.content_type, "data": i.base64 } })
                    })
                    .collect();
                blocks.push(json!({ "type": "text", "text": m.content }));
                json!({ "role": m.role, "content": blocks })
            })
            .collect();
        let mut body = json!({
            "model": request.model,
            "max_tokens": request.max_output_tokens,
            "messages": messages,
            "stream": true,
        });
        if !system.is_empty() {
            body["system"] = system.join("\n\n").into();
        }
        let options = &request.options;
        if let Some(t) = options.temperature {
            // Anthropic's range is 0–1; OpenAI's 0–2 maps onto it.
            body["temperature"] = (t / 2.0).into();
        }
        if let Some(p) = options.top_p {
            body["top_p"] = p.into();
        }
        if !options.stop.is_empty() {
            body["stop_sequences"] = options.stop.clone().into();
        }
        let call = http
            .post(url)
            .header("anthropic-version", VERSION)
            .json(&body);
        match &config.api_key {
            Some(key) => call.header("x-api-key", key.expose_secret()),
            None => call,
        }
    }

    fn read(&self, event: &Event) -> Result<Vec<Read>, ProviderError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|_| malformed())?;
        let kind = if event.event.is_empty() || event.event == "message" {
            data["type"].as_str().unwrap_or_default().to_string()
        } else {
            event.event.clone()
        };
        Ok(match kind.as_str() {
            "message_start" => {
                let usage = &data["message"]["usage"];
                vec![Read::Usage {
                    input: count(&usage["input_tokens"]),
                    output: count(&usage["output_tokens"]),
                }]
            }
            "content_block_delta" => match data["delta"]["text"].as_str() {
                Some(text) if !text.is_empty() => vec![Read::Text(text.to_string())],
                _ => vec![Read::Nothing],
            },
            "message_delta" => {
                let mut reads = vec![Read::Usage {
                    input: count(&data["usage"]["input_tokens"]),
                    output: count(&data["usage"]["output_tokens"]),
                }];
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    reads.push(Read::FinishReason(finish_reason(reason).into()));
                }
                reads
            }
            "message_stop" => vec![Read::End],
            "error" => {
                let kind = data["error"]["type"].as_str().unwrap_or("api_error");
                let message = data["error"]["message"]
                    .as_str()
                    .unwrap_or("the model provider reported an error");
                let retryable =
                    matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error");
                let code = if kind == "overloaded_error" {
                    "upstream_overloaded"
                } else {
                    "upstream_error"
                };
                return Err(ProviderError::new(code, message, retryable));
            }
            // ping, content_block_start, content_block_stop, and kinds added later.
            _ => vec![Read::Nothing],
        })
    }
}

fn count(v: &Value) -> Option<u32> {
    v.as_u64().map(|n| n as u32)
}

/// Anthropic's stop reasons in OpenAI's words.
fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "max_tokens" => "length",
        "refusal" => "content_filter",
        _ => "stop",
    }
}
