//! Files in the prompt. A question's text files and PDFs go in as text before it — as much as
//! the model's context has room for, with a notice when cut — and its images as images, in
//! each provider's own format (`providers/*.rs`), for models that can see; a model that
//! cannot is told an image was left out. Images are read from storage just before the call.

use base64::Engine;
use object_store::ObjectStore;

use crate::{
    prompt::estimate_tokens,
    providers::{PromptImage, PromptMessage},
    store::AttachedFile,
};

/// What an image costs in a prompt, roughly (providers count 85 to ~1,600 tokens by size).
pub const IMAGE_TOKENS: u32 = 1_000;
/// A file gets no text at all with less room than this (characters).
const SMALLEST_EXCERPT: usize = 200;

/// `question` with its `files` before it, using at most `room` tokens for them; the images
/// (still unread) when the model `sees`.
pub fn compose(question: &str, files: &[AttachedFile], room: u32, sees: bool) -> PromptMessage {
    if files.is_empty() {
        return PromptMessage::text("user", question);
    }
    let mut room_chars = room as usize * 4;
    let mut text = String::new();
    let mut images = Vec::new();
    for file in files {
        if file.content_type.starts_with("image/") {
            if sees && room_chars >= IMAGE_TOKENS as usize * 4 {
                room_chars -= IMAGE_TOKENS as usize * 4;
                images.push(PromptImage {
                    owner: file.user_id,
                    id: file.id,
                    name: file.name.clone(),
                    content_type: file.content_type.clone(),
                    base64: String::new(),
                });
            } else if sees {
                text.push_str(&format!(
                    "[Sluice: the image \"{}\" was left out: no room in the model's context.]\n\n",
                    file.name
                ));
            } else {
                text.push_str(&format!(
                    "[Sluice: the image \"{}\" is not shown: this model cannot read images.]\n\n",
                    file.name
                ));
            }
            continue;
        }
        let Some(body) = file.text.as_deref() else {
            continue;
        };
        let total = file.text_chars.unwrap_or(0).max(0) as usize;
        let wrapper = format!("<file name=\"{}\">\n", file.name.replace('"', "'"));
        let available = room_chars.saturating_sub(wrapper.len() + 200);
        if available < SMALLEST_EXCERPT {
            text.push_str(&format!(
                "[Sluice: the file \"{}\" was left out: no room in the model's context.]\n\n",
                file.name
            ));
            continue;
        }
        let (kept, kept_chars) = match body.char_indices().nth(available) {
            Some((cut, _)) => (&body[..cut], available),
            None => (body, body.chars().count()),
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
    use uuid::Uuid;

    fn file(name: &str, content_type: &str, text: Option<&str>) -> AttachedFile {
        AttachedFile {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            name: name.into(),
            content_type: content_type.into(),
            text: text.map(str::to_string),
            text_chars: text.map(|t| t.chars().count() as i64),
        }
    }

    #[test]
    fn text_goes_before_the_question_and_says_when_it_was_cut() {
        let long = "word ".repeat(10_000);
        let files = [
            file("notes.txt", "text/plain", Some("short notes")),
            file("big.pdf", "application/pdf", Some(&long)),
        ];
        let message = compose("What do they say?", &files, 2_000, true);
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
    fn images_go_to_models_that_see_and_are_named_to_the_others() {
        let files = [file("cat.png", "image/png", None)];
        let seen = compose("What is this?", &files, 8_000, true);
        assert_eq!(seen.images.len(), 1);
        let blind = compose("What is this?", &files, 8_000, false);
        assert!(blind.images.is_empty());
        assert!(
            blind
                .content
                .contains("\"cat.png\" is not shown: this model cannot read images")
        );
    }
}
