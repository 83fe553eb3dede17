//! `messages`: system and developer turns become the system prompt; user and assistant turns
//! the history; the last turn, the user's, the question.

use serde_json::Value;
use sluice_shared::Config;

use super::{Turn, fields};
use crate::{v1::error::V1Error, validate::MAX_SYSTEM_PROMPT_CHARS};

/// Between the system and developer messages, in the one system prompt they become.
const SYSTEM_JOINER: &str = "\n\n";

/// (system prompt, earlier turns, the question) from `messages`.
pub fn messages(
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
    let mut system_chars = 0;
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
                    format!(
                        "`{}` is not a role: system, developer, user or assistant",
                        fields::shortened(other)
                    ),
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
            "system" => {
                // Stored joined as the conversation's system prompt, which has the same cap
                // as one set by `PATCH /api/conversations/{id}`.
                let joiner = if system.is_empty() {
                    0
                } else {
                    SYSTEM_JOINER.len()
                };
                system_chars += joiner + content.chars().count();
                system.push(content);
                if system_chars > MAX_SYSTEM_PROMPT_CHARS {
                    return Err(V1Error::invalid(
                        at("content"),
                        format!(
                            "system and developer messages are limited to \
                             {MAX_SYSTEM_PROMPT_CHARS} characters in all"
                        ),
                    )
                    .with_code("string_above_max_length"));
                }
            }
            role => turns.push(Turn { role, content }),
        }
    }
    match turns.pop() {
        Some(Turn {
            role: "user",
            content,
        }) if !content.trim().is_empty() => Ok((system.join(SYSTEM_JOINER), turns, content)),
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
                                "content parts of type `{}` are not supported; only `text`",
                                fields::shortened(other)
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
