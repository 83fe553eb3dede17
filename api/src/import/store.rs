//! Storing an import: every conversation, its messages and the folders they are filed in, in
//! one transaction — all or nothing. Messages get new ids (what they answer and replace is
//! mapped to them); answers that were unfinished when exported are stored as cancelled.
//! They are marked `imported`: history, not spending on this server. The files an account
//! export carries come back with their questions (`files.rs`), within the owner's quota.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sluice_shared::{message_status::MessageStatus, title::is_unsafe_in_name};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{files, read::Batch};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// Messages written per statement.
const CHUNK: usize = 1000;
/// Longest title and folder name kept, in characters (as the API takes them).
const TITLE_CHARS: usize = 200;
const FOLDER_CHARS: usize = 100;

/// What an import stored.
pub struct Stored {
    pub conversations: Vec<Uuid>,
    pub messages: u64,
    pub folders_created: u64,
}

pub async fn store(
    state: &AppState,
    owner: Uuid,
    mut batch: Batch,
    max_groups: i64,
) -> ApiResult<Stored> {
    let carried = files::carry(state, owner, &mut batch).await?;
    let stored = store_rows(state, owner, &batch, &carried, max_groups).await;
    if stored.is_err() {
        carried.discard(state).await;
    }
    stored
}

async fn store_rows(
    state: &AppState,
    owner: Uuid,
    batch: &Batch,
    carried: &files::CarriedFiles,
    max_groups: i64,
) -> ApiResult<Stored> {
    let mut tx = state.pool.begin().await?;
    let (folders, folders_created) = folders(&mut tx, owner, batch, max_groups).await?;
    let mut stored = Stored {
        conversations: Vec::with_capacity(batch.conversations.len()),
        messages: 0,
        folders_created,
    };
    for doc in &batch.conversations {
        let c = &doc.conversation;
        let id = Uuid::now_v7();
        let title = c.title.as_deref().and_then(|t| clean(t, TITLE_CHARS));
        let folder = c
            .folder
            .as_deref()
            .and_then(|f| clean(f, FOLDER_CHARS))
            .and_then(|f| folders.get(&f).copied());
        sqlx::query(
            "INSERT INTO conversations (id, user_id, title, title_set_by, model, system_prompt,
                                        group_id, favorite, created_at, updated_at)
             VALUES ($1, $2, $3, CASE WHEN $3 IS NULL THEN 'rule' ELSE 'user' END, $4, $5,
                     $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(owner)
        .bind(&title)
        .bind(&c.model)
        .bind(&c.system_prompt)
        .bind(folder)
        .bind(c.favorite)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(unstorable)?;
        let mut new_ids: HashMap<Uuid, Uuid> = HashMap::new();
        for chunk in doc.messages.chunks(CHUNK) {
            let mut rows = Rows::default();
            for m in chunk {
                let new = Uuid::now_v7();
                new_ids.insert(m.id, new);
                let unfinished =
                    matches!(m.status, MessageStatus::Queued | MessageStatus::Streaming);
                let status = if unfinished {
                    MessageStatus::Cancelled
                } else {
                    m.status
                };
                let ended = m.completed_at.or(unfinished.then_some(m.created_at));
                rows.id.push(new);
                rows.role.push(m.role.clone());
                rows.content.push(m.content.clone());
                rows.status.push(status.as_str().to_string());
                rows.model.push(m.model.clone());
                rows.provider.push(m.provider.clone());
                rows.attempt.push(m.attempt);
                rows.finish_reason.push(m.finish_reason.clone());
                rows.input_tokens
                    .push(m.usage.as_ref().map(|u| u.input_tokens as i32));
                rows.output_tokens
                    .push(m.usage.as_ref().map(|u| u.output_tokens as i32));
                rows.cost_usd.push(m.cost_usd);
                rows.latency_ms.push(m.latency_ms);
                rows.ttft_ms.push(m.ttft_ms);
                rows.error_code.push(m.error_code.clone());
                rows.created_at.push(m.created_at);
                rows.completed_at.push(ended);
                rows.reply_to
                    .push(m.reply_to.and_then(|r| new_ids.get(&r).copied()));
                rows.edit_of
                    .push(m.edit_of.and_then(|r| new_ids.get(&r).copied()));
                rows.superseded_at
                    .push(m.superseded.then(|| ended.unwrap_or(m.created_at)));
                rows.usage_estimated.push(m.usage_estimated);
            }
            stored.messages += rows.insert(&mut tx, id, owner).await.map_err(unstorable)?;
        }
        for m in doc.messages.iter().filter(|m| !m.attachments.is_empty()) {
            carried
                .insert_rows(&mut tx, owner, new_ids[&m.id], &m.attachments)
                .await?;
        }
        stored.conversations.push(id);
    }
    let limits = &state.config.files;
    let used: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(bytes), 0)::int8 FROM files WHERE user_id = $1")
            .bind(owner)
            .fetch_one(&mut *tx)
            .await?;
    if used > limits.max_user_bytes as i64 {
        return Err(crate::files::quota_exceeded(limits.max_user_bytes));
    }
    tx.commit().await?;
    Ok(stored)
}

