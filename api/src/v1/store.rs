//! Where a `/v1` request's conversation is kept: a conversation of origin `api` holding the
//! request's system prompt and earlier turns. The question and its answer then go in through
//! the normal send path, so they are stored, queued and offered like any other message (a
//! request with no earlier turns makes its conversation in that same statement).

use sqlx::PgPool;
use uuid::Uuid;

use super::request::ChatRequest;

/// Conversation titles are the question's first characters, as in the app.
/// The conversation's title, from the question.
pub fn title(request: &ChatRequest) -> String {
    crate::conversations::title_from(&request.question)
}

/// Stores the conversation and its earlier turns in one statement; returns its id.
pub async fn create_conversation(
    pool: &PgPool,
    owner: Uuid,
    request: &ChatRequest,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    // Ids in turn order (v7 ids increase), which also orders turns stored in the same instant.
    let ids: Vec<Uuid> = request.history.iter().map(|_| Uuid::now_v7()).collect();
    let roles: Vec<&str> = request.history.iter().map(|t| t.role).collect();
    let contents: Vec<&str> = request.history.iter().map(|t| t.content.as_str()).collect();
    sqlx::query(
        "WITH conversation AS (
             INSERT INTO conversations (id, user_id, title, model, system_prompt, origin)
             VALUES ($1, $2, $3, $4, $5, 'api')
             RETURNING id)
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                               created_at)
         SELECT t.id, (SELECT id FROM conversation), $2, t.role, t.content,
                CASE WHEN t.role = 'user' THEN 'complete' ELSE 'done' END,
                CASE WHEN t.role = 'user' THEN NULL ELSE $4 END,
                now() + make_interval(secs => t.n / 1000000.0)
         FROM unnest($6::uuid[], $7::text[], $8::text[]) WITH ORDINALITY AS t(id, role, content, n)",
    )
    .bind(id)
    .bind(owner)
    .bind(title(request))
    .bind(&request.model)
    // Empty, not NULL: the request's own system prompt, even none, never the server's default.
    .bind(&request.system)
    .bind(&ids)
    .bind(&roles)
    .bind(&contents)
    .execute(pool)
    .await?;
    Ok(id)
}
