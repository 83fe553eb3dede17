//! The assistant message row as the worker sees it. Every write is guarded by the attempt
//! that made it, so a stale attempt (a worker presumed dead that wakes up) changes nothing.

use sluice_shared::{
    batch::{BatchError, Batcher, Statement},
    db,
    events::Usage,
    job::CHAT_QUEUE,
};
use sqlx::PgPool;
use uuid::Uuid;

/// What a worker needs to know once it owns an attempt.
#[derive(Debug)]
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

/// The message rows a worker writes. Claims and final writes from concurrent jobs share
/// statements (`batch`): at 64 chats in flight a worker otherwise spends its database's time on
/// round trips and commits rather than on the rows.
#[derive(Clone)]
pub struct Store {
    claims: Batcher<Claims>,
    finishes: Batcher<Finishes>,
    last_seqs: Batcher<LastSeqs>,
}

impl Store {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            claims: Batcher::start(Claims(db::dedicated(pool))),
            finishes: Batcher::start(Finishes(db::dedicated(pool))),
            last_seqs: Batcher::start(LastSeqs(db::dedicated(pool))),
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
    pub async fn claim_offered(
        &self,
        message_id: Uuid,
        lease: Lease,
    ) -> Result<Offered, BatchError> {
        let claimed = self.claims.submit((message_id, Some(lease))).await?;
        Ok(match (claimed.claim, claimed.on_offer) {
            (Some(claim), _) => Offered::Claimed(claim),
            (None, true) => Offered::Finished,
            (None, false) => Offered::Gone,
        })
    }

