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
    /// The API key it came through: its limits apply too, and its answer is counted to it.
    pub api_key: Option<Uuid>,
    /// What the answer reserves against the limits (`crate::limits`).
    pub reservation: Reservation,
    pub target: Target,
    pub ids: PairIds,
    pub content: String,
    pub model: String,
    /// A lower bound for the sequence of the answer's first event.
    pub first_seq: u64,
    pub request_id: Option<String>,
    pub job: QueuedJob,
}

/// What goes into an answer's reservation besides its conversation's history: the new text's
/// tokens, the expected output and the model's price (US dollars per million tokens; 0 when
/// unpriced).
pub struct Reservation {
    pub new_tokens: u32,
    pub output_tokens: u32,
    pub price_in: f64,
    pub price_out: f64,
}

/// The stored pair: (user message, queued answer).
pub type StoredPair = (MessageRow, MessageRow);

/// Stores pairs of messages, in ONE statement for all pairs sent at about the same time (see
/// `sluice_shared::batch`): one round trip, atomic without an explicit transaction. Each pair
/// is admitted against its user's and API key's limits (`sluice_reserve`, reserving its
/// estimate), then gets its conversation (new, or the existing one moved to the top), its two
/// messages and its answer's job; apalis's insert trigger wakes the workers when it commits. A
/// pair refused by a limit, or whose conversation is gone (deleted since the caller checked),
/// gets `None`, and nothing of it is written.
///
/// Locks are taken in one order: existing conversations (by id), then budget rows (pairs are
/// admitted by user), as every other statement that takes both does.
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
                       job_id, queue, payload, max_attempts, run_at, system_prompt, origin)
                 -- Beside the rest: a zip of equal-length arrays.
                 JOIN unnest($8::uuid[], $17::uuid[], $18::int[], $19::int[], $20::float8[],
                             $21::float8[])
                 AS r (answer_id, api_key_id, new_tokens, output_tokens, price_in, price_out)
                 USING (answer_id)),
             locked AS (
                 SELECT c.id FROM conversations c JOIN pair ON pair.conversation_id = c.id
                 WHERE c.id = ANY($1) AND pair.new_title IS NULL AND c.user_id = pair.owner
                 ORDER BY c.id FOR UPDATE OF c),
             admitted AS (
                 SELECT p.*, sluice_reserve(p.owner, p.api_key_id, p.conversation_id,
                                            p.new_tokens, p.output_tokens,
                                            p.price_in::numeric, p.price_out::numeric)
                             AS reservation
                 -- One user's pairs one after another, users in order (see above); OFFSET 0
                 -- keeps the order for the function calls.
                 FROM (SELECT * FROM pair
                       WHERE new_title IS NOT NULL OR conversation_id IN (SELECT id FROM locked)
                       ORDER BY owner, api_key_id NULLS FIRST OFFSET 0) p),
             created AS (
                 INSERT INTO conversations (id, user_id, title, model, system_prompt, origin)
                 SELECT conversation_id, owner, new_title, model, system_prompt, origin
                 FROM admitted
                 WHERE new_title IS NOT NULL AND reservation IS NOT NULL
                 RETURNING id),
             touched AS (
                 UPDATE conversations c SET updated_at = now()
                 FROM admitted
                 WHERE c.id = ANY($1) AND admitted.new_title IS NULL
                   AND admitted.reservation IS NOT NULL AND c.id = admitted.conversation_id
                 RETURNING c.id),
             -- Admitted, and its conversation made or still there (another pair to the same
             -- conversation may have been admitted beside a refused one).
             stored AS (
                 SELECT * FROM admitted
                 WHERE reservation IS NOT NULL
                   AND conversation_id IN (SELECT id FROM created UNION ALL SELECT id FROM touched)),
             job AS (",
            insert_queue_row!(
                "SELECT job_id, queue, payload, max_attempts, run_at, answer_id FROM stored"
            ),
            ")
             INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                                   first_seq, request_id, created_at, reply_to, api_key_id,
                                   reserved_tokens, reserved_cost)
             SELECT m.id, stored.conversation_id, stored.owner, m.role, m.content, m.status,
                    m.model, m.first_seq, stored.request_id, clock_timestamp() + m.later,
                    m.reply_to, stored.api_key_id, m.reserved_tokens, m.reserved_cost
             FROM stored, LATERAL (VALUES
                 (stored.user_message_id, 'user', stored.content, 'complete', NULL::text,
                  NULL::bigint, interval '0', NULL::uuid, NULL::bigint, NULL::numeric),
                 -- The answer sorts after its question even within one clock tick.
                 (stored.answer_id, 'assistant', '', 'queued', stored.model, stored.first_seq,
                  interval '1 microsecond', stored.user_message_id,
                  (stored.reservation->>'tokens')::bigint, (stored.reservation->>'cost')::numeric)
             ) AS m (id, role, content, status, model, first_seq, later, reply_to,
                     reserved_tokens, reserved_cost)
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
        .bind(pairs.iter().map(|p| p.api_key).collect::<Vec<_>>())
        .bind(column_of(pairs, |r| r.new_tokens as i32))
        .bind(column_of(pairs, |r| r.output_tokens as i32))
        .bind(column_of(pairs, |r| r.price_in))
        .bind(column_of(pairs, |r| r.price_out))
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

/// One field of every pair's reservation.
fn column_of<T>(pairs: &[NewPair], f: impl Fn(&Reservation) -> T) -> Vec<T> {
    pairs.iter().map(|p| f(&p.reservation)).collect()
}
