//! Message rows, always read with the owner's id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sluice_shared::{batch::Statement, dto::MessageOut, events::Usage};
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
    /// For answers: the user message answered.
    pub reply_to: Option<Uuid>,
    /// A newer answer to the same question replaced this one (regenerate).
    pub superseded: bool,
}

impl MessageRow {
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "done" | "error" | "cancelled" | "complete"
        )
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
            superseded: r.superseded,
        }
    }
}

/// Every column a row type reads, as a literal so queries stay `&'static str`.
macro_rules! message_columns {
    () => {
        "id, conversation_id, role, content, status, model, provider, attempt, first_seq,
    last_seq, finish_reason, input_tokens, output_tokens, latency_ms, ttft_ms, error_code,
    error_message, created_at, completed_at, reply_to, superseded_at IS NOT NULL AS superseded"
    };
}
pub(crate) use message_columns;

/// The row of a new job in `apalis.jobs`, as apalis-postgres 1.0's own `push_tasks` writes it
/// (`Pending`, no attempts yet, no metadata, the answer's id as idempotency key): one text for
/// every statement that enqueues, pinned by the contract test in `testkit/tests/operations.rs`.
/// `$source` is a query giving, in order: job id, queue, payload, max attempts, run_at (Unix
/// seconds) and the answer's id.
macro_rules! insert_queue_row {
    ($source:literal) => {
        concat!(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts,
                                      run_at, priority, metadata, idempotency_key)
             SELECT id, queue, payload, 'Pending', 0, max_attempts, to_timestamp(run_at),
                    0, ''::hstore, answer_id::text
             FROM (",
            $source,
            ") AS new_job (id, queue, payload, max_attempts, run_at, answer_id)"
        )
    };
}
pub(crate) use insert_queue_row;

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

/// Where a new pair of messages goes.
pub enum Target {
    /// An existing conversation (already checked to be the owner's); it moves to the top.
    Existing(Uuid),
    /// A new conversation with this title, made by the same statement.
    New { title: String },
}

/// The ids of what `insert_pair` creates, chosen before it runs (the job's payload names them).
pub struct PairIds {
    pub conversation: Uuid,
    pub user_message: Uuid,
    pub answer: Uuid,
}

