//! Sending files with a question: the send claims them for the question's id just before the
//! statement that writes the question and its job, so a worker always finds them; a send that
//! is refused (or dropped) after the claim gives them back. A file goes with one question.

use axum::http::StatusCode;
use sluice_shared::estimate;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// Files claimed for a question not yet written: given back when dropped unless `kept`.
#[must_use]
pub struct Claimed {
    pool: PgPool,
    question: Uuid,
    held: bool,
    /// What the files add to the prompt, estimated (text by its characters, an image as one
    /// image), for the budget's reservation.
    pub tokens: u32,
}

impl Claimed {
    /// The question was written: the files are its own now.
    pub fn kept(mut self) {
        self.held = false;
    }

    /// The send was refused: the files are unsent again before the refusal is answered (so
    /// sending them again at once works).
    pub async fn give_back(mut self) -> sqlx::Result<()> {
        if self.held {
            self.held = false;
            release(&self.pool, self.question).await?;
        }
        Ok(())
    }
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if self.held {
            let (pool, question) = (self.pool.clone(), self.question);
            tokio::spawn(async move {
                if let Err(e) = release(&pool, question).await {
                    tracing::warn!(error = %e, "files claimed by a refused send stay claimed until the clean-up job frees them");
                }
            });
        }
    }
}

/// Claims `files` of `owner` for question `question`. Refused (nothing claimed): more than
/// `max_per_message`; a file that is not the owner's, is gone or was sent already; an image
/// for a model that cannot see, or larger than its provider takes.
pub async fn claim(
    state: &AppState,
    owner: Uuid,
    question: Uuid,
    files: &[Uuid],
    model: &str,
) -> Result<Claimed, ApiError> {
    let mut claimed = Claimed {
        pool: state.pool.clone(),
        question,
        held: false,
        tokens: 0,
    };
    if files.is_empty() {
        return Ok(claimed);
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
    let rows: Vec<(Uuid, String, i64, Option<i64>)> = sqlx::query_as(
        "UPDATE files SET message_id = $1, claimed_at = now()
         WHERE id = ANY($2) AND user_id = $3 AND message_id IS NULL
         RETURNING id, content_type, bytes, text_chars",
    )
    .bind(question)
    .bind(&distinct)
    .bind(owner)
    .fetch_all(&state.pool)
    .await?;
    claimed.held = !rows.is_empty();
    let refusal = refusal(state, &rows, &distinct, model);
    if let Some(refusal) = refusal {
        claimed.give_back().await?;
        return Err(refusal);
    }
    let files = rows.iter().map(|r| (r.1.as_str(), r.3));
    claimed.tokens = prompt_tokens(state, model, files);
    Ok(claimed)
}

/// What files (their type and characters of text) add to `model`'s prompt, estimated for the
/// budget's reservation: text by its characters, an image as one image; never more than the
/// context, where the prompt cuts them.
pub fn prompt_tokens<'a>(
    state: &AppState,
    model: &str,
    files: impl Iterator<Item = (&'a str, Option<i64>)>,
) -> u32 {
    let context = state
        .config
        .model(model)
        .map_or(u32::MAX, |m| m.context_tokens);
    let tokens: u64 = files
        .map(
            |(content_type, chars)| match content_type.starts_with("image/") {
                true => 1_000,
                false => chars.unwrap_or(0).max(0) as u64 / 4,
            },
        )
        .sum();
    if tokens == 0 {
        return 0;
    }
    tokens.min(u64::from(context)) as u32 + estimate::tokens("")
}

/// Why the claimed `rows` (of the files `asked`) cannot go to `model`, if they cannot.
fn refusal(
    state: &AppState,
    rows: &[(Uuid, String, i64, Option<i64>)],
    asked: &[Uuid],
    model: &str,
) -> Option<ApiError> {
    if rows.len() != asked.len() {
        let missing = asked
            .iter()
            .find(|id| !rows.iter().any(|r| r.0 == **id))
            .copied()
            .unwrap_or_default();
        return Some(ApiError::unfit(
            "unknown_file",
            format!("file {missing} is not one of yours that is still unsent (upload it again)"),
        ));
    }
    let config = state.config.model(model);
    let mut images = rows.iter().filter(|r| r.1.starts_with("image/")).peekable();
    if images.peek().is_some() && !config.is_some_and(|m| m.vision) {
        return Some(ApiError::unfit(
            "model_cannot_see",
            format!(
                "model {model:?} cannot read images: pick a model that can, or send the text alone"
            ),
        ));
    }
    let max = config.map_or(i64::MAX, sluice_shared::files::max_image_bytes);
    images.any(|r| r.2 > max).then(|| {
        ApiError::unfit(
            "image_too_large",
            format!("model {model:?} takes images of at most {max} bytes"),
        )
    })
}

/// Gives back the files claimed for a question that was not written.
pub async fn release(pool: &PgPool, question: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE files SET message_id = NULL, claimed_at = NULL WHERE message_id = $1")
        .bind(question)
        .execute(pool)
        .await?;
    Ok(())
}