    /// Writes the final content and status once. Returns false when this attempt no longer
    /// owns the message (another attempt took over, or it is already final): the caller then
    /// publishes nothing, so no message ever gets two answers.
    pub async fn finish(&self, finish: Finish) -> Result<bool, BatchError> {
        self.finishes.submit(finish).await
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

/// One item's answer from the claim statement.
#[derive(Default)]
struct Claimed {
    claim: Option<Claim>,
    /// For handed-off jobs: whether the row was still on offer (now leased to this worker, or
    /// deleted because the answer was already over).
    on_offer: bool,
}

struct Claims(PgPool);

impl Statement for Claims {
    type Item = (Uuid, Option<Lease>);
    type Output = Claimed;

    async fn run(&self, items: &[(Uuid, Option<Lease>)]) -> sqlx::Result<Vec<Claimed>> {
        // One UPDATE changes a row once, so two jobs for the same message in one batch would
        // both get its single new attempt: claim repeats one at a time instead.
        let ids: Vec<Uuid> = items.iter().map(|(id, _)| *id).collect();
        if has_duplicates(&ids) {
            let mut claims = Vec::with_capacity(items.len());
            for item in items {
                claims.extend(claim_each(&self.0, std::slice::from_ref(item)).await?);
            }
            return Ok(claims);
        }
        claim_each(&self.0, items).await
    }
}

/// Claims distinct messages in one statement; handed-off ones only while their queue row is
/// on offer, leasing it in the same statement (so a queue fetch can never take it as well).
async fn claim_each(pool: &PgPool, items: &[(Uuid, Option<Lease>)]) -> sqlx::Result<Vec<Claimed>> {
    let ids: Vec<Uuid> = items.iter().map(|(id, _)| *id).collect();
    let lease = |f: fn(&Lease) -> &str| {
        items
            .iter()
            .map(|(_, l)| l.as_ref().map(f))
            .collect::<Vec<_>>()
    };
    let rows: Vec<ClaimRow> = sqlx::query_as(
        "WITH item AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(id, job_id, worker)),
             -- The handed-off rows, locked: a queue fetch (FOR UPDATE SKIP LOCKED) passes them
             -- by. Found by primary key alone: with `status = 'Pending'` here the planner also
             -- reads the queue's partial fetch index, which holds every job not yet vacuumed.
             locked AS (
                 SELECT j.id, j.status, item.worker FROM apalis.jobs j JOIN item ON item.job_id = j.id
                 WHERE j.id = ANY($2)
                 FOR UPDATE OF j SKIP LOCKED),
             -- Still on offer (the locked version is the latest: one the queue took meanwhile is
             -- no longer `Pending`), and leasable to a registered worker.
             offered AS (
                 SELECT id, worker FROM locked
                 WHERE status = 'Pending'
                   AND EXISTS (SELECT 1 FROM apalis.workers w WHERE w.id = locked.worker)),
             claimed AS (
                 UPDATE messages m
                 SET attempt = m.attempt + 1, status = 'streaming',
                     started_at = COALESCE(m.started_at, now())
                 FROM conversations c, item
                 WHERE m.id = ANY($1) AND m.id = item.id AND c.id = m.conversation_id
                   AND m.status IN ('queued', 'streaming')
                   AND (item.job_id IS NULL OR item.job_id IN (SELECT id FROM offered))
                 RETURNING m.id, m.attempt, m.cancel_requested, c.system_prompt,
                           m.conversation_id, item.job_id,
                           -- History ends with the question: for a regenerated answer, that
                           -- excludes the earlier answers to it.
                           COALESCE((SELECT q.created_at + interval '1 microsecond'
                                     FROM messages q WHERE q.id = m.reply_to),
                                    m.created_at) AS history_end),
             -- Leased as a fetch leaves a row, so a crash is recovered like a queued job's.
             leased AS (
                 UPDATE apalis.jobs j SET status = 'Running', lock_by = offered.worker,
                                          lock_at = now()
                 FROM offered
                 WHERE j.id = offered.id AND j.id IN (SELECT job_id FROM claimed)),
             -- On offer, but the answer is already over: nothing will ever run it.
             spent AS (
                 DELETE FROM apalis.jobs
                 WHERE id IN (SELECT id FROM offered)
                   AND id NOT IN (SELECT job_id FROM claimed WHERE job_id IS NOT NULL))
             SELECT item.id, claimed.attempt, claimed.cancel_requested, claimed.system_prompt,
                    item.job_id IN (SELECT id FROM offered) AS on_offer,
                    COALESCE(h.roles, '{}') AS history_roles,
                    COALESCE(h.contents, '{}') AS history_contents
             FROM item LEFT JOIN claimed ON claimed.id = item.id LEFT JOIN LATERAL (
                 -- Earlier user messages and finished answers; failed or in-flight answers add
                 -- nothing.
                 SELECT array_agg(t.role ORDER BY t.created_at DESC, t.id DESC) AS roles,
                        array_agg(t.content ORDER BY t.created_at DESC, t.id DESC) AS contents
                 FROM (SELECT role, content, created_at, id FROM messages
                       WHERE conversation_id = claimed.conversation_id
                         AND created_at < claimed.history_end
                         AND (role = 'user' OR status IN ('done', 'cancelled'))
                         AND superseded_at IS NULL
                         AND content <> ''
                       ORDER BY created_at DESC, id DESC
                       LIMIT $4) t
             ) h ON claimed.id IS NOT NULL",
    )
    .bind(&ids)
    .bind(lease(|l| l.job_id.as_str()))
    .bind(lease(|l| l.worker.as_str()))
    .bind(HISTORY_LIMIT)
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(|row| {
        let claim = row.attempt.map(|attempt| Claim {
            attempt,
            cancel_requested: row.cancel_requested.unwrap_or(false),
            system_prompt: row.system_prompt,
            history_roles: row.history_roles,
            history_contents: row.history_contents,
        });
        let on_offer = row.on_offer.unwrap_or(false);
        (row.id, Claimed { claim, on_offer })
    });
    // One row per item, in no particular order.
    let mut rows: std::collections::HashMap<Uuid, Claimed> = rows.collect();
    Ok(ids
        .iter()
        .map(|id| rows.remove(id).unwrap_or_default())
        .collect())
}

/// A row of the claim statement: one per item, the claim's columns NULL when not claimed.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    attempt: Option<i32>,
    cancel_requested: Option<bool>,
    system_prompt: Option<String>,
    on_offer: Option<bool>,
    history_roles: Vec<String>,
    history_contents: Vec<String>,
}

fn has_duplicates(ids: &[Uuid]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    !ids.iter().all(|id| seen.insert(id))
}

/// How an attempt ended.
pub enum Outcome {
    Done { finish_reason: String, usage: Usage },
    Cancelled,
    Error { code: &'static str, message: String },
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
    pub outcome: Outcome,
    /// The provider called, if one was.
    pub provider: Option<&'static str>,
    pub timing: Timing,
}

struct Finishes(PgPool);

impl Statement for Finishes {
    type Item = Finish;
    type Output = bool;

