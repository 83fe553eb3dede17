//! The files a Sluice account export carries (`files/{id}`), into this account: each written
//! to the store under a new id and read as an upload is (its type by content, its text),
//! before the transaction; their rows go in with their questions (`store.rs`), and when the
//! import fails the objects are deleted again. A file no question names is left out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use object_store::path::Path;
use sluice_shared::dto::FileOut;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::read::Batch;
use crate::{
    error::ApiResult,
    files::{Described, describe, store_copy},
    state::AppState,
};

/// A carried file, stored.
struct Carried {
    id: Uuid,
    file: Described,
    created_at: DateTime<Utc>,
}

/// The carried files by the id the export gave them.
#[derive(Default)]
pub struct CarriedFiles {
    by_old_id: HashMap<Uuid, Carried>,
    keys: Vec<Path>,
}

/// Stores the files the batch carries and its questions name.
pub async fn carry(state: &AppState, owner: Uuid, batch: &mut Batch) -> ApiResult<CarriedFiles> {
    let mut spooled = std::mem::take(&mut batch.files);
    let mut carried = CarriedFiles::default();
    let named = batch
        .conversations
        .iter()
        .flat_map(|d| &d.messages)
        .flat_map(|m| &m.attachments);
    for attachment in named {
        let Some(mut file) = spooled.remove(&attachment.id) else {
            continue;
        };
        let id = Uuid::now_v7();
        let key = sluice_shared::files::key(owner, id);
        let stored = async {
            let received = store_copy(state, &key, &attachment.name, &mut file).await?;
            carried.keys.push(key.clone());
            describe(state, &key, &received).await
        }
        .await;
        match stored {
            Ok(file) => {
                let created_at = attachment.created_at;
                carried.by_old_id.insert(
                    attachment.id,
                    Carried {
                        id,
                        file,
                        created_at,
                    },
                );
            }
            Err(e) => {
                carried.discard(state).await;
                return Err(e);
            }
        }
    }
    Ok(carried)
}

impl CarriedFiles {
    /// The import failed: its files go.
    pub async fn discard(self, state: &AppState) {
        for key in self.keys {
            if let Err(e) = state.files.delete(&key).await {
                tracing::warn!(error = %e, %key, "a failed import's file could not be deleted");
            }
        }
    }

    /// The rows of `attachments` (of the question now `question`) that were carried.
    pub async fn insert_rows(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        owner: Uuid,
        question: Uuid,
        attachments: &[FileOut],
    ) -> sqlx::Result<()> {
        for attachment in attachments {
            let Some(c) = self.by_old_id.get(&attachment.id) else {
                continue;
            };
            let text = c.file.text.as_ref();
            sqlx::query(
                "INSERT INTO files (id, user_id, name, content_type, bytes, text, text_chars,
                                    message_id, claimed_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9)",
            )
            .bind(c.id)
            .bind(owner)
            .bind(&c.file.name)
            .bind(c.file.content_type)
            .bind(c.file.bytes)
            .bind(text.map(|t| t.text.as_str()))
            .bind(text.map(|t| t.chars as i64))
            .bind(question)
            .bind(c.created_at)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
