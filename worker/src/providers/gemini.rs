//! Google Gemini's `streamGenerateContent?alt=sse`: each event a `GenerateContentResponse`
//! with `candidates[].content.parts[].text`, the last with `finishReason` and
//! `usageMetadata`. Roles are `user` and `model`; the system prompt is `systemInstruction`.
//! There is no end event: the answer ends when the stream does, after a finish reason.

use eventsource_stream::Event;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sluice_shared::config::HttpProviderConfig;

use super::{
    ProviderError, ProviderRequest,
    http::{Read, WireFormat, malformed},
};

pub struct Gemini;

impl WireFormat for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn request(
        &self,
        http: &reqwest::Client,
        config: &HttpProviderConfig,
        request: &ProviderRequest,
    ) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/models/{}:streamGenerateContent?alt=sse",
            config.base_url.trim_end_matches('/'),
            request.model
        );
        let system: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role == "system")
            .map(|m| json!({ "text": m.content }))
            .collect();
        let contents: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != "system")
            .map(|m| {
                let role = if m.role == "assistant" {
                    "model"
                } else {
                    "user"
                };
                let mut parts = vec![json!({ "text": m.content })];
                parts.extend(m.images.iter().map(
                    |i| json!({ "inline_data": { "mime_type": i.content_type, "data": i.base64 } }),
                ));
                json!({ "role": role, "parts": parts })
            })
            .collect();
        let options = &request.options;
        let mut generation = json!({ "maxOutputTokens": request.max_output_tokens });
        if let Some(t) = options.temperature {
            generation["temperature"] = t.into();
        }
        if let Some(p) = options.top_p {
            generation["topP"] = p.into();
        }
        if !options.stop.is_empty() {
            generation["stopSequences"] = options.stop.clone().into();
        }
        let mut body = json!({ "contents": contents, "generationConfig": generation });
        if !system.is_empty() {
            body["systemInstruction"] = json!({ "parts": system });
        }
        let call = http.post(url).json(&body);
        match &config.api_key {
            Some(key) => call.header("x-goog-api-key", key.expose_secret()),
            None => call,
        }
    }

    fn read(&self, event: &Event) -> Result<Vec<Read>, ProviderError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|_| malformed())?;
        if let Some(error) = data.get("error") {
            let status = error["status"].as_str().unwrap_or_default();
            let message = error["message"]
                .as_str()
                .unwrap_or("the model provider reported an error");
            let retryable = matches!(status, "UNAVAILABLE" | "RESOURCE_EXHAUSTED" | "INTERNAL");
            return Err(ProviderError::new("upstream_error", message, retryable));
        }
        let mut reads = Vec::new();
        let candidate = &data["candidates"][0];
        if let Some(parts) = candidate["content"]["parts"].as_array() {
            for text in parts.iter().filter_map(|p| p["text"].as_str()) {
                if !text.is_empty() {
                    reads.push(Read::Text(text.to_string()));
                }
            }
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            reads.push(Read::FinishReason(finish_reason(reason).into()));
        }
        let usage = &data["usageMetadata"];
        if usage.is_object() {
            reads.push(Read::Usage {
                input: usage["promptTokenCount"].as_u64().map(|n| n as u32),
                output: usage["candidatesTokenCount"].as_u64().map(|n| n as u32),
            });
        }
        Ok(reads)
    }

    fn ends_with_the_connection(&self) -> bool {
        true
    }
}

/// Gemini's finish reasons in OpenAI's words.
fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        _ => "stop",
    }
}