/// Makes the folders the batch names that the owner lacks (matched by name, case aside, as
/// Postgres folds it) and returns every one of them by the name the batch gave, with how many
/// were made.
async fn folders(
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
    batch: &Batch,
    max_groups: i64,
) -> ApiResult<(HashMap<String, Uuid>, u64)> {
    let too_many = || {
        ApiError::unfit(
            "too_many_groups",
            format!(
                "the import needs more folders than the {max_groups} one may have: delete some first"
            ),
        )
    };
    let mut names: Vec<String> = Vec::new();
    let mut made_at: Vec<Option<DateTime<Utc>>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let listed = batch.folders.iter().map(|(n, at)| (n.as_str(), *at));
    let filed = batch
        .conversations
        .iter()
        .filter_map(|d| d.conversation.folder.as_deref().map(|n| (n, None)));
    for (name, at) in listed.chain(filed) {
        let Some(name) = clean(name, FOLDER_CHARS) else {
            continue;
        };
        if seen.insert(name.clone()) {
            names.push(name);
            made_at.push(at);
            // Spelled differently, folders may still be one: Postgres decides below.
            if names.len() as i64 > 2 * max_groups {
                return Err(too_many());
            }
        }
    }
    if names.is_empty() {
        return Ok((HashMap::new(), 0));
    }
    let ids: Vec<Uuid> = names.iter().map(|_| Uuid::now_v7()).collect();
    let created = sqlx::query(
        "INSERT INTO groups (id, user_id, name, created_at)
         SELECT i, $2, n, COALESCE(t, now())
         FROM unnest($1::uuid[], $3::text[], $4::timestamptz[]) AS x(i, n, t)
         ON CONFLICT (user_id, lower(name)) DO NOTHING",
    )
    .bind(&ids)
    .bind(owner)
    .bind(&names)
    .bind(&made_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM groups WHERE user_id = $1")
        .bind(owner)
        .fetch_one(&mut **tx)
        .await?;
    if total > max_groups {
        return Err(too_many());
    }
    let found: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT x.n, g.id FROM unnest($2::text[]) AS x(n)
         JOIN groups g ON g.user_id = $1 AND lower(g.name) = lower(x.n)",
    )
    .bind(owner)
    .bind(&names)
    .fetch_all(&mut **tx)
    .await?;
    Ok((found.into_iter().collect(), created))
}

/// A value the checks let through that Postgres refuses (a data exception, class 22) is the
/// import's fault, not the server's: 422.
fn unstorable(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
            ApiError::unfit(
                "invalid_import",
                format!(
                    "a record holds a value that cannot be stored: {}",
                    db.message()
                ),
            )
        }
        _ => e.into(),
    }
}

/// A name or title as the API would take it: without control or invisible characters,
/// trimmed, cut to `max` characters; `None` when nothing is left.
fn clean(text: &str, max: usize) -> Option<String> {
    let kept: String = text.replace(is_unsafe_in_name, " ");
    let kept: String = kept.trim().chars().take(max).collect();
    let kept = kept.trim_end().to_string();
    (!kept.is_empty()).then_some(kept)
}

/// One statement's messages, column by column.
#[derive(Default)]
struct Rows {
    id: Vec<Uuid>,
    role: Vec<String>,
    content: Vec<String>,
    status: Vec<String>,
    model: Vec<Option<String>>,
    provider: Vec<Option<String>>,
    attempt: Vec<i32>,
    finish_reason: Vec<Option<String>>,
    input_tokens: Vec<Option<i32>>,
    output_tokens: Vec<Option<i32>>,
    cost_usd: Vec<Option<f64>>,
    latency_ms: Vec<Option<i32>>,
    ttft_ms: Vec<Option<i32>>,
    error_code: Vec<Option<String>>,
    created_at: Vec<DateTime<Utc>>,
    completed_at: Vec<Option<DateTime<Utc>>>,
    reply_to: Vec<Option<Uuid>>,
    edit_of: Vec<Option<Uuid>>,
    superseded_at: Vec<Option<DateTime<Utc>>>,
    usage_estimated: Vec<bool>,
}

impl Rows {
    async fn insert(
        self,
        tx: &mut Transaction<'_, Postgres>,
        conversation: Uuid,
        owner: Uuid,
    ) -> sqlx::Result<u64> {
        let done = sqlx::query(
            "INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                 provider, attempt, finish_reason, input_tokens, output_tokens, cost_usd,
                 latency_ms, ttft_ms, error_code, created_at, completed_at, reply_to, edit_of,
                 superseded_at, usage_estimated, imported)
             SELECT id, $1, $2, role, content, status, model, provider, attempt, finish_reason,
                 input_tokens, output_tokens, cost_usd::numeric(12, 6), latency_ms, ttft_ms,
                 error_code, created_at, completed_at, reply_to, edit_of, superseded_at,
                 usage_estimated, true
             FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::int4[], $10::text[], $11::int4[], $12::int4[], $13::float8[], $14::int4[],
                 $15::int4[], $16::text[], $17::timestamptz[], $18::timestamptz[], $19::uuid[],
                 $20::uuid[], $21::timestamptz[], $22::bool[])
               AS m(id, role, content, status, model, provider, attempt, finish_reason,
                    input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, error_code,
                    created_at, completed_at, reply_to, edit_of, superseded_at, usage_estimated)",
        )
        .bind(conversation)
        .bind(owner)
        .bind(self.id)
        .bind(self.role)
        .bind(self.content)
        .bind(self.status)
        .bind(self.model)
        .bind(self.provider)
        .bind(self.attempt)
        .bind(self.finish_reason)
        .bind(self.input_tokens)
        .bind(self.output_tokens)
        .bind(self.cost_usd)
        .bind(self.latency_ms)
        .bind(self.ttft_ms)
        .bind(self.error_code)
        .bind(self.created_at)
        .bind(self.completed_at)
        .bind(self.reply_to)
        .bind(self.edit_of)
        .bind(self.superseded_at)
        .bind(self.usage_estimated)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected())
    }
}