    async fn run(&self, finishes: &[Finish]) -> sqlx::Result<Vec<bool>> {
        let column = |f: fn(&Finish) -> Option<String>| finishes.iter().map(f).collect::<Vec<_>>();
        let usage = |f: fn(&Usage) -> u32| {
            finishes
                .iter()
                .map(|x| match &x.outcome {
                    Outcome::Done { usage, .. } => Some(f(usage) as i32),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let owned: Vec<(Uuid, i32)> = sqlx::query_as(
            "WITH finished AS (
                 UPDATE messages m
                 SET content = f.content, status = f.status, finish_reason = f.finish_reason,
                     input_tokens = f.input_tokens, output_tokens = f.output_tokens,
                     error_code = f.error_code, error_message = f.error_message,
                     latency_ms = f.latency_ms, ttft_ms = f.ttft_ms, completed_at = now(),
                     first_seq = CASE WHEN f.attempt = 1 THEN COALESCE(f.first_seq, m.first_seq)
                                      ELSE m.first_seq END,
                     provider = COALESCE(f.provider, m.provider)
                 FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],
                             $6::int[], $7::int[], $8::text[], $9::text[], $10::int[],
                             $11::int[], $12::bigint[], $13::text[])
                      AS f(id, attempt, content, status, finish_reason, input_tokens,
                           output_tokens, error_code, error_message, latency_ms, ttft_ms,
                           first_seq, provider)
                 -- `= ANY` lets the planner find the rows by primary key; a join on `unnest`
                 -- alone (estimated at 100 rows) can turn into a scan of the whole table.
                 WHERE m.id = ANY($1) AND m.id = f.id AND m.attempt = f.attempt
                   AND m.status = 'streaming'
                 RETURNING m.id, f.attempt),
             -- The answer is stored, so its queue row is spent: deleted here rather than left
             -- `Done` for apalis's ack, which finds rows by scanning every row its worker holds
             -- (see `finished_jobs.rs`). Only rows of attempts that still own their message:
             -- a stale attempt must not delete the row of the attempt that replaced it.
             spent AS (
                 DELETE FROM apalis.jobs
                 WHERE job_type = $14 AND idempotency_key IN (SELECT id::text FROM finished))
             SELECT id, attempt FROM finished",
        )
        .bind(finishes.iter().map(|f| f.message_id).collect::<Vec<_>>())
        .bind(finishes.iter().map(|f| f.attempt).collect::<Vec<_>>())
        .bind(
            finishes
                .iter()
                .map(|f| f.content.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            finishes
                .iter()
                .map(|f| f.outcome.status())
                .collect::<Vec<_>>(),
        )
        .bind(column(|f| match &f.outcome {
            Outcome::Done { finish_reason, .. } => Some(finish_reason.clone()),
            _ => None,
        }))
        .bind(usage(|u| u.input_tokens))
        .bind(usage(|u| u.output_tokens))
        .bind(column(|f| match &f.outcome {
            Outcome::Error { code, .. } => Some(code.to_string()),
            _ => None,
        }))
        .bind(column(|f| match &f.outcome {
            Outcome::Error { message, .. } => Some(message.clone()),
            _ => None,
        }))
        .bind(
            finishes
                .iter()
                .map(|f| f.timing.latency_ms)
                .collect::<Vec<_>>(),
        )
        .bind(
            finishes
                .iter()
                .map(|f| f.timing.ttft_ms)
                .collect::<Vec<_>>(),
        )
        .bind(
            finishes
                .iter()
                .map(|f| f.timing.start_seq.map(|s| s as i64))
                .collect::<Vec<_>>(),
        )
        .bind(column(|f| f.provider.map(str::to_string)))
        .bind(CHAT_QUEUE)
        .fetch_all(&self.0)
        .await?;
        Ok(finishes
            .iter()
            .map(|f| owned.contains(&(f.message_id, f.attempt)))
            .collect())
    }
}

impl Outcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Done { .. } => "done",
            Self::Cancelled => "cancelled",
            Self::Error { .. } => "error",
        }
    }
}

struct LastSeqs(PgPool);

impl Statement for LastSeqs {
    type Item = (Uuid, i64);
    type Output = ();

    async fn run(&self, seqs: &[(Uuid, i64)]) -> sqlx::Result<Vec<()>> {
        let (ids, seqs): (Vec<Uuid>, Vec<i64>) = seqs.iter().copied().unzip();
        sqlx::query(
            "UPDATE messages m SET last_seq = u.seq
             FROM unnest($1::uuid[], $2::bigint[]) AS u(id, seq)
             WHERE m.id = ANY($1) AND m.id = u.id",
        )
        .bind(&ids)
        .bind(&seqs)
        .execute(&self.0)
        .await?;
        Ok(vec![(); ids.len()])
    }
}
