//! Message rows, always read with the owner's id.

use chrono::{DateTime, Utc};
use sluice_shared::{dto::MessageOut, events::Usage};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub role: String,
    pub content: String,
    pub status: String,
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
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl MessageRow {
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "done" | "error" | "cancelled" | "complete"
        )
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
        }
    }
}

/// Every column a row type reads, as a literal so queries stay `&'static str`.
macro_rules! message_columns {
    () => {
        "id, conversation_id, role, content, status, model, provider, attempt, first_seq,
    last_seq, finish_reason, input_tokens, output_tokens, latency_ms, ttft_ms, error_code,
    error_message, created_at, completed_at"
    };
}

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
) -> sqlx::Result<Vec<MessageRow>> {
    let (at, id) = after.unzip();
    sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages
         WHERE conversation_id = $1 AND user_id = $2
           AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
         ORDER BY created_at, id LIMIT $5"
    ))
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
pub async fn in_flight(pool: &PgPool, conversation_id: Uuid) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages
         WHERE conversation_id = $1
           AND (status IN ('queued', 'streaming') OR completed_at > now() - interval '10 seconds')"
    ))
    .bind(conversation_id)
    .fetch_all(pool)
    .await
}

/// Where a new pair of messages goes.
pub enum Target<'a> {
    /// An existing conversation (already checked to be the owner's); it moves to the top.
    Existing(Uuid),
    /// A new conversation with this title, made by the same statement.
    New { title: &'a str },
}

/// The ids of what `insert_pair` creates, chosen before it runs (the job's payload names them).
pub struct PairIds {
    pub conversation: Uuid,
    pub user_message: Uuid,
    pub answer: Uuid,
}

impl PairIds {
    pub fn new(target: &Target<'_>) -> Self {
        let conversation = match target {
            Target::Existing(id) => *id,
            Target::New { .. } => Uuid::now_v7(),
        };
        Self {
            conversation,
            user_message: Uuid::now_v7(),
            answer: Uuid::now_v7(),
        }
    }
}

/// The answer's row in apalis's queue table, written as apalis-postgres 1.0's own
/// `push_tasks` writes it (`queries/task/sink.sql`; a test compares the two).
pub struct QueuedJob<'a> {
    /// A ULID, as apalis's task ids are.
    pub id: String,
    pub queue: &'a str,
    /// The job, JSON-encoded (apalis's `JsonCodec`).
    pub payload: Vec<u8>,
    pub max_attempts: i32,
    /// Unix seconds.
    pub run_at: i64,
}

/// Everything sending a message writes, in ONE statement (one round trip, atomic without an
/// explicit transaction): the conversation step `$conversation` (which returns its `id`), the
/// two messages and the answer's job; apalis's insert trigger wakes the workers when it
/// commits. `$1` conversation id, `$2` owner, `$3` title (new conversations), `$4` model,
/// `$5` content, `$6` request id, `$7` user message id, `$8` answer id, `$9` answer's first
/// stream sequence, `$10`–`$14` the job: id, queue, payload, max attempts, run at.
macro_rules! insert_pair_sql {
    ($conversation:literal) => {
        concat!(
            "WITH conversation AS (",
            $conversation,
            "),
             job AS (
                 INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts,
                                          run_at, priority, metadata, idempotency_key)
                 SELECT $10, $11, $12, 'Pending', 0, $13, to_timestamp($14), 0, ''::hstore,
                        $8::text
                 FROM conversation)
             INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                                   first_seq, request_id, created_at)
             SELECT m.id, conversation.id, $2, m.role, m.content, m.status, m.model, m.first_seq,
                    $6, clock_timestamp() + m.later
             FROM conversation, (VALUES
                 ($7::uuid, 'user', $5::text, 'complete', NULL::text, NULL::bigint, interval '0'),
                 -- The answer sorts after its question even within one clock tick.
                 ($8::uuid, 'assistant', '', 'queued', $4::text, $9::bigint, interval '1 microsecond')
             ) AS m (id, role, content, status, model, first_seq, later)
             RETURNING ",
            message_columns!()
        )
    };
}

/// Stores the user's message and the queued answer (with a new conversation, or the existing
/// one moved to the top) and enqueues the answer's job. `None`: the conversation is gone, and
/// nothing was written.
#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only rename them"
)]
pub async fn insert_pair(
    pool: &PgPool,
    owner: Uuid,
    target: Target<'_>,
    ids: &PairIds,
    content: &str,
    model: &str,
    first_seq: u64,
    request_id: Option<&str>,
    job: QueuedJob<'_>,
) -> sqlx::Result<Option<(MessageRow, MessageRow)>> {
    let (sql, title) = match target {
        Target::Existing(_) => (
            insert_pair_sql!(
                // `$3` is always NULL here; naming it keeps one parameter list for both forms.
                "UPDATE conversations SET updated_at = now()
                 WHERE id = $1 AND user_id = $2 AND $3::text IS NULL RETURNING id"
            ),
            None,
        ),
        Target::New { title } => (
            insert_pair_sql!(
                "INSERT INTO conversations (id, user_id, title, model)
                 VALUES ($1, $2, $3, $4) RETURNING id"
            ),
            Some(title),
        ),
    };
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(ids.conversation)
        .bind(owner)
        .bind(title)
        .bind(model)
        .bind(content)
        .bind(request_id)
        .bind(ids.user_message)
        .bind(ids.answer)
        .bind(first_seq as i64)
        .bind(job.id)
        .bind(job.queue)
        .bind(job.payload)
        .bind(job.max_attempts)
        .bind(job.run_at)
        .fetch_all(pool)
        .await?;
    let mut rows = rows.into_iter();
    let (Some(a), Some(b)) = (rows.next(), rows.next()) else {
        return Ok(None);
    };
    // RETURNING's order is not promised: tell the two apart by id.
    Ok(Some(if a.id == ids.user_message {
        (a, b)
    } else {
        (b, a)
    }))
}

/// What a cancel request found.
pub enum CancelOutcome {
    /// Never started: cancelled here; the API publishes the `cancelled` event itself.
    CancelledWhileQueued { conversation_id: Uuid },
    /// A worker is on it: it was asked (flag + control message) to stop.
    Requested,
    /// It had already ended with this status.
    AlreadyFinished { status: String },
}

pub async fn request_cancel(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<CancelOutcome>> {
    let found: Option<(String, Uuid)> = sqlx::query_as(
        // The row lock makes `old.status` the latest, even when a worker claims concurrently.
        "WITH old AS (
             SELECT id, status FROM messages
             WHERE id = $1 AND user_id = $2 AND role = 'assistant' FOR UPDATE)
         UPDATE messages m
         SET cancel_requested = true,
             status = CASE WHEN old.status = 'queued' THEN 'cancelled' ELSE old.status END,
             completed_at = CASE WHEN old.status = 'queued' THEN now() ELSE m.completed_at END
         FROM old WHERE m.id = old.id
         RETURNING old.status, m.conversation_id",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|(old, conversation_id)| match old.as_str() {
        "queued" => CancelOutcome::CancelledWhileQueued { conversation_id },
        "streaming" => CancelOutcome::Requested,
        _ => CancelOutcome::AlreadyFinished { status: old },
    }))
}

/// Remembers where the answer's events end (its terminal event's sequence).
pub async fn set_last_seq(pool: &PgPool, id: Uuid, seq: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET last_seq = $2 WHERE id = $1")
        .bind(id)
        .bind(seq as i64)
        .execute(pool)
        .await?;
    Ok(())
}
