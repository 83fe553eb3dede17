//! A conversation as an export document: the conversation (its folder by name, so another
//! account can take it), and every message oldest first, as the API shows them. The JSON a
//! conversation export answers and each file of an account export.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sluice_shared::dto::MessageOut;
use sqlx::PgPool;
use uuid::Uuid;

use crate::messages::store as messages;

/// What a conversation export's `format` says.
pub const FORMAT: &str = "sluice.conversation";
pub const VERSION: u32 = 1;
/// Messages read per query while loading a conversation.
const PAGE: i64 = 500;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationDoc {
    /// `sluice.conversation`.
    pub format: String,
    /// 1.
    pub version: u32,
    pub conversation: ConversationMeta,
    /// Oldest first.
    pub messages: Vec<MessageOut>,
}

#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ConversationMeta {
    pub id: Uuid,
    pub title: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
    /// The name of the folder it is in.
    pub folder: Option<String>,
    pub favorite: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `owner`'s conversation `id` as a document; `None` if they have no such conversation.
pub async fn load(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<Option<ConversationDoc>> {
    let meta: Option<ConversationMeta> = sqlx::query_as(
        "SELECT c.id, c.title, c.model, c.system_prompt, g.name AS folder, c.favorite,
                c.created_at, c.updated_at
         FROM conversations c LEFT JOIN groups g ON g.id = c.group_id
         WHERE c.id = $1 AND c.user_id = $2",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    let Some(conversation) = meta else {
        return Ok(None);
    };
    let mut all: Vec<MessageOut> = Vec::new();
    loop {
        let after = all.last().map(|m| (m.created_at, m.id));
        let page = messages::page(pool, owner, id, after, PAGE, false).await?;
        let full = page.len() as i64 == PAGE;
        all.extend(page.into_iter().map(MessageOut::from));
        if !full {
            break;
        }
    }
    Ok(Some(ConversationDoc {
        format: FORMAT.into(),
        version: VERSION,
        conversation,
        messages: all,
    }))
}

impl ConversationDoc {
    /// The conversation as Markdown: its title, then each message under who wrote it (answers
    /// that did not end done say how they ended; replaced ones are left out, as in the app).
    pub fn markdown(&self) -> String {
        let c = &self.conversation;
        let mut out = format!(
            "# {}\n\n_{} · model {} · {}_\n\n",
            c.title.as_deref().unwrap_or("Untitled conversation"),
            c.id,
            c.model,
            c.created_at.format("%Y-%m-%d %H:%M UTC")
        );
        for m in self.messages.iter().filter(|m| !m.superseded) {
            let who = if m.role == "user" { "You" } else { "Assistant" };
            let note = match m.status.as_str() {
                "complete" | "done" => String::new(),
                other => format!(" _({other})_"),
            };
            out.push_str(&format!("**{who}**{note}\n\n{}\n\n", m.content.trim_end()));
            if !m.attachments.is_empty() {
                let names: Vec<&str> = m.attachments.iter().map(|f| f.name.as_str()).collect();
                out.push_str(&format!("_Attached: {}_\n\n", names.join(", ")));
            }
        }
        out
    }
}
