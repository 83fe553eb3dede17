//! The `files` rows, always read with the owner's id.

use sluice_shared::dto::FileOut;
use sqlx::PgPool;
use uuid::Uuid;

/// The columns a `FileOut` reads, as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, name, content_type, bytes, created_at, message_id, text_chars"
    };
}

/// A new file's row.
pub struct NewFile<'a> {
    pub id: Uuid,
    pub owner: Uuid,
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: i64,
    pub text: Option<&'a str>,
    pub text_chars: Option<i64>,
}

/// Stores the row unless it would take the owner's files past `max_user_bytes` (`None`).
pub async fn insert(
    pool: &PgPool,
    file: NewFile<'_>,
    max_user_bytes: i64,
) -> sqlx::Result<Option<FileOut>> {
    // Two uploads finishing together may both pass the sum: a bound, not an invariant (at
    // most one file over).
    sqlx::query_as(concat!(
        "INSERT INTO files (id, user_id, name, content_type, bytes, text, text_chars)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE (SELECT COALESCE(sum(bytes), 0) FROM files WHERE user_id = $2) + $5 <= $8
         RETURNING ",
        columns!()
    ))
    .bind(file.id)
    .bind(file.owner)
    .bind(file.name)
    .bind(file.content_type)
    .bind(file.bytes)
    .bind(file.text)
    .bind(file.text_chars)
    .bind(max_user_bytes)
    .fetch_optional(pool)
    .await
}

/// Bytes the owner's files hold together.
pub async fn used_bytes(pool: &PgPool, owner: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(sum(bytes), 0)::int8 FROM files WHERE user_id = $1")
        .bind(owner)
        .fetch_one(pool)
        .await
}

pub async fn find(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<Option<FileOut>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM files WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

/// The owner's files, newest first.
pub async fn list(pool: &PgPool, owner: Uuid) -> sqlx::Result<Vec<FileOut>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM files WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(owner)
    .fetch_all(pool)
    .await
}

/// Deletes the row (its object is queued for the clean-up job by a trigger); false if the
/// owner has no such file.
pub async fn delete(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM files WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
