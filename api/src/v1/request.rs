//! Reading a `POST /v1/chat/completions` body as OpenAI defines it. What this server does
//! (text chat: system / developer / user / assistant turns, streaming, usage, sampling, stop,
//! length) is read into `ChatRequest`; what it does not (`n > 1`, tools, audio, images,
//! response formats, ...) is refused naming the field, never ignored, since ignoring it would
//! change the answer. A field OpenAI does not define is refused as OpenAI refuses it.

use serde_json::{Map, Value};
use sluice_shared::{Config, job::GenerationOptions};

use super::error::V1Error;

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

/// Fields that change nothing about the answer, accepted as they are.
const ACCEPTED: [&str; 4] = ["user", "metadata", "store", "parallel_tool_calls"];

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

pub fn parse(body: Value, config: &Config) -> Result<ChatRequest, V1Error> {
    let Value::Object(mut body) = body else {
        return Err(V1Error::invalid(
            "",
            "the request body must be a JSON object",
        ));
    };
    let known = [
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
    ];
    for key in body.keys() {
        let k = key.as_str();
        if !(known.contains(&k) || ACCEPTED.contains(&k) || UNSUPPORTED.contains(&k)) {
            return Err(V1Error::invalid(
                k,
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
    match body.get("n") {
        None | Some(Value::Null) => {}
        Some(n) if n.as_u64() == Some(1) => {}
        Some(_) => {
            return Err(V1Error::unsupported(
                "n",
                "only one choice (`n`: 1) is supported",
            ));
        }
    }
    check_metadata(body.get("metadata"))?;

    let model = match body.remove("model") {
        Some(Value::String(m)) if !m.is_empty() => m,
        _ => return Err(V1Error::invalid("model", "`model` is required: a model id")),
    };
    let Some(model_config) = config.model(&model) else {
        return Err(V1Error::model_not_found(&model));
    };
    let (system, history, question) = messages(body.remove("messages"), config)?;
    let stream = flag(&body, "stream")?;
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => {
            if !stream {
                return Err(V1Error::invalid(
                    "stream_options",
                    "`stream_options` is only allowed when `stream` is true",
                ));
            }
            o.get("include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        }
        Some(_) => return Err(V1Error::invalid("stream_options", "must be an object")),
    };
    let max_tokens = max_tokens(&body, model_config.max_output_tokens)?;
    let options = GenerationOptions {
        temperature: number(&body, "temperature", 0.0, 2.0)?,
        top_p: number(&body, "top_p", 0.0, 1.0)?,
        stop: stop(body.get("stop"))?,
        max_tokens,
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

/// OpenAI's rule for `metadata`: up to 16 string values.
fn check_metadata(metadata: Option<&Value>) -> Result<(), V1Error> {
    match metadata {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.len() <= 16 && m.values().all(Value::is_string) => Ok(()),
        Some(_) => Err(V1Error::invalid(
            "metadata",
            "`metadata` must be an object of at most 16 string values",
        )),
    }
}

/// (system prompt, earlier turns, the question) from `messages`.
fn messages(
    messages: Option<Value>,
    config: &Config,
) -> Result<(String, Vec<Turn>, String), V1Error> {
    let Some(Value::Array(messages)) = messages else {
        return Err(V1Error::invalid(
            "messages",
            "`messages` is required: an array",
        ));
    };
    if messages.is_empty() {
        return Err(V1Error::invalid("messages", "`messages` must not be empty"));
    }
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        let Value::Object(mut message) = message else {
            return Err(V1Error::invalid(
                format!("messages[{i}]"),
                "must be an object",
            ));
        };
        for field in ["tool_calls", "function_call", "audio"] {
            if message.get(field).is_some_and(|v| !v.is_null()) {
                return Err(V1Error::unsupported(
                    &at(field),
                    format!("`{field}` is not supported"),
                ));
            }
        }
        let role = match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => "system",
            Some("user") => "user",
            Some("assistant") => "assistant",
            Some("tool" | "function") => {
                return Err(V1Error::unsupported(
                    &at("role"),
                    "tool messages are not supported",
                ));
            }
            Some(other) => {
                return Err(V1Error::invalid(
                    at("role"),
                    format!("`{other}` is not a role: system, developer, user or assistant"),
                ));
            }
            None => return Err(V1Error::invalid(at("role"), "`role` is required")),
        };
        let content = text(message.remove("content"), &at("content"))?;
        if content.chars().count() > config.max_message_chars {
            return Err(V1Error {
                status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                message: format!(
                    "a message is limited to {} characters",
                    config.max_message_chars
                ),
                param: Some(at("content")),
                code: Some("content_too_large".into()),
            });
        }
        match role {
            "system" => system.push(content),
            role => turns.push(Turn { role, content }),
        }
    }
    match turns.pop() {
        Some(Turn {
            role: "user",
            content,
        }) if !content.trim().is_empty() => Ok((system.join("\n\n"), turns, content)),
        Some(Turn { role: "user", .. }) => Err(V1Error::invalid(
            "messages",
            "the last message must have content",
        )),
        _ => Err(V1Error::invalid(
            "messages",
            "the last message must be the user's: it is what the answer replies to",
        )),
    }
}

/// A message's text: a string, or an array of `{"type": "text", "text"}` parts.
fn text(content: Option<Value>, at: &str) -> Result<String, V1Error> {
    match content {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => match part.get("text").and_then(Value::as_str) {
                        Some(t) => text.push_str(t),
                        None => {
                            return Err(V1Error::invalid(
                                format!("{at}[{j}].text"),
                                "a text part needs `text`",
                            ));
                        }
                    },
                    Some(other) => {
                        return Err(V1Error::unsupported(
                            &format!("{at}[{j}].type"),
                            format!(
                                "content parts of type `{other}` are not supported; only `text`"
                            ),
                        ));
                    }
                    None => {
                        return Err(V1Error::invalid(
                            format!("{at}[{j}].type"),
                            "`type` is required",
                        ));
                    }
                }
            }
            Ok(text)
        }
        Some(_) => Err(V1Error::invalid(
            at,
            "must be a string or an array of text parts",
        )),
    }
}

fn flag(body: &Map<String, Value>, field: &str) -> Result<bool, V1Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(V1Error::invalid(field, "must be true or false")),
    }
}

