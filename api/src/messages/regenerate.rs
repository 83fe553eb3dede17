//! `POST /api/messages/{id}/regenerate`: a new answer to the same question, as a new assistant
//! message; the earlier answer stays (marked superseded, out of later prompts). Only the
//! conversation's latest answer, once it has ended, can be regenerated. The new answer goes
//! through the same queue, hand-off, worker and stream as any other.

use axum::{Json, extract::State, http::StatusCode};
use sluice_shared::{dto::RegeneratedOut, insert_queue_row, job::ChatJob, queue::QueuedJob};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    enqueue,
    store::{MessageRow, message_columns},
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Id, RequestId},
    limits::{self, Spender},
    state::AppState,
};

/// A new answer to the same question; the earlier one stays, marked superseded.
#[utoipa::path(post, path = "/api/messages/{id}/regenerate", tag = "messages",
    params(("id" = Uuid, Path, description = "The conversation's latest answer")),
    responses(
        (status = 202, body = RegeneratedOut),
        (status = 422, description = "`not_an_answer`: a question cannot be regenerated", body = ErrorBody),
        (status = 404, description = "No such message of the caller's", body = ErrorBody),
        (status = 409, description = "`not_regenerable`: not the latest, or not ended", body = ErrorBody),
    ))]
pub async fn regenerate(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    RequestId(request_id): RequestId,
) -> ApiResult<(StatusCode, Json<RegeneratedOut>)> {
    let original = super::store::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if original.role != "assistant" {
        return Err(ApiError::wrong_kind(
            "not_an_answer",
            "only answers can be regenerated",
        ));
    }
    let answer_id = Uuid::now_v7();
    let job = ChatJob {
        message_id: answer_id,
        conversation_id: original.conversation_id,
        user_id: user.user_id,
        model: original
            .model
            .clone()
            .unwrap_or_else(|| state.config.default_model.clone()),
        request_id: request_id.clone(),
        options: Default::default(),
        traceparent: sluice_shared::telemetry::current_traceparent(),
    };
    let reservation = enqueue::reservation(&state, &job.model, 0, None);
    let (queued, offer) = enqueue::queue_row(&state, job)?;
    let first_seq = state.hub.next_seq_lower_bound();
    let spender = Spender::from(&user);
    let new = NewAnswer {
        id: answer_id,
        first_seq,
        request_id,
        spender,
        reservation,
    };
    let stored = store(&state.pool, &original, &new, &queued).await?;
    let Some(answer) = stored else {
        let refusal = ApiError::conflict(
            "not_regenerable",
            "only the conversation's latest answer can be regenerated, once it has ended",
        );
        let refusal = super::refused(&state, user.user_id, id, refusal).await;
        return Err(limits::refused_or(&state.pool, spender, refusal).await);
    };
    enqueue::offer_to_workers(&state, offer);
    let stream_url = format!("/api/messages/{}/stream", answer.id);
    Ok((
        StatusCode::ACCEPTED,
        Json(RegeneratedOut {
            assistant_message: answer.into(),
            stream_url,
        }),
    ))
}

/// The new answer: its id (chosen before it is stored: the job's payload names it), where its
/// events begin, and who pays for it.
struct NewAnswer {
    id: Uuid,
    first_seq: u64,
    request_id: Option<String>,
    spender: Spender,
    reservation: enqueue::Reservation,
}

/// In one statement: supersede `original` — only if it has ended, no answer came after it, and
/// the spender's limits admit one more (`sluice_reserve`) — and store the new answer and its
/// job. `None` when it did not qualify or a limit refused it.
async fn store(
    pool: &PgPool,
    original: &MessageRow,
    new: &NewAnswer,
    job: &QueuedJob,
) -> sqlx::Result<Option<MessageRow>> {
    let r = &new.reservation;
    sqlx::query_as(concat!(
        "WITH conversation AS (
             -- Locked first, as every statement that locks a conversation and a message or a
             -- budget does (design §12).
             SELECT id FROM conversations WHERE id = $15 FOR UPDATE),
         original AS (
             SELECT o.id, o.conversation_id FROM messages o
             WHERE o.id = $1 AND o.superseded_at IS NULL
               AND o.conversation_id IN (SELECT id FROM conversation)
               AND o.status IN ('done', 'error', 'cancelled')
               AND NOT EXISTS (SELECT 1 FROM messages later
                               WHERE later.conversation_id = o.conversation_id
                                 AND later.created_at > o.created_at)
             FOR UPDATE),
         admitted AS (
             SELECT o.id, sluice_reserve($10, $11, o.conversation_id, 0, $12, $13::numeric,
                                         $14::numeric) AS reservation
             FROM original o),
         superseded AS (
             UPDATE messages o SET superseded_at = now()
             FROM admitted a
             WHERE o.id = a.id AND a.reservation IS NOT NULL
             RETURNING o.conversation_id, o.user_id, o.model, o.reply_to, a.reservation),
         job AS (",
        insert_queue_row!("SELECT $3, $4, $5, $6, $7, $2 FROM superseded"),
        "),
         touched AS (
             UPDATE conversations c SET updated_at = now()
             FROM superseded WHERE c.id = superseded.conversation_id)
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                               first_seq, request_id, reply_to, api_key_id, reserved_tokens,
                               reserved_cost)
         SELECT $2, conversation_id, user_id, 'assistant', '', 'queued', model, $8, $9, reply_to,
                $11, (reservation->>'tokens')::bigint, (reservation->>'cost')::numeric
         FROM superseded
         RETURNING ",
        message_columns!()
    ))
    .bind(original.id)
    .bind(new.id)
    .bind(&job.id)
    .bind(job.queue)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(job.run_at)
    .bind(new.first_seq as i64)
    .bind(&new.request_id)
    .bind(new.spender.user_id)
    .bind(new.spender.api_key)
    .bind(r.output_tokens as i32)
    .bind(r.price_in)
    .bind(r.price_out)
    .bind(original.conversation_id)
    .fetch_optional(pool)
    .await
}