impl PairIds {
    pub fn new(target: &Target) -> Self {
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
pub struct QueuedJob {
    /// A ULID, as apalis's task ids are.
    pub id: String,
    pub queue: &'static str,
    /// The job, JSON-encoded (apalis's `JsonCodec`).
    pub payload: Vec<u8>,
    pub max_attempts: i32,
    /// Unix seconds.
    pub run_at: i64,
}

/// A user's message, its queued answer and the answer's job, to be stored together.
pub struct NewPair {
    pub owner: Uuid,
    pub target: Target,
    pub ids: PairIds,
    pub content: String,
    pub model: String,
    /// A lower bound for the sequence of the answer's first event.
    pub first_seq: u64,
    pub request_id: Option<String>,
    pub job: QueuedJob,
}

/// The stored pair: (user message, queued answer).
pub type StoredPair = (MessageRow, MessageRow);

/// Stores pairs of messages, in ONE statement for all pairs sent at about the same time (see
/// `sluice_shared::batch`): one round trip, atomic without an explicit transaction. Each pair
/// gets its conversation (new, or the existing one moved to the top), its two messages and its
/// answer's job; apalis's insert trigger wakes the workers when it commits. A pair whose
/// conversation is gone (deleted since the caller checked) gets `None`, and nothing of it is
/// written.
pub struct InsertPairs(pub PgPool);

impl Statement for InsertPairs {
    type Item = NewPair;
    type Output = Option<StoredPair>;

    async fn run(&self, pairs: &[NewPair]) -> sqlx::Result<Vec<Option<StoredPair>>> {
        let column = |f: fn(&NewPair) -> Option<&str>| pairs.iter().map(f).collect::<Vec<_>>();
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "WITH pair AS (
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                      $6::text[], $7::uuid[], $8::uuid[], $9::bigint[],
                                      $10::text[], $11::text[], $12::bytea[], $13::int[],
                                      $14::bigint[])
                 AS p (conversation_id, owner, new_title, model, content, request_id,
                       user_message_id, answer_id, first_seq,
                       job_id, queue, payload, max_attempts, run_at)),
             created AS (
                 INSERT INTO conversations (id, user_id, title, model)
                 SELECT conversation_id, owner, new_title, model FROM pair
                 WHERE new_title IS NOT NULL
                 RETURNING id),
             touched AS (
                 UPDATE conversations c SET updated_at = now()
                 FROM pair
                 WHERE c.id = ANY($1) AND pair.new_title IS NULL AND c.id = pair.conversation_id
                   AND c.user_id = pair.owner
                 RETURNING c.id),
             stored AS (
                 SELECT * FROM pair
                 WHERE conversation_id IN (SELECT id FROM created UNION ALL SELECT id FROM touched)),
             job AS (",
            insert_queue_row!("SELECT job_id, queue, payload, max_attempts, run_at, answer_id FROM stored"),
            ")
             INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                                   first_seq, request_id, created_at, reply_to)
             SELECT m.id, stored.conversation_id, stored.owner, m.role, m.content, m.status,
                    m.model, m.first_seq, stored.request_id, clock_timestamp() + m.later,
                    m.reply_to
             FROM stored, LATERAL (VALUES
                 (stored.user_message_id, 'user', stored.content, 'complete', NULL::text,
                  NULL::bigint, interval '0', NULL::uuid),
                 -- The answer sorts after its question even within one clock tick.
                 (stored.answer_id, 'assistant', '', 'queued', stored.model, stored.first_seq,
                  interval '1 microsecond', stored.user_message_id)
             ) AS m (id, role, content, status, model, first_seq, later, reply_to)
             RETURNING ",
            message_columns!()
        ))
        .bind(pairs.iter().map(|p| p.ids.conversation).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.owner).collect::<Vec<_>>())
        .bind(column(|p| match &p.target {
            Target::New { title } => Some(title.as_str()),
            Target::Existing(_) => None,
        }))
        .bind(column(|p| Some(p.model.as_str())))
        .bind(column(|p| Some(p.content.as_str())))
        .bind(column(|p| p.request_id.as_deref()))
        .bind(pairs.iter().map(|p| p.ids.user_message).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.ids.answer).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.first_seq as i64).collect::<Vec<_>>())
        .bind(column(|p| Some(p.job.id.as_str())))
        .bind(column(|p| Some(p.job.queue)))
        .bind(pairs.iter().map(|p| p.job.payload.as_slice()).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.job.max_attempts).collect::<Vec<_>>())
        .bind(pairs.iter().map(|p| p.job.run_at).collect::<Vec<_>>())
        .fetch_all(&self.0)
        .await?;
        let mut rows: HashMap<Uuid, MessageRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        Ok(pairs
            .iter()
            .map(|p| {
                Some((
                    rows.remove(&p.ids.user_message)?,
                    rows.remove(&p.ids.answer)?,
                ))
            })
            .collect())
    }
}

/// What a cancel request found.
pub enum CancelOutcome {
    /// Never started: cancelled here; the API publishes the `cancelled` event itself.
    CancelledWhileQueued { conversation_id: Uuid, attempt: i32 },
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
    let found: Option<(String, Uuid, i32)> = sqlx::query_as(
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
    Ok(
        found.map(|(old, conversation_id, attempt)| match old.as_str() {
            "queued" => CancelOutcome::CancelledWhileQueued {
                conversation_id,
                attempt,
            },
            "streaming" => CancelOutcome::Requested,
            _ => CancelOutcome::AlreadyFinished { status: old },
        }),
    )
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
