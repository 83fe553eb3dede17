//! OpenAI's Chat Completions, streaming — and every server that speaks it: vLLM, Ollama
//! (`/v1`), LM Studio, LiteLLM. Deltas in `choices[].delta.content`, the finish reason in
//! `choices[].finish_reason`, usage in a last chunk (asked for with `stream_options`), then
//! `data: [DONE]`.

use eventsource_stream::Event;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sluice_shared::config::HttpProviderConfig;

use super::{
    ProviderError, ProviderRequest,
    http::{Read, WireFormat, malformed},
};

pub struct OpenAi;

#[derive(Deserialize)]
struct ChunkBody {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<UsageBody>,
    /// An error the server reports mid-stream (vLLM and LiteLLM do).
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
}

#[derive(Deserialize)]
struct UsageBody {
    prompt_tokens: u32,
    completion_tokens: u32,
}

impl WireFormat for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn request(
        &self,
        http: &reqwest::Client,
        config: &HttpProviderConfig,
        request: &ProviderRequest,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let mut body = serde_json::json!({
            "model": request.model,
            "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": request.max_output_tokens,
        });
        // Only what the client chose: the server's own defaults otherwise.
        let options = &request.options;
        if let Some(t) = options.temperature {
            body["temperature"] = t.into();
        }
        if let Some(p) = options.top_p {
            body["top_p"] = p.into();
        }
        if !options.stop.is_empty() {
            body["stop"] = options.stop.clone().into();
        }
        let call = http.post(url).json(&body);
        match &config.api_key {
            Some(key) => call.bearer_auth(key.expose_secret()),
            None => call,
        }
    }

    fn read(&self, event: &Event) -> Result<Vec<Read>, ProviderError> {
        if event.data.trim() == "[DONE]" {
            return Ok(vec![Read::End]);
        }
        let body: ChunkBody = serde_json::from_str(&event.data).map_err(|_| malformed())?;
        if let Some(error) = body.error {
            let message = error
                .message
                .unwrap_or_else(|| "the model provider reported an error".into());
            return Err(ProviderError::new("upstream_error", message, true));
        }
        let mut reads = Vec::new();
        if let Some(u) = body.usage {
            reads.push(Read::Usage {
                input: Some(u.prompt_tokens),
                output: Some(u.completion_tokens),
            });
        }
        for choice in body.choices {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                reads.push(Read::Text(text));
            }
            if let Some(reason) = choice.finish_reason {
                reads.push(Read::FinishReason(reason));
            }
        }
        Ok(reads)
    }
}

/// A message in OpenAI's shape: text alone as a string; with images, a list of parts
/// (`image_url` with a data URL).
fn message(m: &super::PromptMessage) -> serde_json::Value {
    if m.images.is_empty() {
        return serde_json::json!({ "role": m.role, "content": m.content });
    }
    let mut parts = vec![serde_json::json!({ "type": "text", "text": m.content })];
    parts.extend(m.images.iter().map(|i| {
        serde_json::json!({ "type": "image_url",
            "image_url": { "url": format!("data:{};base64,{}", i.content_type, i.base64) } })
    }));
    serde_json::json!({ "role": m.role, "content": parts })
}
