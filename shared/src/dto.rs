//! Request and response bodies of the HTTP API (the CLI uses these too).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{events::Usage, message_status::MessageStatus};

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub display_name: String,
    /// Set by password sign-up or a verified address from GitHub/Google.
    pub email: Option<String>,
    pub is_guest: bool,
    /// Signs in with a password (which changing it, or deleting the account, asks for).
    #[serde(default)]
    pub has_password: bool,
    /// Role names (`user`, `admin`); informational — the server checks permissions itself.
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// What every sign-in endpoint answers.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokensOut {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: UserOut,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationIn {
    /// Without control characters, invisible spaces or marks that reorder text.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    pub title: Option<String>,
    pub model: Option<String>,
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
}

/// `PATCH /api/conversations/{id}`: only the fields sent change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Without control characters, invisible spaces or marks that reorder text.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `""` clears it: the server's default system prompt applies again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 20000)]
    pub system_prompt: Option<String>,
    /// Puts it in one of the caller's folders (`GET /api/groups`), out of the one it was in;
    /// `null` takes it out of any.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub group_id: Option<Option<Uuid>>,
    /// Starred: listed among the favorites, above the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favorite: Option<bool>,
}

/// A field that may be sent as `null`: `Some(None)` then, and `None` (by `default`) when it is
/// not sent at all.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ConversationOut {
    pub id: Uuid,
    pub title: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
    /// The folder it is in, if any.
    #[serde(default)]
    pub group_id: Option<Uuid>,
    /// Starred.
    #[serde(default)]
    pub favorite: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A folder of conversations.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct GroupOut {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// How many of the owner's conversations it holds.
    pub conversations: i64,
}

/// An uploaded file (`POST /api/files`), and a question's attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FileOut {
    pub id: Uuid,
    /// The name it was uploaded with (no folders).
    pub name: String,
    /// What its content is (sniffed, not taken from the name or the upload).
    pub content_type: String,
    pub bytes: i64,
    pub created_at: DateTime<Utc>,
    /// The question it was sent with; `null` until sent.
    pub message_id: Option<Uuid>,
    /// For text and PDFs: the characters of text a prompt can read (all of them, though a
    /// model with a small context is given what fits, and told it was cut).
    pub text_chars: Option<i64>,
}

/// One page of a list; pass `next_cursor` back as `?cursor=` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub content: String,
    pub model: Option<String>,
    /// Files to send with it (ids from `POST /api/files`; at most `[files] max_per_message`,
    /// 10 by default). Each is sent once.
    #[serde(default)]
    pub attachments: Vec<Uuid>,
}

/// `POST /api/chat`: send a message and stream the answer in one request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatIn {
    /// Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub message: String,
    pub conversation_id: Option<Uuid>,
    pub model: Option<String>,
    /// Files to send with it, as `MessageIn::attachments`.
    #[serde(default)]
    pub attachments: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageOut {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    /// `complete` for user messages; `queued | streaming | done | error | cancelled` for answers.
    pub status: MessageStatus,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub attempt: i32,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub latency_ms: Option<i32>,
    pub ttft_ms: Option<i32>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// For answers: the user message answered (several answers after regenerate).
    #[serde(default)]
    pub reply_to: Option<Uuid>,
    /// For an edited question: the question it replaced (`POST /api/messages/{id}/edit`).
    #[serde(default)]
    pub edit_of: Option<Uuid>,
    /// Replaced: a newer answer to the same question (regenerate), or an edit of this question
    /// or of one before it. It stays readable but is no longer in the prompt.
    #[serde(default)]
    pub superseded: bool,
    /// The provider reported no usage: `usage` is Sluice's estimate.
    #[serde(default)]
    pub usage_estimated: bool,
    /// What the answer cost, from the model's price in config (US dollars).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// A question's files (`attachments` of the send), oldest first; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<FileOut>,
}

/// `202` answer of `POST /api/messages/{id}/regenerate`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegeneratedOut {
    pub assistant_message: MessageOut,
    pub stream_url: String,
}

/// `202` answer of `POST /api/conversations/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SentOut {
    pub user_message: MessageOut,
    pub assistant_message: MessageOut,
    pub stream_url: String,
}

/// `POST /api/auth/device/code` (RFC 8628 §3.2).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceCodeOut {
    pub device_code: String,
    /// As shown to the user: `WDJB-MJHT`.
    pub user_code: String,
    pub verification_uri: String,
    /// The same page with the code filled in (for a link or QR code).
    pub verification_uri_complete: String,
    pub expires_in: u64,
    /// Seconds to wait between polls of the token endpoint.
    pub interval: u32,
}

/// The grant type a device polls the token endpoint with.
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