fn number(
    body: &Map<String, Value>,
    field: &str,
    min: f64,
    max: f64,
) -> Result<Option<f32>, V1Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n as f32)),
            _ => Err(V1Error::invalid(
                field,
                format!("must be a number from {min} to {max}"),
            )),
        },
    }
}

/// `max_completion_tokens` (or the older `max_tokens`), at most the model's own limit.
fn max_tokens(body: &Map<String, Value>, model_limit: u32) -> Result<Option<u32>, V1Error> {
    for field in ["max_completion_tokens", "max_tokens"] {
        match body.get(field) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return match v.as_u64() {
                    Some(n) if n >= 1 && n <= model_limit as u64 => Ok(Some(n as u32)),
                    _ => Err(V1Error::invalid(
                        field,
                        format!(
                            "must be a whole number from 1 to {model_limit} (this model's limit)"
                        ),
                    )),
                };
            }
        }
    }
    Ok(None)
}

/// `stop`: one string or up to 4.
fn stop(stop: Option<&Value>) -> Result<Vec<String>, V1Error> {
    let invalid = || V1Error::invalid("stop", "must be a string or an array of up to 4 strings");
    match stop {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if !s.is_empty() => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if items.len() <= 4 => items
            .iter()
            .map(|i| {
                i.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(invalid)
            })
            .collect(),
        Some(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> Config {
        Config::default()
    }

    fn error(body: Value) -> (u16, Option<String>) {
        let e = parse(body, &config()).unwrap_err();
        (e.status.as_u16(), e.param)
    }

    #[test]
    fn a_whole_chat_is_read_into_system_history_and_question() {
        let r = parse(
            json!({
                "model": "demo",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                    {"role": "assistant", "content": "Hello."},
                    {"role": "developer", "content": "No emoji."},
                    {"role": "user", "content": "And now?"}
                ],
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_completion_tokens": 100,
                "temperature": 0.5,
                "top_p": 0.9,
                "stop": "END",
                "user": "u-1",
                "metadata": {"app": "test"},
                "n": 1
            }),
            &config(),
        )
        .unwrap();
        assert_eq!(r.system, "Be brief.\n\nNo emoji.");
        assert_eq!(
            r.history,
            [
                Turn {
                    role: "user",
                    content: "Hi".into()
                },
                Turn {
                    role: "assistant",
                    content: "Hello.".into()
                }
            ]
        );
        assert_eq!(r.question, "And now?");
        assert!(r.stream && r.include_usage);
        assert_eq!(
            r.options,
            GenerationOptions {
                temperature: Some(0.5),
                top_p: Some(0.9),
                stop: vec!["END".into()],
                max_tokens: Some(100),
            }
        );
    }

    #[test]
    fn what_the_server_cannot_do_is_refused_naming_the_field() {
        let base = |extra: Value| {
            let mut b = json!({"model": "demo", "messages": [{"role": "user", "content": "x"}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b
        };
        let cases = [
            (json!({"n": 2}), 400, "n"),
            (json!({"tools": [{"type": "function"}]}), 400, "tools"),
            (json!({"modalities": ["text", "audio"]}), 400, "modalities"),
            (json!({"seed": 7}), 400, "seed"),
            (json!({"frobnicate": true}), 400, "frobnicate"),
            (json!({"temperature": 3}), 400, "temperature"),
            (json!({"max_tokens": 0}), 400, "max_tokens"),
            (json!({"max_tokens": 5000}), 400, "max_tokens"),
            (json!({"stop": ["a", "b", "c", "d", "e"]}), 400, "stop"),
            (
                json!({"stream_options": {"include_usage": true}}),
                400,
                "stream_options",
            ),
            (json!({"model": "gpt-9"}), 404, "model"),
        ];
        for (extra, status, param) in cases {
            assert_eq!(
                error(base(extra.clone())),
                (status, Some(param.into())),
                "{extra}"
            );
        }
        // The values that mean "not used" are fine.
        let fine = json!({"tools": [], "modalities": ["text"], "n": 1, "presence_penalty": 0,
                          "response_format": {"type": "text"}, "logprobs": false});
        assert!(parse(base(fine), &config()).is_ok());
    }

    #[test]
    fn bad_messages_are_refused_naming_the_message() {
        let cases = [
            (json!([]), "messages"),
            (
                json!([{"role": "wizard", "content": "x"}]),
                "messages[0].role",
            ),
            (
                json!([{"role": "tool", "content": "x"}]),
                "messages[0].role",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url"}]}]),
                "messages[0].content[0].type",
            ),
            (
                json!([{"role": "user", "content": 5}]),
                "messages[0].content",
            ),
            (
                json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]),
                "messages",
            ),
        ];
        for (messages, param) in cases {
            let body = json!({"model": "demo", "messages": messages});
            assert_eq!(error(body).1, Some(param.into()), "{messages}");
        }
        let long = "x".repeat(config().max_message_chars + 1);
        let body = json!({"model": "demo", "messages": [{"role": "user", "content": long}]});
        assert_eq!(error(body), (413, Some("messages[0].content".into())));
    }
}
