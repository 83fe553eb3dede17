//! The title job: after a conversation's first answer, the conversation's model is asked for a
//! short title (the demo model: a rule), stored unless the user named the conversation
//! meanwhile, and told to every open tab — a `title` event on the conversation's stream and
//! `conversation_updated` on the account feed. Enqueued on the `title` queue by the worker
//! that stored the answer (`chat_job::conclude`); a title is a nicety, so it is tried a few
//! times and then left to the first message's title.

use std::{sync::Arc, time::Duration};

use apalis::prelude::{BoxDynError, Data};
use futures::StreamExt;
use sluice_shared::{
    account_events::AccountEvent,
    dto::ConversationOut,
    events::StreamEvent,
    job::{TITLE_QUEUE, TitleJob},
    title::{keywords_title, title_from},
};
use uuid::Uuid;

use crate::{
    WorkerState,
    providers::{PromptMessage, ProviderChunk, ProviderRequest},
};

/// How long a model may take to name a conversation.
const TITLE_TIMEOUT: Duration = Duration::from_secs(20);

const INSTRUCTIONS: &str = "You name conversations. Reply with a title of at most six words \
for the conversation below: no quotes, no final period, nothing else.";

/// The apalis handler.
pub async fn title_job(job: TitleJob, state: Data<Arc<WorkerState>>) -> Result<(), BoxDynError> {
    Ok(run(&state, &job).await?)
}

#[derive(sqlx::FromRow)]
struct Exchange {
    model: String,
    question: Option<String>,
    answer: Option<String>,
}

async fn run(state: &Arc<WorkerState>, job: &TitleJob) -> anyhow::Result<()> {
    // Still titled by the rule (not renamed by the user, not titled already): its first
    // question and the answer to it.
    let exchange: Option<Exchange> = sqlx::query_as(
        "SELECT c.model,
                (SELECT m.content FROM messages m WHERE m.conversation_id = c.id
                   AND m.role = 'user' ORDER BY m.created_at, m.id LIMIT 1) AS question,
                (SELECT m.content FROM messages m WHERE m.conversation_id = c.id
                   AND m.role = 'assistant' AND m.status = 'done'
                 ORDER BY m.created_at, m.id LIMIT 1) AS answer
         FROM conversations c WHERE c.id = $1 AND c.title_set_by = 'rule'",
    )
    .bind(job.conversation_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(exchange) = exchange else {
        return Ok(());
    };
    let question = exchange.question.unwrap_or_default();
    let answer = exchange.answer.unwrap_or_default();
    match ask_model(state, job, &exchange.model, &question, &answer).await? {
        Some(title) => store_and_tell(state, job, &title).await,
        // Tried: the first message's title stays, and no later answer asks again.
        None => {
            sqlx::query(
                "UPDATE conversations SET title_set_by = 'model'
                 WHERE id = $1 AND title_set_by = 'rule'",
            )
            .bind(job.conversation_id)
            .execute(&state.pool)
            .await?;
            Ok(())
        }
    }
}

/// The model's title for the exchange, cleaned to a title (first line, plain words, at most
/// 60 characters); the demo model's is a rule (the question's key words). `None` when the
/// model has no route, answers nothing usable, or the user brought their own key for its
/// provider: their exchange is then sent on no key of the server's, and their own key is for
/// their answers, not for titles.
async fn ask_model(
    state: &WorkerState,
    job: &TitleJob,
    model: &str,
    question: &str,
    answer: &str,
) -> anyhow::Result<Option<String>> {
    let Some(route) = state
        .routes
        .for_model(model)
        .into_iter()
        .find(|r| !r.breaker.is_resting())
    else {
        return Ok(None);
    };
    let Some(provider) = sluice_shared::provider_keys::stored_name(route.kind) else {
        // The demo model.
        return Ok(Some(keywords_title(question)).filter(|t| !t.is_empty()));
    };
    let own_key: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM provider_keys
                        WHERE user_id = $1 AND provider = $2 AND enabled)",
    )
    .bind(job.user_id)
    .bind(provider)
    .fetch_one(&state.pool)
    .await?;
    if own_key {
        return Ok(None);
    }
    let clip = |text: &str| text.chars().take(2_000).collect::<String>();
    let request = ProviderRequest {
        model: route.upstream_model.clone(),
        messages: vec![
            PromptMessage::text("system", INSTRUCTIONS),
            PromptMessage::text(
                "user",
                format!("Question: {}\n\nAnswer: {}", clip(question), clip(answer)),
            ),
        ],
        max_output_tokens: 24,
        options: Default::default(),
        api_key: None,
    };
    let text = tokio::time::timeout(TITLE_TIMEOUT, async {
        let mut chunks = route.provider.stream(request).await?;
        let mut text = String::new();
        while let Some(chunk) = chunks.next().await {
            match chunk? {
                ProviderChunk::Delta(delta) => text.push_str(&delta),
                ProviderChunk::Finished { .. } => break,
            }
        }
        Ok::<_, crate::providers::ProviderError>(text)
    })
    .await
    .map_err(|_| anyhow::anyhow!("the model gave no title within {TITLE_TIMEOUT:?}"))??;
    let cleaned = title_from(
        text.trim()
            .trim_start_matches("Title:")
            .trim_matches(['"', '\'', '.', ' ']),
    );
    Ok(Some(cleaned).filter(|t| !t.is_empty()))
}

/// Stores the title unless the user named the conversation meanwhile, then tells every tab.
async fn store_and_tell(state: &WorkerState, job: &TitleJob, title: &str) -> anyhow::Result<()> {
    let stored: Option<ConversationOut> = sqlx::query_as(
        "UPDATE conversations SET title = $2, title_set_by = 'model', updated_at = now()
         WHERE id = $1 AND title_set_by = 'rule'
         RETURNING id, title, model, system_prompt, group_id, favorite, created_at, updated_at",
    )
    .bind(job.conversation_id)
    .bind(title)
    .fetch_optional(&state.pool)
    .await?;
    let Some(conversation) = stored else {
        return Ok(());
    };
    let event = StreamEvent::Title {
        conversation_id: job.conversation_id,
        title: title.to_string(),
    };
    let subject = state.subjects.conversation_meta(job.conversation_id);
    state
        .js
        .publish(subject, serde_json::to_vec(&event)?.into())
        .await?
        .await?;
    let feed = AccountEvent::ConversationUpdated { conversation };
    let _ = state
        .nats
        .publish(
            state.subjects.account(job.user_id),
            serde_json::to_vec(&feed)?.into(),
        )
        .await;
    Ok(())
}

/// Enqueues the title job of `conversation_id` (once: a second enqueue while the first is in
/// the queue does nothing).
pub async fn enqueue(
    pool: &sqlx::PgPool,
    conversation_id: Uuid,
    user_id: Uuid,
) -> anyhow::Result<()> {
    let job = TitleJob {
        conversation_id,
        user_id,
    };
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at,
                                  priority, metadata, idempotency_key)
         VALUES ($1, $2, $3, 'Pending', 0, 3, now(), 0, ''::hstore, $4)
         ON CONFLICT (job_type, idempotency_key) DO NOTHING",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(TITLE_QUEUE)
    .bind(serde_json::to_vec(&job)?)
    .bind(format!("title-{conversation_id}"))
    .execute(pool)
    .await?;
    Ok(())
}
