//! What happens to a user's conversations and folders, as the API publishes it on core NATS
//! (`{prefix}.account.{user}`) and relays it on `GET /api/events`: every open tab and device of
//! theirs hears at once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::dto::{ConversationOut, GroupOut};

/// One change to a user's conversations: the SSE `event` is its `type`, `data` this JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountEvent {
    /// A conversation was started (by the web app, the CLI, `POST /api/chat`…).
    ConversationCreated { conversation: ConversationOut },
    /// Its title, model or system prompt changed.
    ConversationUpdated { conversation: ConversationOut },
    /// It is gone, with its messages; its unfinished answers were stopped.
    ConversationDeleted { conversation_id: Uuid },
    /// A folder was made.
    GroupCreated { group: GroupOut },
    /// A folder was renamed.
    GroupUpdated { group: GroupOut },
    /// A folder was deleted; the conversations it held are in none now.
    GroupDeleted { group_id: Uuid },
    /// Conversations (and maybe folders) were imported: lists are worth reading again.
    Imported { conversations: u64 },
}

impl AccountEvent {
    /// The SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConversationCreated { .. } => "conversation_created",
            Self::ConversationUpdated { .. } => "conversation_updated",
            Self::ConversationDeleted { .. } => "conversation_deleted",
            Self::GroupCreated { .. } => "group_created",
            Self::GroupUpdated { .. } => "group_updated",
            Self::GroupDeleted { .. } => "group_deleted",
            Self::Imported { .. } => "imported",
        }
    }
}
