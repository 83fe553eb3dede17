//! The final write of an attempt: the answer's content, outcome and timing, and its spent
//! queue row deleted (`sluice_shared::queue::spent`), in one statement for every attempt that
//! ends at about the same time. It also says whether the answer's conversation still has the
//! title of its first message (the worker then enqueues its title job).

use sluice_shared::{
    batch::{Statement, column},
    events::{Ending, Usage},
    job::CHAT_QUEUE,
    queue_delete_finished_jobs,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::Finish;

pub(super) struct Finishes(pub(super) PgPool);

/// What storing an attempt's end came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// This attempt no longer owns the message (deleted, or another attempt took it over).
    NotOwned,
    /// Stored; `needs_title`: the answer is done and its conversation (one of the app's) is
    /// still titled by the rule.
    Stored { needs_title: bool },
}

impl Statement for Finishes {
    type Item = Finish;
    type Output = Finished;

    async fn run(&self, finishes: &[Finish]) -> sqlx::Result<Vec<Finished>> {
        let text = |f: fn(&Finish) -> Option<String>| column(finishes, f);
        let usage =
            |f: fn(&Usage) -> u32| column(finishes, |x| x.usage.as_ref().map(|u| f(u) as i32));
        let owned: Vec<(Uuid, i32, bool)> = sqlx::query_as(concat!(
            "WITH finished AS (
                 UPDATE messages m
                 SET content = f.content, status = f.status, finish_reason = f.finish_reason,
                     input_tokens = f.input_tokens, output_tokens = f.output_tokens,
                     error_code = f.error_code, error_message = f.error_message,
                     latency_ms = f.latency_ms, ttft_ms = f.ttft_ms, completed_at = now(),
                     first_seq = CASE WHEN f.attempt = 1 THEN COALESCE(f.first_seq, m.first_seq)
                                      ELSE m.first_seq END,
                     provider = COALESCE(f.provider, m.provider),
                     usage_estimated = f.usage_estimated, cost_usd = f.cost_usd,
                     error_retryable = f.error_retryable
                 FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],
                             $6::int[], $7::int[], $8::text[], $9::text[], $10::int[],
                             $11::int[], $12::bigint[], $13::text[], $15::bool[],
                             $16::float8[], $17::bool[])
                      AS f(id, attempt, content, status, finish_reason, input_tokens,
                           output_tokens, error_code, error_message, latency_ms, ttft_ms,
                           first_seq, provider, usage_estimated, cost_usd, error_retryable)
                 -- `= ANY` lets the planner find the rows by primary key; a join on `unnest`
                 -- alone (estimated at 100 rows) can turn into a scan of the whole table.
                 WHERE m.id = ANY($1) AND m.id = f.id AND m.attempt = f.attempt
                   AND m.status = 'streaming'
                 RETURNING m.id, f.attempt, m.status, m.conversation_id),",
            queue_delete_finished_jobs!("$14"),
            "SELECT f.id, f.attempt,
                    f.status = 'done' AND c.title_set_by = 'rule' AND c.origin = 'app'
             FROM finished f JOIN conversations c ON c.id = f.conversation_id"
        ))
        .bind(column(finishes, |f| f.message_id))
        .bind(column(finishes, |f| f.attempt))
        .bind(column(finishes, |f| f.content.as_str()))
        .bind(column(finishes, |f| f.ending.status()))
        .bind(text(|f| match &f.ending {
            Ending::Done { finish_reason, .. } => Some(finish_reason.clone()),
            _ => None,
        }))
        .bind(usage(|u| u.input_tokens))
        .bind(usage(|u| u.output_tokens))
        .bind(text(|f| match &f.ending {
            Ending::Error { code, .. } => Some(code.clone()),
            _ => None,
        }))
        .bind(text(|f| match &f.ending {
            Ending::Error { message, .. } => Some(message.clone()),
            _ => None,
        }))
        .bind(column(finishes, |f| f.timing.latency_ms))
        .bind(column(finishes, |f| f.timing.ttft_ms))
        .bind(column(finishes, |f| f.timing.start_seq.map(|s| s as i64)))
        .bind(text(|f| f.provider.map(str::to_string)))
        .bind(CHAT_QUEUE)
        .bind(column(finishes, |f| f.usage_estimated))
        .bind(column(finishes, |f| f.cost_usd))
        .bind(column(finishes, |f| {
            matches!(
                f.ending,
                Ending::Error {
                    retryable: true,
                    ..
                }
            )
        }))
        .fetch_all(&self.0)
        .await?;
        Ok(finishes
            .iter()
            .map(|f| {
                let stored = owned
                    .iter()
                    .find(|(id, attempt, _)| (*id, *attempt) == (f.message_id, f.attempt));
                match stored {
                    Some(&(_, _, needs_title)) => Finished::Stored { needs_title },
                    None => Finished::NotOwned,
                }
            })
            .collect())
    }
}
