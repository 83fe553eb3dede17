//! Building the prompt: the system prompt plus as much recent history as fits the model's
//! context window after reserving room for the answer. The history is read together with the
//! claim (`store::claim`), newest first.

use crate::{attachments, providers::PromptMessage, store::AttachedFile};

pub use sluice_shared::estimate::tokens as estimate_tokens;

/// One message of the history as read: its side, its text and (a question's) files.
pub struct Turn<'a> {
    pub role: &'a str,
    pub content: &'a str,
    pub files: &'a [AttachedFile],
}

/// Keeps the newest turns whose estimated size fits the budget (the system prompt first).
/// Only the turns kept are copied. A question's files take what room is left beside it
/// (`attachments::compose`, by `rules`).
pub fn fit<'a>(
    system_prompt: &str,
    newest_first: impl Iterator<Item = Turn<'a>>,
    budget: u32,
    rules: &attachments::FileRules,
) -> Vec<PromptMessage> {
    let mut used = estimate_tokens(system_prompt);
    let mut kept = Vec::new();
    for turn in newest_first {
        let message = if turn.role == "user" {
            let room = budget.saturating_sub(used + estimate_tokens(turn.content));
            attachments::compose(turn.content, turn.files, room, rules)
        } else {
            PromptMessage::text("assistant", turn.content)
        };
        let cost = attachments::tokens(&message);
        // The newest user message always goes in, even alone over budget: without it there is
        // no question to answer (the API's length limit keeps it sane).
        if used + cost > budget && !kept.is_empty() {
            break;
        }
        used += cost;
        kept.push(message);
    }
    kept.reverse();
    let mut prompt = Vec::with_capacity(kept.len() + 1);
    if !system_prompt.is_empty() {
        prompt.push(PromptMessage::text("system", system_prompt));
    }
    prompt.extend(kept);
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` turns, newest first.
    fn turns(n: usize) -> Vec<(&'static str, String)> {
        (0..n)
            .rev()
            .map(|i| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                (role, format!("turn {i} {}", "x".repeat(400)))
            })
            .collect()
    }

    fn no_files() -> attachments::FileRules<'static> {
        static NONE: std::sync::LazyLock<std::collections::HashMap<uuid::Uuid, String>> =
            std::sync::LazyLock::new(Default::default);
        attachments::FileRules {
            texts: &NONE,
            sees: false,
            max_image_bytes: 0,
        }
    }

    fn pairs<'a>(turns: &'a [(&'static str, String)]) -> impl Iterator<Item = Turn<'a>> {
        turns.iter().map(|(role, content)| Turn {
            role,
            content: content.as_str(),
            files: &[],
        })
    }

    #[test]
    fn history_is_trimmed_from_the_oldest_end() {
        let prompt = fit("be brief", pairs(&turns(40)), 1000, &no_files());
        assert_eq!(prompt[0].role, "system");
        assert!(prompt.len() < 41 && prompt.len() > 2, "{}", prompt.len());
        assert!(prompt.last().unwrap().content.starts_with("turn 39 "));
        let total: u32 = prompt.iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(total <= 1000);
    }

    #[test]
    fn the_newest_message_is_kept_even_when_alone_over_budget() {
        let prompt = fit("", pairs(&turns(1)), 10, &no_files());
        assert_eq!(prompt.len(), 1);
        assert_eq!(prompt[0].role, "user");
    }
}
