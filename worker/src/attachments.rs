//! Files in the prompt. A question's text files and PDFs go in as text before it — as much as
//! the model's context has room for, with a notice when cut — and its images as images, in
//! each provider's own format (`providers/*.rs`), for models that can see; a model that
//! cannot is told an image was left out. Images are read from storage just before the call.

use std::collections::HashMap;

use base64::Engine;
use object_store::ObjectStore;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    prompt::estimate_tokens,
    providers::{PromptImage, PromptMessage},
    store::AttachedFile,
};

/// What an image costs in a prompt, roughly (providers count 85 to ~1,600 tokens by size).
pub const IMAGE_TOKENS: u32 = 1_000;
/// A file gets no text at all with less room than this (characters).
const SMALLEST_EXCERPT: usize = 200;

/// How a prompt takes files: the texts read for it, and what the model can see.
pub struct FileRules<'a> {
    /// By file id: the text files' and PDFs' text (`read_texts`).
    pub texts: &'a HashMap<Uuid, String>,
    /// The model reads images.
    pub sees: bool,
    /// The largest image its providers take.
    pub max_image_bytes: i64,
}

/// The text of the history's files that a prompt of `budget_chars` could hold: newest
/// question first, each file's first `budget_chars` characters, until they fill the budget
/// (older ones would not fit anyway). One query, and none when no file has text.
pub async fn read_texts(
    pool: &PgPool,
    history_files: &[Vec<AttachedFile>],
    budget_chars: usize,
) -> sqlx::Result<HashMap<Uuid, String>> {
    let mut wanted = Vec::new();
    let mut total = 0usize;
    for file in history_files.iter().flatten() {
        let Some(chars) = file.text_chars else {
            continue;
        };
        if total >= budget_chars {
            break;
        }
        wanted.push(file.id);
        total += chars.max(0) as usize;
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, left(text, $2) FROM files WHERE id = ANY($1) AND text IS NOT NULL",
    )
    .bind(&wanted)
    .bind(budget_chars.min(i32::MAX as usize) as i32)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// `question` with its `files` before it, using at most `room` tokens for them; the images
/// (still unread) when the model sees them.
pub fn compose(
    question: &str,
    files: &[AttachedFile],
    room: u32,
    rules: &FileRules,
) -> PromptMessage {
    if files.is_empty() {
        return PromptMessage::text("user", question);
    }
    let mut room_chars = room as usize * 4;
    let mut text = String::new();
    let mut images = Vec::new();
    let note = |text: &mut String, name: &str, why: &str| {
        text.push_str(&format!("[Sluice: the file \"{name}\" {why}.]\n\n"));
    };
    for file in files {
        if file.content_type.starts_with("image/") {
            if !rules.sees {
                note(
                    &mut text,
                    &file.name,
                    "is an image, not shown: this model cannot read images",
                );
            } else if file.bytes > rules.max_image_bytes {
                note(
                    &mut text,
                    &file.name,
                    "is an image too large for this model's provider, not shown",
                );
            } else if room_chars < IMAGE_TOKENS as usize * 4 {
                note(
                    &mut text,
                    &file.name,
                    "was left out: no room in the model's context",
                );
            } else {
                room_chars -= IMAGE_TOKENS as usize * 4;
                images.push(PromptImage {
                    owner: file.user_id,
                    id: file.id,
                    name: file.name.clone(),
                    content_type: file.content_type.clone(),
                    base64: String::new(),
                });
            }
            continue;
        }
        let total = file.text_chars.unwrap_or(0).max(0) as usize;
        let wrapper = format!("<file name=\"{}\">\n", file.name.replace('"', "'"));
        let available = room_chars.saturating_sub(wrapper.len() + 200);
        let Some(body) = rules
            .texts
            .get(&file.id)
            .filter(|_| available >= SMALLEST_EXCERPT)
        else {
            note(
                &mut text,
                &file.name,
                "was left out: no room in the model's context",
            );
            continue;
        };
        let (kept, kept_chars) = match body.char_indices().nth(available) {
            Some((cut, _)) => (&body[..cut], available),
            None => (body.as_str(), body.chars().count()),
        };
        room_chars = room_chars.saturating_sub(wrapper.len() + kept.len() + 200);
        text.push_str(&wrapper);
        text.push_str(kept);
        text.push_str("\n</file>\n");
        if kept_chars < total {
            text.push_str(&format!(
                "[Sluice: \"{}\" was cut to fit the model's context: the first {kept_chars} of its {total} characters are above.]\n",
                file.name
            ));
        }
        text.push('\n');
    }
    text.push_str(question);
    PromptMessage {
        role: "user",
        content: text,
        images,
    }
}

/// What `message` costs in the prompt.
pub fn tokens(message: &PromptMessage) -> u32 {
    estimate_tokens(&message.content) + message.images.len() as u32 * IMAGE_TOKENS
}

/// Reads the prompt's images from storage (base64, as every provider takes them). An image
/// deleted since it was sent is said to be gone instead.
pub async fn load_images(
    store: &dyn ObjectStore,
    messages: &mut [PromptMessage],
) -> anyhow::Result<()> {
    for message in messages {
        let mut gone = Vec::new();
        for image in &mut message.images {
            let key = sluice_shared::files::key(image.owner, image.id);
            match store.get(&key).await {
                Ok(object) => {
                    let bytes = object.bytes().await?;
                    image.base64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                }
                Err(object_store::Error::NotFound { .. }) => gone.push(image.id),
                Err(e) => return Err(e.into()),
            }
        }
        for id in gone {
            if let Some(at) = message.images.iter().position(|i| i.id == id) {
                let image = message.images.remove(at);
                message.content = format!(
                    "[Sluice: the image \"{}\" was deleted.]\n\n{}",
                    image.name, message.content
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(
        name: &str,
        content_type: &str,
        text: Option<&str>,
        texts: &mut HashMap<Uuid, String>,
    ) -> AttachedFile {
        let id = Uuid::now_v7();
        if let Some(t) = text {
            texts.insert(id, t.to_string());
        }
        AttachedFile {
            id,
            user_id: Uuid::now_v7(),
            name: name.into(),
            content_type: content_type.into(),
            bytes: text.map_or(3_000_000, |t| t.len() as i64),
            text_chars: text.map(|t| t.chars().count() as i64),
        }
    }

    #[test]
    fn text_goes_before_the_question_and_says_when_it_was_cut() {
        let mut texts = HashMap::new();
        let long = "word ".repeat(10_000);
        let files = [
            file("notes.txt", "text/plain", Some("short notes"), &mut texts),
            file("big.pdf", "application/pdf", Some(&long), &mut texts),
        ];
        let rules = FileRules {
            texts: &texts,
            sees: true,
            max_image_bytes: 1 << 30,
        };
        let message = compose("What do they say?", &files, 2_000, &rules);
        assert!(
            message
                .content
                .starts_with("<file name=\"notes.txt\">\nshort notes\n</file>\n")
        );
        assert!(message.content.ends_with("What do they say?"));
        assert!(
            message
                .content
                .contains("\"big.pdf\" was cut to fit the model's context: the first"),
            "{}",
            message.content
        );
        assert!(
            tokens(&message) <= 2_000 + estimate_tokens("What do they say?"),
            "{}",
            tokens(&message)
        );
    }

    #[test]
    fn images_go_to_models_that_see_them_within_their_provider_s_size() {
        let mut texts = HashMap::new();
        let files = [file("cat.png", "image/png", None, &mut texts)];
        let rules = |sees, max_image_bytes| FileRules {
            texts: &texts,
            sees,
            max_image_bytes,
        };
        let seen = compose("What is this?", &files, 8_000, &rules(true, 5_000_000));
        assert_eq!(seen.images.len(), 1);
        let blind = compose("What is this?", &files, 8_000, &rules(false, 5_000_000));
        assert!(blind.images.is_empty());
        assert!(
            blind
                .content
                .contains("\"cat.png\" is an image, not shown: this model cannot read images")
        );
        let large = compose("What is this?", &files, 8_000, &rules(true, 1_000_000));
        assert!(large.images.is_empty());
        assert!(
            large
                .content
                .contains("too large for this model's provider")
        );
    }
}
