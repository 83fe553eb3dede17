//! Reading a `POST /v1/chat/completions` body as OpenAI defines it. What this server does
//! (text chat: system / developer / user / assistant turns, streaming, usage, sampling, stop,
//! length) is read into `ChatRequest`; what it does not (`n > 1`, tools, audio, images,
//! response formats, ...) is refused naming the field, never ignored, since ignoring it would
//! change the answer. A field OpenAI does not define is refused as OpenAI refuses it.

use serde_json::{Map, Value};
use sluice_shared::{Config, job::GenerationOptions};

use super::error::V1Error;

mod fields;
mod messages;

/// One earlier turn of the conversation the request carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: &'static str,
    pub content: String,
}

/// A request this server can answer.
#[derive(Debug)]
pub struct ChatRequest {
    pub model: String,
    /// System and developer messages, joined (empty: none).
    pub system: String,
    /// The turns before the question, oldest first.
    pub history: Vec<Turn>,
    /// The last message: the user's, which the answer replies to.
    pub question: String,
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with the usage.
    pub include_usage: bool,
    pub options: GenerationOptions,
}

/// Fields that change nothing about the answer, accepted when they have OpenAI's type.
fn check_accepted(body: &Map<String, Value>) -> Result<(), V1Error> {
    fields::string(body, "user")?;
    fields::flag(body, "store")?;
    fields::flag(body, "parallel_tool_calls")?;
    fields::metadata(body)
}

/// Fields that would change the answer in ways this server cannot; allowed only at the value
/// that means "not used".
const UNSUPPORTED: [&str; 16] = [
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "audio",
    "modalities",
    "response_format",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "prediction",
    "reasoning_effort",
    "web_search_options",
];

/// Every field OpenAI defines that this server reads or accepts.
const KNOWN: [&str; 14] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "user",
    "metadata",
    "store",
    "parallel_tool_calls",
];

pub fn parse(body: Value, config: &Config) -> Result<ChatRequest, V1Error> {
    let Value::Object(mut body) = body else {
        return Err(V1Error::invalid(
            "",
            "the request body must be a JSON object",
        ));
    };
    for key in body.keys() {
        let k = key.as_str();
        if !(KNOWN.contains(&k) || UNSUPPORTED.contains(&k)) {
            let k = fields::shortened(k);
            return Err(V1Error::invalid(
                &k,
                format!("Unrecognized request argument supplied: {k}"),
            ));
        }
    }
    for field in UNSUPPORTED {
        if let Some(value) = body.get(field)
            && !means_unused(field, value)
        {
            return Err(V1Error::unsupported(
                field,
                format!("`{field}` is not supported by this server"),
            ));
        }
    }
    if fields::whole_number(&body, "n", 1, 128)?.is_some_and(|n| n != 1) {
        return Err(V1Error::unsupported(
            "n",
            "only one choice (`n`: 1) is supported",
        ));
    }
    check_accepted(&body)?;

    let model = match body.remove("model") {
        Some(Value::String(m)) if !m.is_empty() => m,
        Some(other @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            return Err(fields::wrong_type("model", "a string", &other));
        }
        _ => return Err(V1Error::invalid("model", "`model` is required: a model id")),
    };
    let Some(model_config) = config.model(&model) else {
        return Err(V1Error::model_not_found(&fields::shortened(&model)));
    };
    let (system, history, question) = messages::messages(body.remove("messages"), config)?;
    let stream = fields::flag(&body, "stream")?;
    let include_usage = fields::include_usage(&body, stream)?;
    let options = GenerationOptions {
        temperature: fields::number(&body, "temperature", 0.0, 2.0)?,
        top_p: fields::number(&body, "top_p", 0.0, 1.0)?,
        stop: fields::stop(body.get("stop"))?,
        max_tokens: fields::max_tokens(&body, model_config.max_output_tokens)?,
    };
    Ok(ChatRequest {
        model,
        system,
        history,
        question,
        stream,
        include_usage,
        options,
    })
}

/// Whether `value` is the "not used" value of an unsupported field.
fn means_unused(field: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(false) => true,
        Value::Array(a) if a.is_empty() => true,
        Value::Array(a) if field == "modalities" => a.iter().all(|m| m == "text"),
        Value::Object(o) if o.is_empty() => true,
        Value::Object(o) if field == "response_format" => o.get("type") == Some(&"text".into()),
        Value::String(s) if matches!(field, "tool_choice" | "function_call") => s == "none",
        Value::Number(n) if matches!(field, "presence_penalty" | "frequency_penalty") => {
            n.as_f64() == Some(0.0)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
