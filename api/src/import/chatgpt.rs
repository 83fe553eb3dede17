//! ChatGPT's data export (`conversations.json`, or several `conversations-NNN.json` in the zip):
//! each conversation is a tree of messages (`mapping`: node id → `{message, parent,
//! children}`); what the user last saw is the branch from `current_node` back to the root.
//! That branch becomes a Sluice conversation: questions and answers in order, the other
//! branches (earlier edits and regenerations) left behind. Messages may lack `metadata`,
//! `create_time` or `content.parts`: what is missing is filled from around it, never refused.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use sluice_shared::{dto::MessageOut, message_status::MessageStatus};
use uuid::Uuid;

use crate::export::document::{ConversationDoc, ConversationMeta, FORMAT, VERSION};

/// Whether `record` looks like a ChatGPT conversation.
pub fn is_chatgpt(record: &Value) -> bool {
    record.get("mapping").is_some()
}

/// One ChatGPT conversation as a Sluice document on `model` (ChatGPT's models are not this
/// server's; each answer keeps the model that wrote it). `Err` says what is wrong with it.
pub fn convert(record: &Value, model: &str) -> Result<ConversationDoc, String> {
    let mapping = record
        .get("mapping")
        .and_then(Value::as_object)
        .ok_or("`mapping` is not an object")?;
    let created = time(record.get("create_time")).unwrap_or_else(Utc::now);
    let updated = time(record.get("update_time")).unwrap_or(created);
    let current = match record.get("current_node").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => last_leaf(mapping).ok_or("`mapping` has no messages")?,
    };
    // From the current node back to the root, guarding against a parent loop.
    let mut branch = Vec::new();
    let mut at = Some(current);
    while let Some(id) = at {
        if branch.len() > mapping.len() {
            return Err("`mapping` loops: a node is its own ancestor".into());
        }
        let node = mapping
            .get(&id)
            .ok_or_else(|| format!("node {id:?} is named but not in `mapping`"))?;
        branch.push(node);
        at = node
            .get("parent")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    branch.reverse();

    let mut messages: Vec<MessageOut> = Vec::new();
    let mut last_time = created;
    let mut last_question: Option<Uuid> = None;
    for node in branch {
        let Some(message) = node.get("message").filter(|m| m.is_object()) else {
            continue;
        };
        let Some((role, text)) = readable(message) else {
            continue;
        };
        let at = time(message.get("create_time"))
            .unwrap_or(last_time)
            .max(last_time);
        last_time = at;
        let metadata = message.get("metadata");
        // Consecutive messages of one side (an answer written in steps around a tool call)
        // read as one.
        if let Some(previous) = messages.last_mut().filter(|m| m.role == role) {
            previous.content.push_str("\n\n");
            previous.content.push_str(&text);
            previous.completed_at = previous.completed_at.map(|_| at);
            continue;
        }
        let id = Uuid::now_v7();
        let question = role == "user";
        messages.push(MessageOut {
            id,
            conversation_id: Uuid::nil(),
            role: role.to_string(),
            content: text,
            status: if question {
                MessageStatus::Complete
            } else {
                MessageStatus::Done
            },
            model: (!question).then(|| {
                metadata
                    .and_then(|m| m.get("model_slug"))
                    .and_then(Value::as_str)
                    .or_else(|| record.get("default_model_slug").and_then(Value::as_str))
                    .unwrap_or("chatgpt")
                    .to_string()
            }),
            provider: None,
            attempt: if question { 0 } else { 1 },
            finish_reason: (!question)
                .then(|| {
                    metadata
                        .and_then(|m| m.pointer("/finish_details/type"))
                        .and_then(Value::as_str)
                        .map(|t| if t == "max_tokens" { "length" } else { "stop" }.to_string())
                })
                .flatten(),
            usage: None,
            latency_ms: None,
            ttft_ms: None,
            error_code: None,
            created_at: at,
            completed_at: (!question).then_some(at),
            reply_to: if question { None } else { last_question },
            edit_of: None,
            superseded: false,
            usage_estimated: false,
            cost_usd: None,
            attachments: Vec::new(),
        });
        if question {
            last_question = Some(id);
        }
    }
    let title = record
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(ConversationDoc {
        format: FORMAT.into(),
        version: VERSION,
        conversation: ConversationMeta {
            id: Uuid::now_v7(),
            title,
            model: model.to_string(),
            system_prompt: None,
            folder: None,
            favorite: record
                .get("is_starred")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            created_at: created,
            updated_at: updated.max(last_time),
        },
        messages,
    })
}

/// A message's side and text, if it is one a person reads: the user's or the assistant's
/// text, not a system prompt, a tool's output, code the model ran, or a hidden message.
fn readable(message: &Value) -> Option<(&'static str, String)> {
    let role = match message.pointer("/author/role").and_then(Value::as_str)? {
        "user" => "user",
        "assistant" => "assistant",
        _ => return None,
    };
    let hidden = message
        .pointer("/metadata/is_visually_hidden_from_conversation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if hidden {
        return None;
    }
    let content = message.get("content")?;
    let kind = content.get("content_type").and_then(Value::as_str);
    if !matches!(kind, Some("text" | "multimodal_text") | None) {
        return None;
    }
    // Text parts are strings; images and files are objects, left out.
    let text = match content.get("parts") {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        _ => content.get("text").and_then(Value::as_str)?.to_string(),
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some((role, text))
}

/// ChatGPT's times are seconds since 1970 as floats (or null).
fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let seconds = value?.as_f64()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let millis = (seconds * 1000.0).round() as i64;
    Utc.timestamp_millis_opt(millis).single()
}

/// Without `current_node`: the leaf written last.
fn last_leaf(mapping: &serde_json::Map<String, Value>) -> Option<String> {
    mapping
        .iter()
        .filter(|(_, node)| {
            node.get("children")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        })
        .max_by(|(_, a), (_, b)| {
            let at = |n: &Value| n.pointer("/message/create_time").and_then(Value::as_f64);
            at(a)
                .partial_cmp(&at(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(id, _)| id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_current_branch_is_kept_and_the_rest_left() {
        let record = json!({
            "title": "Trip",
            "create_time": 1700000000.5,
            "current_node": "a2",
            "mapping": {
                "root": {"id": "root", "message": null, "parent": null, "children": ["sys"]},
                "sys": {"id": "sys", "parent": "root", "children": ["q1"], "message": {
                    "author": {"role": "system"}, "content": {"content_type": "text", "parts": [""]}}},
                "q1": {"id": "q1", "parent": "sys", "children": ["a1", "a2"], "message": {
                    "author": {"role": "user"}, "create_time": 1700000001.0,
                    "content": {"content_type": "text", "parts": ["Where to?"]}}},
                "a1": {"id": "a1", "parent": "q1", "children": [], "message": {
                    "author": {"role": "assistant"}, "create_time": 1700000002.0,
                    "content": {"content_type": "text", "parts": ["Rome (old)"]}}},
                "a2": {"id": "a2", "parent": "q1", "children": [], "message": {
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["Rome"]}}}
            }
        });
        let doc = convert(&record, "demo").unwrap();
        let texts: Vec<&str> = doc.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["Where to?", "Rome"]);
        assert_eq!(doc.messages[1].reply_to, Some(doc.messages[0].id));
        // No create_time: the time before it.
        assert_eq!(doc.messages[1].created_at, doc.messages[0].created_at);
        assert_eq!(doc.conversation.title.as_deref(), Some("Trip"));
    }
}
