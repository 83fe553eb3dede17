//! The `groups` rows (folders). Every query takes the owner's id: another user's folder is
//! simply not found.

use sluice_shared::dto::GroupOut;
use sqlx::PgPool;
use uuid::Uuid;

/// What a change to a folder came to.
pub enum Saved {
    Group(GroupOut),
    /// The owner has a folder of that name already.
    NameTaken,
    /// No such folder of the owner's.
    NotFound,
}

fn saved(result: sqlx::Result<Option<GroupOut>>) -> sqlx::Result<Saved> {
    match result {
        Ok(Some(group)) => Ok(Saved::Group(group)),
        Ok(None) => Ok(Saved::NotFound),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Saved::NameTaken),
        Err(e) => Err(e),
    }
}

/// The owner's folders by name, each with how many conversations it holds.
pub async fn list(pool: &PgPool, owner: Uuid) -> sqlx::Result<Vec<GroupOut>> {
    sqlx::query_as(
        "SELECT g.id, g.name, g.created_at,
                (SELECT count(*) FROM conversations c WHERE c.group_id = g.id) AS conversations
         FROM groups g WHERE g.user_id = $1 ORDER BY lower(g.name), g.id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
}

/// A new folder, unless the owner has `max` already (`Ok(None)`).
pub async fn insert(
    pool: &PgPool,
    owner: Uuid,
    name: &str,
    max: i64,
) -> sqlx::Result<Option<Saved>> {
    // The count and the insert in one statement; two racing inserts may both pass the count,
    // which lets one user hold `max + 1` folders at worst: a bound, not an invariant.
    let row = sqlx::query_as(
        "INSERT INTO groups (id, user_id, name)
         SELECT $1, $2, $3 WHERE (SELECT count(*) FROM groups WHERE user_id = $2) < $4
         RETURNING id, name, created_at, 0::int8 AS conversations",
    )
    .bind(Uuid::now_v7())
    .bind(owner)
    .bind(name)
    .bind(max)
    .fetch_optional(pool)
    .await;
    match saved(row)? {
        Saved::NotFound => Ok(None),
        other => Ok(Some(other)),
    }
}

pub async fn rename(pool: &PgPool, owner: Uuid, id: Uuid, name: &str) -> sqlx::Result<Saved> {
    saved(
        sqlx::query_as(
            "UPDATE groups g SET name = $3 WHERE g.id = $1 AND g.user_id = $2
             RETURNING g.id, g.name, g.created_at,
                       (SELECT count(*) FROM conversations c WHERE c.group_id = g.id) AS conversations",
        )
        .bind(id)
        .bind(owner)
        .bind(name)
        .fetch_optional(pool)
        .await,
    )
}

/// Deletes the folder; its conversations stay, ungrouped (the foreign key sets their
/// `group_id` to NULL). False if the owner had no such folder.
pub async fn delete(pool: &PgPool, owner: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("DELETE FROM groups WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}
