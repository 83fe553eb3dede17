//! Message rows, always read with the owner's id.

use chrono::{DateTime, Utc};
use sluice_shared::{
    dto::{FileOut, MessageOut},
    events::{Ending, Usage},
    message_status::MessageStatus,
};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub attempt: i32,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub finish_reason: Option<String>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub latency_ms: Option<i32>,
    pub ttft_ms: Option<i32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The error may pass (see `StreamEvent::Error::retryable`).
    pub error_retryable: bool,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// For answers: the user message answered.
    pub reply_to: Option<Uuid>,
    /// For an edited question: the question it replaced.
    pub edit_of: Option<Uuid>,
    /// Replaced by a newer answer (regenerate) or by an edit (see `MessageOut::superseded`).
    pub superseded: bool,
    /// The provider sent no usage: the counts are Sluice's estimate.
    pub usage_estimated: bool,
    pub cost_usd: Option<f64>,
    /// A question's files (see `message_columns!`).
    pub attachments: sqlx::types::Json<Vec<FileOut>>,
}

impl MessageRow {
    /// How a finished answer ended: what its terminal event says. `None` while it is written
    /// (queued or streaming).
    pub fn ending(&self) -> Option<Ending> {
        Some(match self.status {
            MessageStatus::Queued | MessageStatus::Streaming => return None,
            MessageStatus::Cancelled => Ending::Cancelled,
            MessageStatus::Error => Ending::Error {
                code: self
                    .error_code
                    .clone()
                    .unwrap_or_else(|| "upstream_error".into()),
                message: self
                    .error_message
                    .clone()
                    .unwrap_or_else(|| "the answer failed".into()),
                retryable: self.error_retryable,
            },
            // A user's message (`complete`) is never streamed; if asked, it simply ended.
            MessageStatus::Done | MessageStatus::Complete => Ending::Done {
                finish_reason: self.finish_reason.clone().unwrap_or_else(|| "stop".into()),
                usage: self.usage().unwrap_or_default(),
            },
        })
    }

    /// The stream sequence a replay of this answer starts at: at or before its first event.
    pub fn replay_start(&self) -> u64 {
        self.first_seq.unwrap_or(1).max(1) as u64
    }

    pub fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: self.input_tokens? as u32,
            output_tokens: self.output_tokens? as u32,
        })
    }
}

impl From<MessageRow> for MessageOut {
    fn from(r: MessageRow) -> Self {
        let usage = r.usage();
        Self {
            id: r.id,
            conversation_id: r.conversation_id,
            role: r.role,
            content: r.content,
            status: r.status,
            model: r.model,
            provider: r.provider,
            attempt: r.attempt,
            finish_reason: r.finish_reason,
            usage,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            error_code: r.error_code,
            created_at: r.created_at,
            completed_at: r.completed_at,
            reply_to: r.reply_to,
            edit_of: r.edit_of,
            superseded: r.superseded,
            usage_estimated: r.usage_estimated,
            cost_usd: r.cost_usd,
            attachments: r.attachments.0,
        }
    }
}

/// Every column a row type reads, as a literal so queries stay `&'static str`.
macro_rules! message_columns {
    () => {
        "id, conversation_id, role, content, status, model, provider, attempt, first_seq,
    last_seq, finish_reason, input_tokens, output_tokens, latency_ms, ttft_ms, error_code,
    error_message, error_retryable, created_at, completed_at, reply_to, edit_of, superseded_at IS NOT NULL AS superseded,
    usage_estimated, cost_usd::float8 AS cost_usd,
    CASE WHEN role = 'user' THEN
        (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', f.id, 'name', f.name,
                    'content_type', f.content_type, 'bytes', f.bytes, 'created_at', f.created_at,
                    'message_id', f.message_id, 'text_chars', f.text_chars)
                ORDER BY f.created_at, f.id), '[]')
         FROM files f WHERE f.message_id = messages.id)
    ELSE '[]' END AS attachments"
    };
}
pub(crate) use message_columns;

