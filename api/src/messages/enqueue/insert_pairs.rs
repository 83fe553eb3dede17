//! The statement that stores sent messages: each pair of (question, queued answer) with its
//! conversation and its answer's queue row, for every send arriving at about the same time.

use std::collections::HashMap;

use sluice_shared::{batch::Statement, insert_queue_row, queue::QueuedJob};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    conversations::store::Origin,
    messages::store::{MessageRow, message_columns},
};

/// Where a new pair of messages goes.
pub enum Target {
    /// An existing conversation (already checked to be the owner's); it moves to the top.
    Existing(Uuid),
    /// A new conversation, made by the same statement.
    New(NewConversation),
}

/// A conversation made with its first message.
pub struct NewConversation {
    pub title: String,
    /// `None`: the server's default system prompt.
    pub system_prompt: Option<String>,
    pub origin: Origin,
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
            Target::New(_) => Uuid::now_v7(),
        };
        Self {
            conversation,
            user_message: Uuid::now_v7(),
            answer: Uuid::now_v7(),
        }
    }
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
                                      $14::bigint[], $15::text[], $16::text[])
                 AS p (conversation_id, owner, new_title, model, content, request_id,
                       user_message_id, answer_id, first_seq,
                       job_id, queue, payload, max_attempts, run_at, system_prompt, origin)),
             created AS (
                 INSERT INTO conversations (id, user_id, title, model, system_prompt, origin)
                 SELECT conversation_id, owner, new_title, model, system_prompt, origin FROM pair
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
            insert_queue_row!(
                "SELECT job_id, queue, payload, max_attempts, run_at, answer_id FROM stored"
            ),
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
            Target::New(new) => Some(new.title.as_str()),
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
        .bind(column(|p| match &p.target {
            Target::New(new) => new.system_prompt.as_deref(),
            Target::Existing(_) => None,
        }))
        .bind(column(|p| match &p.target {
            Target::New(new) => Some(new.origin.as_str()),
            Target::Existing(_) => None,
        }))
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
