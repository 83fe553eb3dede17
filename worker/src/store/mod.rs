//! The assistant message row as the worker sees it, one file per statement: `claim` (take an
//! attempt and read its prompt), `prompt` (read the prompt alone, while the claim runs),
//! `finish` (store the outcome), `last_seq`. Every write is
//! guarded by the attempt that made it, so a stale attempt (a worker presumed dead that wakes
//! up) changes nothing.

mod claim;
mod finish;
mod last_seq;
mod prompt;

use sluice_shared::{
    batch::{BatchError, Batcher},
    db,
    envelope::Sealed,
    events::{Ending, Usage},
};
use sqlx::PgPool;
use uuid::Uuid;

use claim::{Claims, OfferedItem};
pub use finish::Finished;
use finish::Finishes;
use last_seq::LastSeqs;
use prompt::Prompts;

/// What a worker needs to know once it owns an attempt.
#[derive(Debug)]
pub struct Claim {
    pub attempt: i32,
    pub cancel_requested: bool,
    pub prompt: Prompt,
}

/// What an answer's prompt is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// The conversation's own, if it has one.
    pub system_prompt: Option<String>,
    /// The conversation before this answer, newest first (see `prompt::fit`): the roles and
    /// contents of user messages and finished answers.
    pub history_roles: Vec<String>,
    pub history_contents: Vec<String>,
    /// Each of those messages' files (empty for most), in the same order.
    pub history_files: Vec<Vec<AttachedFile>>,
    /// The owner's enabled provider keys, still sealed (`chat_job::own_keys` opens them).
    pub own_keys: Vec<SealedOwnKey>,
}

/// A file sent with a question, as the prompt reads it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct AttachedFile {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub content_type: String,
    pub bytes: i64,
    /// Characters of text the file holds (text files and PDFs; none for images). The text
    /// itself is read apart, only for the files a prompt has room for
    /// (`attachments::read_texts`).
    pub text_chars: Option<i64>,
}

/// The `history_files` column as read: one entry per history message, `null` without files.
pub(crate) fn history_files(
    column: Option<sqlx::types::Json<Vec<Option<Vec<AttachedFile>>>>>,
) -> Vec<Vec<AttachedFile>> {
    column
        .map(|c| c.0.into_iter().map(Option::unwrap_or_default).collect())
        .unwrap_or_default()
}

/// A user's own key for a provider, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedOwnKey {
    pub provider: String,
    pub allow_server_fallback: bool,
    pub last4: String,
    pub sealed: Sealed,
}

/// The `own_keys` column both statements that read a prompt select: user `$user`'s enabled
/// provider keys as a JSON array (bytes in hex).
#[macro_export]
macro_rules! own_keys_of {
    ($user:literal) => {
        concat!(
            "(SELECT COALESCE(jsonb_agg(jsonb_build_object(
                 'provider', k.provider, 'allow_server_fallback', k.allow_server_fallback,
                 'last4', k.last4, 'ciphertext', encode(k.ciphertext, 'hex'),
                 'wrapped_key', encode(k.wrapped_key, 'hex'), 'master_key_id', k.master_key_id)),
                 '[]')
             FROM provider_keys k WHERE k.user_id = ",
            $user,
            " AND k.enabled) AS own_keys"
        )
    };
}

/// One element of `own_keys_of!`.
#[derive(serde::Deserialize)]
pub(crate) struct OwnKeyJson {
    provider: String,
    allow_server_fallback: bool,
    last4: String,
    ciphertext: String,
    wrapped_key: String,
    master_key_id: String,
}

/// The keys an `own_keys_of!` column holds (one whose bytes are not hex, which the statement
/// never writes, is left out).
pub(crate) fn own_keys(column: sqlx::types::Json<Vec<OwnKeyJson>>) -> Vec<SealedOwnKey> {
    (column.0.into_iter())
        .filter_map(|k| {
            Some(SealedOwnKey {
                sealed: Sealed {
                    ciphertext: hex::decode(&k.ciphertext).ok()?,
                    wrapped_key: hex::decode(&k.wrapped_key).ok()?,
                    master_key_id: k.master_key_id,
                },
                provider: k.provider,
                allow_server_fallback: k.allow_server_fallback,
                last4: k.last4,
            })
        })
        .collect()
}

/// The history of a prompt, as a lateral subquery both statements that read one splice in:
/// earlier user messages and finished answers of conversation `$conversation`, created
/// before `$end`, newest first, at most `$limit`, with the questions' files (`files`: one
/// entry per message, null without any); failed or in-flight answers add nothing.
#[macro_export]
macro_rules! history_of {
    ($conversation:literal, $end:literal, $limit:literal) => {
        concat!(
            "WITH t AS (
                 SELECT role, content, created_at, id FROM messages
                 WHERE conversation_id = ",
            $conversation,
            "
                   AND created_at < ",
            $end,
            "
                   AND (role = 'user' OR status IN ('done', 'cancelled'))
                   AND superseded_at IS NULL
                   AND content <> ''
                 ORDER BY created_at DESC, id DESC
                 LIMIT ",
            $limit,
            "),
             -- The questions' files in one grouped read (a subquery per message would cost
             -- each history as much again: 0.21 against 0.14 ms for 20 turns).
             attached AS (
                 SELECT f.message_id,
                        jsonb_agg(jsonb_build_object('id', f.id, 'user_id', f.user_id,
                                      'name', f.name, 'content_type', f.content_type,
                                      'bytes', f.bytes, 'text_chars', f.text_chars)
                                  ORDER BY f.created_at, f.id) AS files
                 FROM files f
                 WHERE f.message_id IN (SELECT id FROM t WHERE role = 'user')
                 GROUP BY f.message_id)
             SELECT array_agg(t.role ORDER BY t.created_at DESC, t.id DESC) AS roles,
                    array_agg(t.content ORDER BY t.created_at DESC, t.id DESC) AS contents,
                    jsonb_agg(a.files ORDER BY t.created_at DESC, t.id DESC) AS files
             FROM t LEFT JOIN attached a ON a.message_id = t.id"
        )
    };
}

