//! Reading an answer's prompt without claiming it, for the early provider call
//! (`chat_job::early`): the same history the claim reads, for answers not yet over.

use std::collections::HashMap;

use sluice_shared::batch::Statement;
use sqlx::PgPool;
use uuid::Uuid;

use super::{HISTORY_LIMIT, OwnKeyJson, Prompt, own_keys};
use crate::{history_of, own_keys_of};

pub(super) struct Prompts(pub(super) PgPool);

impl Statement for Prompts {
    type Item = Uuid;
    type Output = Option<Prompt>;

    async fn run(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Option<Prompt>>> {
        let rows: Vec<PromptRow> = sqlx::query_as(concat!(
            "WITH answer AS (
                 SELECT m.id, m.conversation_id, c.system_prompt, c.user_id,
                        -- As the claim: history ends with the question.
                        COALESCE((SELECT q.created_at + interval '1 microsecond'
                                  FROM messages q WHERE q.id = m.reply_to),
                                 m.created_at) AS history_end
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.id = ANY($1) AND m.status IN ('queued', 'streaming'))
             SELECT answer.id, answer.system_prompt,
                    COALESCE(h.roles, '{}') AS history_roles,
                    COALESCE(h.contents, '{}') AS history_contents, h.files AS history_files, ",
            own_keys_of!("answer.user_id"),
            "
             FROM answer LEFT JOIN LATERAL (",
            history_of!("answer.conversation_id", "answer.history_end", "$2"),
            ") h ON true"
        ))
        .bind(ids)
        .bind(HISTORY_LIMIT)
        .fetch_all(&self.0)
        .await?;
        let prompts: HashMap<Uuid, Prompt> = rows
            .into_iter()
            .map(|r| {
                let prompt = Prompt {
                    system_prompt: r.system_prompt,
                    history_roles: r.history_roles,
                    history_contents: r.history_contents,
                    history_files: super::history_files(r.history_files),
                    own_keys: own_keys(r.own_keys),
                };
                (r.id, prompt)
            })
            .collect();
        Ok(ids.iter().map(|id| prompts.get(id).cloned()).collect())
    }
}

#[derive(sqlx::FromRow)]
struct PromptRow {
    id: Uuid,
    system_prompt: Option<String>,
    history_roles: Vec<String>,
    history_contents: Vec<String>,
    history_files: Option<sqlx::types::Json<Vec<Option<Vec<super::AttachedFile>>>>>,
    own_keys: sqlx::types::Json<Vec<OwnKeyJson>>,
}
