//! A rough token count (4 characters a token, plus 4 for the message around them), one rule
//! for the whole system: the worker fits prompts in a context window with it and estimates
//! usage a provider does not report; the API reserves an answer's prompt with it against the
//! user's budgets before the answer exists. No tokenizer per model to ship.

/// The tokens one message of `text` takes in a prompt.
pub fn tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4) + 4
}
