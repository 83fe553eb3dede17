//! A ChatGPT data export's conversations, shaped as its export writes them, for the import
//! tests.

use serde_json::{Value, json};

/// A ChatGPT message node.
pub fn node(id: &str, parent: Option<&str>, children: &[&str], message: Value) -> (String, Value) {
    let mut message = message;
    if message.is_object() {
        message["id"] = json!(id);
    }
    (
        id.to_string(),
        json!({ "id": id, "parent": parent, "children": children, "message": message }),
    )
}

pub fn said(role: &str, text: &str, at: Option<f64>) -> Value {
    json!({ "author": { "role": role }, "create_time": at,
            "content": { "content_type": "text", "parts": [text] } })
}

/// A ChatGPT conversation the way its export writes one: a root without a message, a hidden
/// system message, a question answered twice (regenerated: the first answer is another
/// branch), an answer written around a tool call, a message without metadata or time, and
/// an image part among text.
pub fn chatgpt_conversation(title: &str, start: f64) -> Value {
    let mut hidden = said("system", "", Some(start));
    hidden["metadata"] = json!({ "is_visually_hidden_from_conversation": true });
    let mut answer = said("assistant", "Rome, in spring.", Some(start + 3.0));
    answer["metadata"] = json!({ "model_slug": "gpt-4o", "finish_details": { "type": "stop" } });
    let tool = json!({ "author": { "role": "tool", "name": "browser" }, "create_time": start + 5.0,
                       "content": { "content_type": "text", "parts": ["search results"] } });
    let code = json!({ "author": { "role": "assistant" }, "create_time": start + 4.5,
                       "content": { "content_type": "code", "text": "search('rome flights')" } });
    let mut with_image = said("user", "", Some(start + 6.0));
    with_image["content"] = json!({ "content_type": "multimodal_text",
        "parts": [{ "content_type": "image_asset_pointer", "asset_pointer": "file-service://x" }, "And this photo?"] });
    let mapping: serde_json::Map<String, Value> = [
        node("root", None, &["sys"], Value::Null),
        node("sys", Some("root"), &["q1"], hidden),
        node(
            "q1",
            Some("sys"),
            &["a-old", "a1"],
            said("user", "Where should I travel?", Some(start + 1.0)),
        ),
        node(
            "a-old",
            Some("q1"),
            &[],
            said("assistant", "Paris (an answer replaced)", Some(start + 2.0)),
        ),
        node("a1", Some("q1"), &["c1"], answer),
        node("c1", Some("a1"), &["t1"], code),
        node("t1", Some("c1"), &["a2"], tool),
        // No metadata, no time.
        node(
            "a2",
            Some("t1"),
            &["q2"],
            said("assistant", "Flights are cheap in April.", None),
        ),
        node("q2", Some("a2"), &["a3"], with_image),
        node(
            "a3",
            Some("q2"),
            &[],
            said("assistant", "A lovely photo.", Some(start + 7.0)),
        ),
    ]
    .into_iter()
    .collect();
    json!({ "title": title, "create_time": start, "update_time": start + 7.0,
            "mapping": mapping, "current_node": "a3", "conversation_id": "c-1",
            "default_model_slug": "gpt-4o" })
}
