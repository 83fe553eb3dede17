//! `POST /api/messages/{id}/edit {content, model?}`: edit a question and resend it. The edited
//! question and everything after it stay readable as a branch left behind (marked superseded,
//! out of later prompts, browsable "‹ 1/2 ›" in the web app); the new question and its queued
//! answer follow them, through the same queue, hand-off, worker and stream as any send.

use axum::{Json, extract::State, http::StatusCode};
use sluice_shared::{dto::SentOut, insert_queue_row, job::ChatJob, queue::QueuedJob};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    enqueue, sent,
    store::{MessageRow, message_columns},
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, Id, RequestId},
    limits::{self, Spender},
    state::AppState,
};

/// Replaces a question with an edited one and sends it: `202` as a send. The question and
/// everything after it stay readable, marked superseded.
#[utoipa::path(post, path = "/api/messages/{id}/edit", tag = "messages",
    params(("id" = Uuid, Path, description = "A question (user message) of the current branch")),
    request_body = sluice_shared::dto::MessageIn,
    responses(
        (status = 202, body = SentOut),
        (status = 400, description = "`empty_content`, bad JSON", body = ErrorBody),
        (status = 422, description = "`not_a_question`: an answer cannot be edited; `unknown_model`; `attachments_not_editable` (the question keeps its files)", body = ErrorBody),
        (status = 404, description = "No such message of the caller's", body = ErrorBody),
        (status = 409, description = "`not_editable`: replaced already, or an answer is still being written", body = ErrorBody),
        (status = 413, description = "`content_too_large`", body = ErrorBody),
    ))]
