//! Conversation rows. Every query takes the owner's id: another user's conversation is simply
//! not found.

use chrono::{DateTime, Utc};
use sluice_shared::dto::{ConversationOut, ConversationPatch};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::messages::store::Unfinished;

#[derive(Debug, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub title: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
    pub group_id: Option<Uuid>,
    pub favorite: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ConversationRow> for ConversationOut {
    fn from(r: ConversationRow) -> Self {
        Self {
            id: r.id,
            title: r.title,
            model: r.model,
            system_prompt: r.system_prompt,
            group_id: r.group_id,
            favorite: r.favorite,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Where a conversation was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The web app, the CLI, the API's own routes.
    App,
    /// One `/v1/chat/completions` request.
    Api,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Api => "api",
        }
    }
}

/// Every column a row type reads, as a literal so queries stay `&'static str`.
macro_rules! conversation_columns {
    () => {
        "id, title, model, system_prompt, group_id, favorite, created_at, updated_at"
    };
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    title: Option<&str>,
    model: &str,
    system_prompt: Option<&str>,
) -> sqlx::Result<ConversationRow> {
    // A title given is the user's; without one, the title job names it after its first answer.
    sqlx::query_as(concat!(
        "INSERT INTO conversations (id, user_id, title, model, system_prompt, title_set_by)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $3::text IS NULL THEN 'rule' ELSE 'user' END)
         RETURNING ",
        conversation_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(owner)
    .bind(title)
    .bind(model)
    .bind(system_prompt)
    .fetch_one(db)
    .await
}

pub async fn find(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<Option<ConversationRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

/// What a change came to.
pub enum Updated {
    Conversation(ConversationRow),
    /// The owner has no such conversation.
    NoConversation,
    /// The owner has no such folder.
    NoGroup,
}

/// Changes the fields given.
pub async fn update(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    patch: &ConversationPatch,
) -> sqlx::Result<Updated> {
    let row = sqlx::query_as(concat!(
        "UPDATE conversations SET title = COALESCE($3, title), model = COALESCE($4, model),
                -- An empty prompt clears it (the server's default applies again).
                system_prompt = CASE WHEN $5::text IS NULL THEN system_prompt ELSE NULLIF($5, '') END,
                -- The foreign key (group_id, user_id) refuses another user's folder.
                group_id = CASE WHEN $6 THEN $7 ELSE group_id END,
                -- Renamed: the title job leaves it be.
                title_set_by = CASE WHEN $3::text IS NULL THEN title_set_by ELSE 'user' END,
                favorite = COALESCE($8, favorite),
                updated_at = now()
         WHERE id = $1 AND user_id = $2 RETURNING ",
        conversation_columns!()
    ))
    .bind(id)
    .bind(owner)
    .bind(patch.title.as_deref())
    .bind(patch.model.as_deref())
    .bind(patch.system_prompt.as_deref())
    .bind(patch.group_id.is_some())
    .bind(patch.group_id.flatten())
    .bind(patch.favorite)
    .fetch_optional(pool)
    .await;
    match row {
        Ok(Some(row)) => Ok(Updated::Conversation(row)),
        Ok(None) => Ok(Updated::NoConversation),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(Updated::NoGroup),
        Err(e) => Err(e),
    }
}

/// Which of the owner's conversations a list shows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter {
    /// `Some(None)`: only those in no folder; `Some(Some(id))`: only folder `id`'s.
    pub group: Option<Option<Uuid>>,
    pub favorite: Option<bool>,
}

/// One page of the owner's conversations of one origin (`app`: made in the app or the API's
/// own routes; `api`: made by `/v1/chat/completions`) that pass `filter`, newest first; `after`
/// is the (created_at, id) of the last row of the previous page.
pub async fn page(
    pool: &PgPool,
    owner: Uuid,
    origin: Origin,
    filter: Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ConversationRow>> {
    let (at, id) = after.unzip();
    sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations
         WHERE user_id = $1 AND origin = $5
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           AND (NOT $6 OR group_id IS NOT DISTINCT FROM $7)
           AND ($8::bool IS NULL OR favorite = $8)
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(owner)
    .bind(at)
    .bind(id)
    .bind(limit)
    .bind(origin.as_str())
    .bind(filter.group.is_some())
    .bind(filter.group.flatten())
    .bind(filter.favorite)
    .fetch_all(pool)
    .await
}

/// Deletes `owner`'s conversation `id` with its messages (cascade): `None` if they have no such
/// conversation, else the answers it had under way (the caller stops them).
pub async fn delete(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<Option<Vec<Unfinished>>> {
    // The SELECT sees the messages as they were before the DELETE (one snapshot); a row with no
    // message id says the conversation was deleted with nothing under way.
    let rows: Vec<(Option<Uuid>, Option<i32>)> = sqlx::query_as(
        "WITH gone AS (DELETE FROM conversations WHERE id = $1 AND user_id = $2 RETURNING id)
         SELECT m.id, m.attempt FROM gone
         LEFT JOIN messages m ON m.conversation_id = gone.id
                             AND m.status IN ('queued', 'streaming')",
    )
    .bind(id)
    .bind(owner)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let unfinished = rows
        .into_iter()
        .filter_map(|(answer, attempt)| {
            Some(Unfinished {
                conversation_id: id,
                id: answer?,
                attempt: attempt?,
            })
        })
        .collect();
    Ok(Some(unfinished))
}
