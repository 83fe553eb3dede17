//! `demo`: the default provider. No network; a deterministic reply, so the whole stack runs
//! with no keys. By default (`reply = "guide"`) it answers with a short markdown text on
//! plugging in a real model; `reply = "echo"` numbers the words of the last message instead,
//! so tests and benchmarks can predict every token.

use std::time::Duration;

use futures::{StreamExt, future::BoxFuture, stream};
use sluice_shared::{
    config::{DemoConfig, DemoReply},
    events::Usage,
};

use super::{ChunkStream, Provider, ProviderChunk, ProviderError, ProviderRequest};

pub struct Demo {
    config: DemoConfig,
}

impl Demo {
    pub fn new(config: DemoConfig) -> Self {
        Self { config }
    }
}

/// The `guide` reply: what a person trying Sluice with no model configured should read.
const GUIDE: &str = "This is **Sluice's demo model**: it runs without a network, so every answer \
is the same short guide. Your message was received, queued, streamed token by token and stored \
— reload the page mid-answer and it picks up where it was.

To talk to a real model:

1. Add it to `sluice.toml` (or set the same keys as `SLUICE_…` variables).
2. Restart the worker: the API needs no change.
3. Pick the model in the menu above the chat.

```toml
[openai]
base_url = \"https://api.openai.com/v1\"  # or Ollama: http://localhost:11434/v1
api_key = \"sk-…\"

[models.gpt-4o-mini]
provider = \"openai\"
context_tokens = 128000
max_output_tokens = 4096
```

| You want | Set |
| --- | --- |
| answers from a local model | `base_url` of Ollama, vLLM or LM Studio |
| this model as the default | `default_model = \"gpt-4o-mini\"` |

See the README for every setting.";

/// The `guide` reply cut into tokens the size a model sends: a word with the space before it.
pub fn guide_reply() -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in GUIDE.chars() {
        if c.is_whitespace() && !current.trim().is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    tokens.push(current);
    tokens
}

/// The files a question carries, as the prompt has them: text files by their `<file>` blocks
/// (with their size in characters), images by name.
fn shown_files(message: &super::PromptMessage) -> Vec<String> {
    let mut shown = Vec::new();
    let mut rest = message.content.as_str();
    while let Some(at) = rest.find("<file name=\"") {
        let after = &rest[at + "<file name=\"".len()..];
        let Some(end) = after.find("\">\n") else {
            break;
        };
        let body = &after[end + 3..];
        let chars = body
            .find("\n</file>")
            .map_or(0, |e| body[..e].chars().count());
        shown.push(format!(
            "\"{}\" ({chars} characters of text)",
            &after[..end]
        ));
        rest = body;
    }
    shown.extend(
        message
            .images
            .iter()
            .map(|i| format!("\"{}\" (an image)", i.name)),
    );
    shown
}

/// The `echo` reply: the words of the last user message, cycled, numbered.
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
        let last = request.messages.iter().rev().find(|m| m.role == "user");
        let last_user = last.map(|m| m.content.clone()).unwrap_or_default();
        let shown = last.map(shown_files).unwrap_or_default();
        let input_tokens = request
            .messages
            .iter()
            .map(|m| crate::prompt::estimate_tokens(&m.content))
            .sum();
        let tokens = match self.config.reply {
            // What it was shown, said first: the demo's way of proving attachments arrive.
            DemoReply::Guide if !shown.is_empty() => {
                let mut tokens = vec![format!("I was shown {}. ", shown.join(", "))];
                tokens.extend(guide_reply());
                tokens
            }
            DemoReply::Guide => guide_reply(),
            DemoReply::Echo => demo_reply(&last_user, self.config.reply_tokens),
        };
        // The limits a real model honours: the length limit, then the stop sequences.
        let (tokens, finish_reason) =
            limit(tokens, request.max_output_tokens, &request.options.stop);
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
                    finish_reason: finish_reason.into(),
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

/// The reply cut at `max_tokens` tokens (finish reason `length`) and before the first stop
/// sequence (`stop`), as a model ends it.
fn limit(mut tokens: Vec<String>, max_tokens: u32, stop: &[String]) -> (Vec<String>, &'static str) {
    let mut reason = "stop";
    if tokens.len() > max_tokens as usize {
        tokens.truncate(max_tokens as usize);
        reason = "length";
    }
    let text = tokens.concat();
    let Some(cut) = stop.iter().filter_map(|s| text.find(s.as_str())).min() else {
        return (tokens, reason);
    };
    let mut kept = Vec::new();
    let mut at = 0;
    for token in tokens {
        if at >= cut {
            break;
        }
        let room = cut - at;
        at += token.len();
        kept.push(if token.len() > room {
            token[..room].to_string()
        } else {
            token
        });
    }
    (kept, "stop")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_limit_and_stop_sequences_end_the_reply_as_a_model_would() {
        let reply = demo_reply("a b c d", 6);
        assert_eq!(limit(reply.clone(), 100, &[]), (reply.clone(), "stop"));
        assert_eq!(limit(reply.clone(), 2, &[]).1, "length");
        assert_eq!(limit(reply.clone(), 2, &[]).0.len(), 2);
        let (cut, reason) = limit(reply, 100, &["c#2".to_string()]);
        assert_eq!((cut.concat().as_str(), reason), ("a#0 b#1 ", "stop"));
    }

    #[test]
    fn the_demo_reply_is_deterministic_and_sized() {
        let r = demo_reply("hello world", 3);
        assert_eq!(r, vec!["hello#0", " world#1", " hello#2"]);
        assert_eq!(demo_reply("", 1), vec!["echo#0"]);
    }

    #[test]
    fn the_guide_reads_as_markdown_and_streams_in_word_sized_tokens() {
        let tokens = guide_reply();
        assert_eq!(tokens.concat(), GUIDE, "nothing lost in the cutting");
        assert!(tokens.len() > 100, "paced like a model: {}", tokens.len());
        assert!(GUIDE.contains("```toml\n[openai]"));
        assert!(tokens.iter().all(|t| t.split_whitespace().count() <= 1));
    }
}