pub async fn edit(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    RequestId(request_id): RequestId,
    ApiJson(input): ApiJson<sluice_shared::dto::MessageIn>,
) -> ApiResult<(StatusCode, Json<SentOut>)> {
    enqueue::validate_content(&state, &input.content)?;
    if !input.attachments.is_empty() {
        return Err(ApiError::unfit(
            "attachments_not_editable",
            "an edited question keeps the files it was sent with: send new files with a new message",
        ));
    }
    let original = super::store::find(&state.pool, user.user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    if original.role != "user" {
        return Err(ApiError::wrong_kind(
            "not_a_question",
            "only questions can be edited, not answers",
        ));
    }
    let conversation =
        crate::conversations::find_owned(&state.pool, user.user_id, original.conversation_id)
            .await?;
    let model = input.model.unwrap_or(conversation.model);
    enqueue::validate_model(&state, &model)?;
    let spender = Spender::from(&user);
    let new = Edited {
        question: Uuid::now_v7(),
        answer: Uuid::now_v7(),
        spender,
        // The question's files go with the edit: they count as a send's do.
        reservation: enqueue::reservation(
            &state,
            &model,
            sluice_shared::estimate::tokens(&input.content)
                + crate::files::attach::prompt_tokens(
                    &state,
                    &model,
                    original
                        .attachments
                        .iter()
                        .map(|f| (f.content_type.as_str(), f.text_chars)),
                ),
            None,
        ),
    };
    let job = ChatJob {
        message_id: new.answer,
        conversation_id: original.conversation_id,
        user_id: user.user_id,
        model: model.clone(),
        request_id: request_id.clone(),
        options: Default::default(),
        traceparent: sluice_shared::telemetry::current_traceparent(),
    };
    let (queued, offer) = enqueue::queue_row(&state, job)?;
    let first_seq = state.hub.next_seq_lower_bound();
    let stored = store(
        &state.pool,
        &original,
        &new,
        &input.content,
        &model,
        first_seq,
        request_id,
        &queued,
    )
    .await?;
    let Ok([question, answer]) = <[MessageRow; 2]>::try_from(in_order(stored)) else {
        let refusal = ApiError::conflict(
            "not_editable",
            "this message was replaced already, or an answer is still being written: \
             wait for it or stop it, then edit",
        );
        let refusal = super::refused(&state, user.user_id, id, refusal).await;
        return Err(limits::refused_or(&state.pool, spender, refusal).await);
    };
    enqueue::offer_to_workers(&state, offer);
    // The statement's RETURNING could not see the files it moved to the new question.
    let question = match original.attachments.is_empty() {
        true => question,
        false => super::store::find(&state.pool, user.user_id, question.id)
            .await?
            .unwrap_or(question),
    };
    Ok(sent(question, answer))
}

/// The question first, then its answer.
fn in_order(mut rows: Vec<MessageRow>) -> Vec<MessageRow> {
    rows.sort_by_key(|row| row.role != "user");
    rows
}

/// The ids of the edited question and its answer, chosen before they are stored (the job's
/// payload names the answer), and who pays for the answer.
struct Edited {
    question: Uuid,
    answer: Uuid,
    spender: Spender,
    reservation: enqueue::Reservation,
}

/// In one statement: supersede `original` and everything after it — only if it is not
/// superseded, no answer of the conversation is still running, and the spender's limits admit
/// one more answer (`sluice_reserve`) — and store the new question, its queued answer and the
/// answer's job. Nothing (no rows) when it did not qualify or a limit refused it.
#[expect(
    clippy::too_many_arguments,
    reason = "one statement's parameters, each named"
)]
async fn store(
    pool: &PgPool,
    original: &MessageRow,
    new: &Edited,
    content: &str,
    model: &str,
    first_seq: u64,
    request_id: Option<String>,
    job: &QueuedJob,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(concat!(
        "WITH conversation AS (
             -- Locked first, as every statement that locks a conversation and a message or a
             -- budget does (design §12).
             SELECT id FROM conversations WHERE id = $19 FOR UPDATE),
         original AS (
             SELECT o.id, o.conversation_id, o.user_id, o.created_at FROM messages o
             WHERE o.id = $1 AND o.role = 'user' AND o.superseded_at IS NULL
               AND o.conversation_id IN (SELECT id FROM conversation)
               AND NOT EXISTS (SELECT 1 FROM messages running
                               WHERE running.conversation_id = o.conversation_id
                                 AND running.status IN ('queued', 'streaming'))
             -- Two edits of one question at once: the second waits here, then finds it
             -- superseded and stores nothing.
             FOR UPDATE),
         admitted AS (
             SELECT o.*, sluice_reserve($13, $14, o.conversation_id, $15, $16, $17::numeric,
                                        $18::numeric) AS reservation
             FROM original o),
         ok AS (SELECT * FROM admitted WHERE reservation IS NOT NULL),
         superseded AS (
             UPDATE messages m SET superseded_at = now()
             FROM ok
             WHERE m.conversation_id = ok.conversation_id
               AND m.created_at >= ok.created_at AND m.superseded_at IS NULL),
         job AS (",
        insert_queue_row!("SELECT $4, $5, $6, $7, $8, $3 FROM ok"),
        "),
         touched AS (
             UPDATE conversations c SET updated_at = now()
             FROM ok WHERE c.id = ok.conversation_id),
         -- The edited question keeps the files the original was sent with. (RETURNING reads
         -- the statement's snapshot: the new question lists them from the next read on.)
         carried AS (
             UPDATE files f SET message_id = $2 FROM ok WHERE f.message_id = ok.id)
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, model,
                               first_seq, request_id, created_at, reply_to, edit_of, api_key_id,
                               reserved_tokens, reserved_cost)
         SELECT m.id, ok.conversation_id, ok.user_id, m.role, m.content, m.status,
                m.model, m.first_seq, $11, clock_timestamp() + m.later, m.reply_to, m.edit_of,
                m.api_key_id, m.reserved_tokens, m.reserved_cost
         FROM ok, LATERAL (VALUES
             ($2, 'user', $9, 'complete', NULL::text, NULL::bigint, interval '0', NULL::uuid,
              ok.id, NULL::uuid, NULL::bigint, NULL::numeric),
             -- The answer sorts after its question even within one clock tick.
             ($3, 'assistant', '', 'queued', $10, $12, interval '1 microsecond', $2, NULL::uuid,
              $14, (ok.reservation->>'tokens')::bigint, (ok.reservation->>'cost')::numeric)
         ) AS m (id, role, content, status, model, first_seq, later, reply_to, edit_of,
                 api_key_id, reserved_tokens, reserved_cost)
         RETURNING ",
        message_columns!()
    ))
    .bind(original.id)
    .bind(new.question)
    .bind(new.answer)
    .bind(&job.id)
    .bind(job.queue)
    .bind(&job.payload)
    .bind(job.max_attempts)
    .bind(job.run_at)
    .bind(content)
    .bind(model)
    .bind(request_id)
    .bind(first_seq as i64)
    .bind(new.spender.user_id)
    .bind(new.spender.api_key)
    .bind(new.reservation.new_tokens as i32)
    .bind(new.reservation.output_tokens as i32)
    .bind(new.reservation.price_in)
    .bind(new.reservation.price_out)
    .bind(original.conversation_id)
    .fetch_all(pool)
    .await
}
