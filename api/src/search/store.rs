//! The search query: one user's conversation titles and message texts that match, best first.
//! Full text (`websearch_to_tsquery`, English stemming) ranks first; a substring match (the
//! trigram indexes) finds what full text does not stem — identifiers, names, parts of words —
//! ranked after. Both indexes lead with the owner, so a search reads one user's entries only
//! (`migrations/20261208000002_search.sql`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Marks around a matched word in a snippet (private-use characters no text is made of).
pub const START: char = '\u{e000}';
pub const STOP: char = '\u{e001}';

#[derive(Debug, sqlx::FromRow)]
pub struct HitRow {
    pub conversation_id: Uuid,
    pub conversation_title: Option<String>,
    /// `None` when the title matched.
    pub message_id: Option<Uuid>,
    pub role: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The matched words between `START` and `STOP`.
    pub snippet: String,
}

/// Hits `offset..offset + limit` of `owner`'s search for `query`. `needle` is the query as a
/// substring to look for too (3 characters or more, or `None`).
pub async fn search(
    pool: &PgPool,
    owner: Uuid,
    query: &str,
    needle: Option<&str>,
    offset: i64,
    limit: i64,
) -> sqlx::Result<Vec<HitRow>> {
    // Ranks: full-text hits 1 + ts_rank (titles weigh double), substring-only hits 0.
    sqlx::query_as(
        "WITH q AS (
             SELECT websearch_to_tsquery('english', $2) AS fts,
                    '%' || replace(replace(replace($3, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
                        AS pattern
         ),
         hits AS (
             SELECT c.id AS conversation_id, NULL::uuid AS message_id, c.created_at,
                    CASE WHEN c.search @@ q.fts THEN 1 + 2 * ts_rank(c.search, q.fts) ELSE 0 END
                        AS rank
             FROM conversations c, q
             WHERE c.user_id = $1 AND c.title IS NOT NULL
               AND (c.search @@ q.fts OR ($3::text IS NOT NULL AND c.title ILIKE q.pattern))
             UNION ALL
             SELECT m.conversation_id, m.id, m.created_at,
                    CASE WHEN m.search @@ q.fts THEN 1 + ts_rank(m.search, q.fts) ELSE 0 END
             FROM messages m, q
             -- Replaced versions (regenerated, edited) are not what the app shows.
             WHERE m.user_id = $1 AND m.superseded_at IS NULL
               AND (m.search @@ q.fts OR ($3::text IS NOT NULL AND m.content ILIKE q.pattern))
             ORDER BY rank DESC, created_at DESC, message_id DESC NULLS FIRST
             OFFSET $4 LIMIT $5
         )
         SELECT h.conversation_id, c.title AS conversation_title, h.message_id, m.role,
                COALESCE(m.created_at, c.created_at) AS created_at,
                COALESCE(CASE WHEN h.rank > 0 THEN ts_headline('english', COALESCE(m.content, c.title),
                         q.fts, 'StartSel=\u{e000}, StopSel=\u{e001}, MaxWords=30, MinWords=12,
                                 ShortWord=2')
                     ELSE sluice_substring_snippet(COALESCE(m.content, c.title), $3)
                END, '') AS snippet
         FROM hits h
         JOIN conversations c ON c.id = h.conversation_id
         LEFT JOIN messages m ON m.id = h.message_id, q
         ORDER BY h.rank DESC, h.created_at DESC, h.message_id DESC NULLS FIRST",
    )
    .bind(owner)
    .bind(query)
    .bind(needle)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await
}
