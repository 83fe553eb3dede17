//! The claim: one statement takes the next attempt of each answer, leases handed-off jobs'
//! queue rows (`sluice_shared::queue::lease`) and reads each prompt's history. In steps:
//! 1. `item`: what was submitted; `locked`/`offered`: handed-off rows still on offer (queue);
//! 2. `claimed`: the answers' next attempts;
//! 3. `leased`/`spent_offer`: the offered rows leased, or deleted if the answer was over (queue);
//! 4. the history each claimed answer's prompt needs.

use std::collections::{HashMap, HashSet};

use sluice_shared::{
    batch::{Statement, column},
    job::CHAT_QUEUE,
    queue_lease_claimed_rows, queue_offered_rows,
};

use crate::{history_of, own_keys_of};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Claim, HISTORY_LIMIT, Lease, OwnKeyJson, Prompt, own_keys};

/// A handed-off job's part of a claim: whose lease, and whether to check the queue first.
pub(super) struct OfferedItem {
    pub(super) lease: Lease,
    pub(super) check_queue: bool,
}

/// One item's answer from the claim statement.
#[derive(Default)]
pub(super) struct Claimed {
    pub(super) claim: Option<Claim>,
    /// For handed-off jobs: whether the row was still on offer (now leased to this worker, or
    /// deleted because the answer was already over).
    pub(super) on_offer: bool,
}

pub(super) struct Claims(pub(super) PgPool);

impl Statement for Claims {
    type Item = (Uuid, Option<OfferedItem>);
    type Output = Claimed;

    async fn run(&self, items: &[(Uuid, Option<OfferedItem>)]) -> sqlx::Result<Vec<Claimed>> {
        // One UPDATE changes a row once, so two jobs for the same message in one batch would
        // both get its single new attempt: claim repeats one at a time instead.
        if has_duplicates(&column(items, |(id, _)| *id)) {
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
async fn claim_each(
    pool: &PgPool,
    items: &[(Uuid, Option<OfferedItem>)],
) -> sqlx::Result<Vec<Claimed>> {
    let ids = column(items, |(id, _)| *id);
    let lease = |f: fn(&Lease) -> &str| column(items, |(_, o)| o.as_ref().map(|o| f(&o.lease)));
    let check_queue = column(items, |(_, o)| o.as_ref().is_some_and(|o| o.check_queue));
    let rows: Vec<ClaimRow> = sqlx::query_as(concat!(
        "WITH item AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $6::bool[])
                 AS i(id, job_id, worker, check_queue)),",
        queue_offered_rows!("$2", "$5"),
        "claimed AS (
             UPDATE messages m
             SET attempt = m.attempt + 1, status = 'streaming',
                 started_at = COALESCE(m.started_at, now())
             FROM conversations c, item
             WHERE m.id = ANY($1) AND m.id = item.id AND c.id = m.conversation_id
               AND m.status IN ('queued', 'streaming')
               AND (item.job_id IS NULL OR item.job_id IN (SELECT id FROM offered))
             RETURNING m.id, m.attempt, m.cancel_requested, c.system_prompt,
                       m.conversation_id, c.user_id, item.job_id,
                       -- History ends with the question: for a regenerated answer, that
                       -- excludes the earlier answers to it.
                       COALESCE((SELECT q.created_at + interval '1 microsecond'
                                 FROM messages q WHERE q.id = m.reply_to),
                                m.created_at) AS history_end),",
        queue_lease_claimed_rows!(),
        "SELECT item.id, claimed.attempt, claimed.cancel_requested, claimed.system_prompt,
                item.job_id IN (SELECT id FROM offered) AS on_offer,
                COALESCE(h.roles, '{}') AS history_roles,
                COALESCE(h.contents, '{}') AS history_contents, h.files AS history_files, ",
        own_keys_of!("claimed.user_id"),
        "
         FROM item LEFT JOIN claimed ON claimed.id = item.id LEFT JOIN LATERAL (",
        history_of!("claimed.conversation_id", "claimed.history_end", "$4"),
        ") h ON claimed.id IS NOT NULL"
    ))
    .bind(&ids)
    .bind(lease(|l| l.job_id.as_str()))
    .bind(lease(|l| l.worker.as_str()))
    .bind(HISTORY_LIMIT)
    .bind(CHAT_QUEUE)
    .bind(check_queue)
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(|row| {
        let claim = row.attempt.map(|attempt| Claim {
            attempt,
            cancel_requested: row.cancel_requested.unwrap_or(false),
            prompt: Prompt {
                system_prompt: row.system_prompt,
                history_roles: row.history_roles,
                history_contents: row.history_contents,
                history_files: super::history_files(row.history_files),
                own_keys: own_keys(row.own_keys),
            },
        });
        let on_offer = row.on_offer.unwrap_or(false);
        (row.id, Claimed { claim, on_offer })
    });
    // One row per item, in no particular order.
    let mut rows: HashMap<Uuid, Claimed> = rows.collect();
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
    history_files: Option<sqlx::types::Json<Vec<Option<Vec<super::AttachedFile>>>>>,
    own_keys: sqlx::types::Json<Vec<OwnKeyJson>>,
}

fn has_duplicates(ids: &[Uuid]) -> bool {
    let mut seen = HashSet::with_capacity(ids.len());
    !ids.iter().all(|id| seen.insert(id))
}