/// Turns of history read with the claim; older ones would not fit any context window.
pub const HISTORY_LIMIT: i64 = 500;

/// The message rows a worker writes. Claims and final writes from concurrent jobs share
/// statements (`batch`): at 64 chats in flight a worker otherwise spends its database's time on
/// round trips and commits rather than on the rows.
#[derive(Clone)]
pub struct Store {
    claims: Batcher<Claims>,
    prompts: Batcher<Prompts>,
    finishes: Batcher<Finishes>,
    last_seqs: Batcher<LastSeqs>,
    pool: PgPool,
}

impl Store {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            claims: Batcher::start(Claims(db::dedicated(pool))),
            prompts: Batcher::start(Prompts(db::dedicated(pool))),
            finishes: Batcher::start(Finishes(db::dedicated(pool))),
            last_seqs: Batcher::start(LastSeqs(db::dedicated(pool))),
            pool: pool.clone(),
        }
    }

    /// Takes the next attempt of a queued or interrupted answer and reads what its prompt
    /// needs. `None`: the message is already finished (a retried job after success, or
    /// cancelled while queued), so there is nothing to do.
    pub async fn claim(&self, message_id: Uuid) -> Result<Option<Claim>, BatchError> {
        let claimed = self.claims.submit((message_id, None)).await?;
        Ok(claimed.claim)
    }

    /// The same for a job handed off over NATS (`sluice_shared::handoff`): the claim also
    /// leases the job's queue row to `lease.worker`, and happens only if the row is still on
    /// offer. `Offered::Gone`: the queue has the job now (or the worker is not registered yet),
    /// so it is not this worker's to run.
    ///
    /// With `check_queue`, it is also `Gone` while an older job waits in the queue, so jobs
    /// start in arrival order. That costs an index probe: asked only when the queue may be busy
    /// (`Saturation`).
    pub async fn claim_offered(
        &self,
        message_id: Uuid,
        lease: Lease,
        check_queue: bool,
    ) -> Result<Offered, BatchError> {
        let offer = OfferedItem { lease, check_queue };
        let claimed = self.claims.submit((message_id, Some(offer))).await?;
        Ok(match (claimed.claim, claimed.on_offer) {
            (Some(claim), _) => Offered::Claimed(claim),
            (None, true) => Offered::Finished,
            (None, false) => Offered::Gone,
        })
    }

    /// Reads what the prompt of an answer not yet over would be, without claiming it (to open
    /// the provider while the claim runs; the claim's own reading is the one that counts).
    pub async fn read_prompt(&self, message_id: Uuid) -> Result<Option<Prompt>, BatchError> {
        self.prompts.submit(message_id).await
    }

    /// Writes the final content and status once. `NotOwned` when this attempt no longer owns
    /// the message (another attempt took over, or it is already final): the caller then
    /// publishes nothing, so no message ever gets two answers.
    pub async fn finish(&self, finish: Finish) -> Result<Finished, BatchError> {
        self.finishes.submit(finish).await
    }

    /// The attempt now streaming the message, if one is (to end it after a panic).
    pub async fn current_attempt(&self, message_id: Uuid) -> sqlx::Result<Option<i32>> {
        sqlx::query_scalar("SELECT attempt FROM messages WHERE id = $1 AND status = 'streaming'")
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Remembers where the message's events end, so replays stop without reading past it.
    pub async fn set_last_seq(&self, message_id: Uuid, seq: u64) -> Result<(), BatchError> {
        self.last_seqs.submit((message_id, seq as i64)).await
    }
}

/// Whose queue row a handed-off job's claim leases.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The job's row in `apalis.jobs`.
    pub job_id: String,
    /// The apalis worker (registered in `apalis.workers`) that holds the lease: if its
    /// heartbeat stops, apalis re-enqueues the job.
    pub worker: String,
}

/// What claiming a handed-off job found.
pub enum Offered {
    /// This worker runs the attempt.
    Claimed(Claim),
    /// The answer was already over (cancelled while queued); its queue row is deleted.
    Finished,
    /// The row is no longer on offer: the queue has it.
    Gone,
}

/// The measurements stored with the answer.
pub struct Timing {
    pub latency_ms: i32,
    pub ttft_ms: Option<i32>,
    /// Stream sequence of this attempt's `start` event, stored when it is the first attempt's.
    pub start_seq: Option<u64>,
}

/// An attempt's final write.
pub struct Finish {
    pub message_id: Uuid,
    pub attempt: i32,
    pub content: String,
    pub ending: Ending,
    /// What the answer used: the provider's count when it is done; for one cancelled or
    /// failed after text came, Sluice's estimate of the prompt and the text (a provider bills
    /// those too, so budgets count them); else none.
    pub usage: Option<Usage>,
    /// `usage` is Sluice's estimate.
    pub usage_estimated: bool,
    /// From the model's price in config, for a `Done` answer.
    pub cost_usd: Option<f64>,
    /// The provider called, if one was.
    pub provider: Option<&'static str>,
    pub timing: Timing,
}
