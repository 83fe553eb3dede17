//! Sending files with a question: the send claims them for the question's id just before the
//! statement that writes the question and its job, so a worker always finds them; a send that
//! is refused after the claim gives them back. A file goes with one question only.

use axum::http::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// Claims `files` of `owner` for question `question`. Refused (nothing claimed): more than
/// `max_per_message`; a file that is not the owner's, is gone or was sent already; an image
/// for a model that cannot see.
pub async fn claim(
    state: &AppState,
    owner: Uuid,
    question: Uuid,
    files: &[Uuid],
    model: &str,
) -> Result<(), ApiError> {
    if files.is_empty() {
        return Ok(());
    }
    let max = state.config.files.max_per_message;
    if files.len() > max {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_files",
            format!("a message carries at most {max} files"),
        ));
    }
    let mut distinct = files.to_vec();
    distinct.sort();
    distinct.dedup();
    let claimed: Vec<(Uuid, String)> = sqlx::query_as(
        "UPDATE files SET message_id = $1
         WHERE id = ANY($2) AND user_id = $3 AND message_id IS NULL
         RETURNING id, content_type",
    )
    .bind(question)
    .bind(&distinct)
    .bind(owner)
    .fetch_all(&state.pool)
    .await?;
    if claimed.len() != distinct.len() {
        release(&state.pool, question).await?;
        let missing = distinct
            .iter()
            .find(|id| !claimed.iter().any(|(c, _)| c == *id))
            .copied()
            .unwrap_or_default();
        return Err(ApiError::unfit(
            "unknown_file",
            format!("file {missing} is not one of yours that is still unsent (upload it again)"),
        ));
    }
    let sees = state.config.model(model).is_some_and(|m| m.vision);
    if !sees && claimed.iter().any(|(_, t)| t.starts_with("image/")) {
        release(&state.pool, question).await?;
        return Err(ApiError::unfit(
            "model_cannot_see",
            format!(
                "model {model:?} cannot read images: pick a model that can, or send the text alone"
            ),
        ));
    }
    Ok(())
}

/// Gives back the files claimed for a question that was not written.
pub async fn release(pool: &PgPool, question: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE files SET message_id = NULL WHERE message_id = $1")
        .bind(question)
        .execute(pool)
        .await?;
    Ok(())
}