pub async fn find(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

/// Oldest first; `after` is the (created_at, id) of the previous page's last row.
pub async fn page(
    pool: &PgPool,
    owner: Uuid,
    conversation_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    newest_first: bool,
) -> sqlx::Result<Vec<MessageRow>> {
    let (at, id) = after.unzip();
    let query = if newest_first {
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages
             WHERE conversation_id = $1 AND user_id = $2
               AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
             ORDER BY created_at DESC, id DESC LIMIT $5"
        )
    } else {
        concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages
             WHERE conversation_id = $1 AND user_id = $2
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5"
        )
    };
    sqlx::query_as(query)
        .bind(conversation_id)
        .bind(owner)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Answers of a conversation still being generated, or finished in the last few seconds (so a
/// tab that opens just as one ends still gets all of it).
pub async fn in_flight(
    pool: &PgPool,
    conversation_id: Uuid,
    after: Option<u64>,
) -> sqlx::Result<Vec<MessageRow>> {
    // Under way, just finished, or ended after the client's Last-Event-ID (it missed the end).
    let after = after.map_or(i64::MAX, |a| a.min(i64::MAX as u64) as i64);
    sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages
         WHERE conversation_id = $1 AND role = 'assistant'
           AND (status IN ('queued', 'streaming')
                OR completed_at > now() - interval '10 seconds'
                OR last_seq > $2)"
    ))
    .bind(conversation_id)
    .bind(after)
    .fetch_all(pool)
    .await
}

/// What a cancel request found.
pub enum CancelOutcome {
    /// Never started: cancelled here; the API publishes the `cancelled` event itself.
    CancelledWhileQueued { conversation_id: Uuid, attempt: i32 },
    /// A worker is on it: it was asked (flag + control message) to stop.
    Requested,
    /// It had already ended with this status.
    AlreadyFinished { status: MessageStatus },
}

pub async fn request_cancel(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<CancelOutcome>> {
    let found: Option<(MessageStatus, Uuid, i32)> = sqlx::query_as(
        // The row lock makes `old.status` the latest, even when a worker claims concurrently.
        "WITH old AS (
             SELECT id, status FROM messages
             WHERE id = $1 AND user_id = $2 AND role = 'assistant' FOR UPDATE)
         UPDATE messages m
         SET cancel_requested = true,
             status = CASE WHEN old.status = 'queued' THEN 'cancelled' ELSE old.status END,
             completed_at = CASE WHEN old.status = 'queued' THEN now() ELSE m.completed_at END
         FROM old WHERE m.id = old.id
         RETURNING old.status, m.conversation_id, m.attempt",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|(old, conversation_id, attempt)| match old {
        MessageStatus::Queued => CancelOutcome::CancelledWhileQueued {
            conversation_id,
            attempt,
        },
        MessageStatus::Streaming => CancelOutcome::Requested,
        _ => CancelOutcome::AlreadyFinished { status: old },
    }))
}

/// A message by id alone, for a stream whose owner was already checked.
pub async fn reload(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Remembers where the answer's events end (its terminal event's sequence).
/// The first sequence recorded wins: every writer records the same terminal event's.
pub async fn set_last_seq(pool: &PgPool, id: Uuid, seq: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET last_seq = $2 WHERE id = $1 AND last_seq IS NULL")
        .bind(id)
        .bind(seq as i64)
        .execute(pool)
        .await?;
    Ok(())
}

/// An answer still queued or being written when its conversation (or its user) was deleted:
/// what it takes to stop it (`messages::stop_deleted`).
#[derive(Debug, sqlx::FromRow)]
pub struct Unfinished {
    pub conversation_id: Uuid,
    pub id: Uuid,
    pub attempt: i32,
}

/// Every answer of `user_id`'s still queued or being written.
pub async fn unfinished_of_user(
    db: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<Unfinished>> {
    sqlx::query_as(
        "SELECT conversation_id, id, attempt FROM messages
         WHERE user_id = $1 AND status IN ('queued', 'streaming')",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
