//! Sluice's own export (`sluice.conversation` documents, alone or in an account zip), read
//! back, and the checks every document passes before it is stored — whichever format it came
//! from: the messages must be a conversation this server could have written.

use std::collections::HashSet;

use serde_json::Value;
use sluice_shared::{dto::MessageOut, message_status::MessageStatus};

use crate::export::document::{ConversationDoc, ConversationMeta, FORMAT, VERSION};

/// Whether `record` says it is a Sluice conversation document.
pub fn is_sluice(record: &Value) -> bool {
    record.get("format").and_then(Value::as_str) == Some(FORMAT)
}

/// A `sluice.conversation` document; `Err` names the field or message that is wrong.
pub fn read(record: Value) -> Result<ConversationDoc, String> {
    let version = record.get("version").and_then(Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(format!(
            "version {} is not one this server reads (it reads {VERSION})",
            record.get("version").unwrap_or(&Value::Null)
        ));
    }
    let Value::Object(mut fields) = record else {
        return Err("not an object".into());
    };
    let conversation: ConversationMeta =
        serde_json::from_value(fields.remove("conversation").unwrap_or(Value::Null))
            .map_err(|e| format!("`conversation`: {e}"))?;
    let Some(Value::Array(items)) = fields.remove("messages") else {
        return Err("`messages` is not a list".into());
    };
    let messages = items
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::from_value::<MessageOut>(m).map_err(|e| format!("message {}: {e}", i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ConversationDoc {
        format: FORMAT.into(),
        version: VERSION,
        conversation,
        messages,
    })
}

/// A time Postgres stores as it was written (and an export could hold).
fn plausible(t: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike;
    (1970..=9999).contains(&t.year())
}

/// Whether `doc` can be stored as it is; `Err` names the first message that cannot.
pub fn check(doc: &ConversationDoc) -> Result<(), String> {
    let c = &doc.conversation;
    if c.model.trim().is_empty() {
        return Err("`conversation.model` is empty".into());
    }
    if !plausible(c.created_at) || !plausible(c.updated_at) {
        return Err("a time of the conversation is not between the years 1970 and 9999".into());
    }
    for (field, text) in [
        ("title", c.title.as_deref()),
        ("model", Some(c.model.as_str())),
        ("system_prompt", c.system_prompt.as_deref()),
        ("folder", c.folder.as_deref()),
    ] {
        if text.is_some_and(|t| t.contains('\0')) {
            return Err(format!("`conversation.{field}` holds a NUL character"));
        }
    }
    let mut before = HashSet::new();
    for (i, m) in doc.messages.iter().enumerate() {
        let which = format!("message {} ({})", i + 1, m.id);
        let question = match m.role.as_str() {
            "user" => true,
            "assistant" => false,
            other => {
                return Err(format!(
                    "{which}: role {other:?} is neither user nor assistant"
                ));
            }
        };
        if question != (m.status == MessageStatus::Complete) {
            return Err(format!(
                "{which}: a {} cannot have status {}",
                if question { "question" } else { "answer" },
                m.status.as_str()
            ));
        }
        let texts = [
            Some(&m.content),
            m.model.as_ref(),
            m.provider.as_ref(),
            m.finish_reason.as_ref(),
            m.error_code.as_ref(),
        ];
        if texts.into_iter().flatten().any(|t| t.contains('\0')) {
            return Err(format!("{which}: holds a NUL character"));
        }
        // `numeric(12, 6)` holds less than a million.
        if m.cost_usd.is_some_and(|c| !(0.0..999_999.0).contains(&c)) {
            return Err(format!("{which}: `cost_usd` is not between 0 and 999,999"));
        }
        let times = [Some(m.created_at), m.completed_at];
        if times.into_iter().flatten().any(|t| !plausible(t)) {
            return Err(format!(
                "{which}: a time is not between the years 1970 and 9999"
            ));
        }
        let counts = [m.attempt, m.latency_ms.unwrap_or(0), m.ttft_ms.unwrap_or(0)];
        let usage = m.usage.as_ref();
        let tokens = usage.map_or(0, |u| u.input_tokens.max(u.output_tokens));
        if counts.iter().any(|n| *n < 0) || tokens > i32::MAX as u32 {
            return Err(format!("{which}: a count is negative or too large"));
        }
        for (field, earlier) in [("reply_to", m.reply_to), ("edit_of", m.edit_of)] {
            if let Some(id) = earlier.filter(|id| !before.contains(id)) {
                return Err(format!(
                    "{which}: `{field}` names {id}, which is not a message before it"
                ));
            }
        }
        if !before.insert(m.id) {
            return Err(format!("{which}: the id is used twice"));
        }
    }
    Ok(())
}
