//! The shapes of `/v1` in the OpenAPI document. The handlers read and write these bodies as
//! JSON values (OpenAI's format is read field by field in `request.rs`, and written in
//! `completions.rs` / `chunks.rs`); these types only describe them. `testkit/tests/openapi/`
//! checks real responses against them, so a description that drifts fails a test.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/chat/completions`, as OpenAI defines it. Fields this server cannot honour (`n > 1`,
/// `tools`, `audio`, `response_format`, …) are refused with a 400 naming them, not ignored.
#[derive(Serialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// A model of `GET /v1/models`.
    #[schema(min_length = 1)]
    model: String,
    /// `system` / `developer` / `user` / `assistant` turns; the last is the user's question.
    #[schema(min_items = 1)]
    messages: Vec<RequestMessage>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    #[schema(minimum = 1)]
    max_tokens: Option<u32>,
    #[schema(minimum = 1)]
    max_completion_tokens: Option<u32>,
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f64>,
    #[schema(minimum = 0, maximum = 1)]
    top_p: Option<f64>,
    /// One string or up to four.
    stop: Option<Value>,
    /// Must be 1 when given.
    #[schema(minimum = 1, maximum = 1)]
    n: Option<u32>,
    user: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    store: Option<bool>,
    /// Accepted; without tools it changes nothing.
    parallel_tool_calls: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestMessage {
    /// `system`, `developer`, `user` or `assistant`.
    role: String,
    /// A string, or an array of `{"type": "text", "text": …}` parts.
    content: Value,
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StreamOptions {
    /// A last chunk, before `[DONE]`, carries the usage.
    include_usage: Option<bool>,
}

/// A whole answer (no `stream`, or `GET /v1/chat/completions/{id}`).
#[derive(Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`, derived from the stored answer.
    id: String,
    /// `chat.completion`
    object: String,
    created: i64,
    model: String,
    system_fingerprint: Option<String>,
    choices: Vec<Choice>,
    usage: CompletionUsage,
}

#[derive(Serialize, ToSchema)]
pub struct Choice {
    index: u32,
    message: AssistantMessage,
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
    /// `stop`, `length` or `content_filter`.
    finish_reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`
    role: String,
    content: String,
    refusal: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CompletionUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

/// One `data:` line of a streaming answer; the stream ends with `data: [DONE]`. An answer that
/// fails after it began ends with a `data:` line holding an `ErrorResponse` instead.
#[derive(Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    /// The same `chatcmpl-…` on every chunk.
    id: String,
    /// `chat.completion.chunk`
    object: String,
    created: i64,
    model: String,
    system_fingerprint: Option<String>,
    /// One choice; empty in the usage chunk.
    choices: Vec<ChunkChoice>,
    /// With `stream_options.include_usage`: null but in the last chunk.
    usage: Option<CompletionUsage>,
}

#[derive(Serialize, ToSchema)]
pub struct ChunkChoice {
    index: u32,
    /// `{"role": "assistant", "content": ""}` first, then `{"content": …}`, `{}` at the end.
    #[schema(value_type = Object)]
    delta: Value,
    #[schema(value_type = Option<Object>)]
    logprobs: Option<Value>,
    finish_reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Model {
    id: String,
    /// `model`
    object: String,
    created: i64,
    owned_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// `list`
    object: String,
    data: Vec<Model>,
}

/// OpenAI's error shape.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    error: ErrorObject,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorObject {
    message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `rate_limit_error`, `server_error`
    #[serde(rename = "type")]
    kind: String,
    /// The request field at fault.
    param: Option<String>,
    code: Option<String>,
}
