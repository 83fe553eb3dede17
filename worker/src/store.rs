//! The assistant message row as the worker sees it. Every write is guarded by the attempt
//! that made it, so a stale attempt (a worker presumed dead that wakes up) changes nothing.

use sqlx::PgPool;
use uuid::Uuid;

use sluice_shared::events::Usage;

/// What a worker needs to know once it owns an attempt.
#[derive(Debug, sqlx::FromRow)]
pub struct Claim {
    pub attempt: i32,
    pub cancel_requested: bool,
    pub system_prompt: Option<String>,
    /// The conversation before this answer, newest first (see `prompt::fit`): the roles and
    /// contents of user messages and finished answers.
    pub history_roles: Vec<String>,
    pub history_contents: Vec<String>,
}

/// Turns of history read with the claim; older ones would not fit any context window.
pub const HISTORY_LIMIT: i64 = 500;

/// Takes the next attempt of a queued or interrupted answer and reads what its prompt needs,
/// in one statement. `None`: the message is already finished (a retried job after success, or
/// cancelled while queued), so there is nothing to do.
pub async fn claim(pool: &PgPool, message_id: Uuid) -> sqlx::Result<Option<Claim>> {
    sqlx::query_as(
        "WITH claimed AS (
             UPDATE messages m
             SET attempt = m.attempt + 1, status = 'streaming',
                 started_at = COALESCE(m.started_at, now())
             FROM conversations c
             WHERE m.id = $1 AND c.id = m.conversation_id AND m.status IN ('queued', 'streaming')
             RETURNING m.attempt, m.cancel_requested, c.system_prompt, m.conversation_id,
                       m.created_at)
         SELECT claimed.attempt, claimed.cancel_requested, claimed.system_prompt,
                COALESCE(h.roles, '{}') AS history_roles,
                COALESCE(h.contents, '{}') AS history_contents
         FROM claimed LEFT JOIN LATERAL (
             -- Earlier user messages and finished answers; failed or in-flight answers add
             -- nothing.
             SELECT array_agg(t.role ORDER BY t.created_at DESC, t.id DESC) AS roles,
                    array_agg(t.content ORDER BY t.created_at DESC, t.id DESC) AS contents
             FROM (SELECT role, content, created_at, id FROM messages
                   WHERE conversation_id = claimed.conversation_id
                     AND created_at < claimed.created_at
                     AND (role = 'user' OR status IN ('done', 'cancelled'))
                     AND content <> ''
                   ORDER BY created_at DESC, id DESC
                   LIMIT $2) t
         ) h ON true",
    )
    .bind(message_id)
    .bind(HISTORY_LIMIT)
    .fetch_optional(pool)
    .await
}

/// How an attempt ended.
pub enum Outcome<'a> {
    Done {
        finish_reason: &'a str,
        usage: Usage,
    },
    Cancelled,
    Error {
        code: &'a str,
        message: &'a str,
    },
}

/// The measurements stored with the answer.
pub struct Timing {
    pub latency_ms: i32,
    pub ttft_ms: Option<i32>,
    /// Stream sequence of this attempt's `start` event, stored when it is the first attempt's.
    pub start_seq: Option<u64>,
}

/// Writes the final content and status once. Returns false when this attempt no longer owns
/// the message (another attempt took over, or it is already final): the caller then publishes
/// nothing, so no message ever gets two answers.
pub async fn finish(
    pool: &PgPool,
    message_id: Uuid,
    attempt: i32,
    content: &str,
    outcome: Outcome<'_>,
    provider: Option<&str>,
    timing: Timing,
) -> sqlx::Result<bool> {
    let (status, finish_reason, usage, code, message) = match outcome {
        Outcome::Done {
            finish_reason,
            usage,
        } => ("done", Some(finish_reason), Some(usage), None, None),
        Outcome::Cancelled => ("cancelled", None, None, None, None),
        Outcome::Error { code, message } => ("error", None, None, Some(code), Some(message)),
    };
    let updated = sqlx::query(
        "UPDATE messages
         SET content = $3, status = $4, finish_reason = $5,
             input_tokens = $6, output_tokens = $7, error_code = $8, error_message = $9,
             latency_ms = $10, ttft_ms = $11, completed_at = now(),
             first_seq = CASE WHEN $1 = 1 THEN COALESCE($12, first_seq) ELSE first_seq END,
             provider = COALESCE($13, provider)
         WHERE id = $2 AND attempt = $1 AND status = 'streaming'",
    )
    .bind(attempt)
    .bind(message_id)
    .bind(content)
    .bind(status)
    .bind(finish_reason)
    .bind(usage.map(|u| u.input_tokens as i32))
    .bind(usage.map(|u| u.output_tokens as i32))
    .bind(code)
    .bind(message)
    .bind(timing.latency_ms)
    .bind(timing.ttft_ms)
    .bind(timing.start_seq.map(|s| s as i64))
    .bind(provider)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Remembers where the message's events end, so replays stop without reading past it.
pub async fn set_last_seq(pool: &PgPool, message_id: Uuid, seq: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET last_seq = $2 WHERE id = $1")
        .bind(message_id)
        .bind(seq as i64)
        .execute(pool)
        .await?;
    Ok(())
}
