//! `demo`: the default provider. No network; a deterministic reply built from the prompt, so
//! the whole stack runs with no keys and tests can predict every token.

use std::time::Duration;

use futures::{StreamExt, future::BoxFuture, stream};
use sluice_shared::{config::DemoConfig, events::Usage};

use super::{ChunkStream, Provider, ProviderChunk, ProviderError, ProviderRequest};

pub struct Demo {
    config: DemoConfig,
}

impl Demo {
    pub fn new(config: DemoConfig) -> Self {
        Self { config }
    }
}

/// The reply the demo provider gives: the words of the last user message, cycled, numbered.
pub fn demo_reply(last_user_message: &str, tokens: u32) -> Vec<String> {
    let words: Vec<&str> = last_user_message.split_whitespace().collect();
    (0..tokens)
        .map(|i| {
            let word = if words.is_empty() {
                "echo"
            } else {
                words[i as usize % words.len()]
            };
            if i == 0 {
                format!("{word}#{i}")
            } else {
                format!(" {word}#{i}")
            }
        })
        .collect()
}

impl Provider for Demo {
    fn name(&self) -> &'static str {
        "demo"
    }

    fn stream(
        &self,
        request: ProviderRequest,
    ) -> BoxFuture<'_, Result<ChunkStream, ProviderError>> {
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let input_tokens = request
            .messages
            .iter()
            .map(|m| crate::prompt::estimate_tokens(&m.content))
            .sum();
        let tokens = demo_reply(&last_user, self.config.reply_tokens);
        let output_tokens = tokens.len() as u32;
        let pacing = Duration::from_millis(self.config.pacing_ms);
        Box::pin(async move {
            let deltas = stream::iter(tokens).then(move |t| async move {
                if !pacing.is_zero() {
                    tokio::time::sleep(pacing).await;
                }
                Ok(ProviderChunk::Delta(t))
            });
            let finished = stream::once(async move {
                Ok(ProviderChunk::Finished {
                    finish_reason: "stop".into(),
                    usage: Some(Usage {
                        input_tokens,
                        output_tokens,
                    }),
                })
            });
            Ok(deltas.chain(finished).boxed())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_reply_is_deterministic_and_sized() {
        let r = demo_reply("hello world", 3);
        assert_eq!(r, vec!["hello#0", " world#1", " hello#2"]);
        assert_eq!(demo_reply("", 1), vec!["echo#0"]);
    }
}
