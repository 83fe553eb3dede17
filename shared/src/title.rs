//! Conversation titles. The first, from the first message (`title_from`): the first line as
//! plain words (no markdown marks), cut at a word, at most `TITLE_CHARS` characters — the web
//! app makes the same title the same way (`api/web/chat.js`, `titleFrom`). The API stores it
//! with the conversation; the worker's title job (`worker/src/title_job.rs`) then replaces it
//! with the model's, cleaned by the same function, or — for the demo model — with
//! `keywords_title`.

/// Characters a name may not hold: controls (terminal escapes, CR/LF, tabs), the marks and
/// overrides that reorder text (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) and the
/// invisible spaces (U+200B, U+2060, U+FEFF). Zero-width joiners stay: emoji sequences and
/// several scripts need them. (The web app's `titleFrom` drops the same set.)
pub fn is_unsafe_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            | '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// Longest first title, in characters (an ellipsis included).
pub const TITLE_CHARS: usize = 60;

pub fn title_from(message: &str) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    // Block marks at the line's start: headings, quotes, list items.
    let line = line.trim_start_matches(['#', '>', ' ']);
    let line = line
        .strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .or_else(|| line.strip_prefix("+ "))
        .unwrap_or(line);
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| {
            w.replace(['*', '`', '~'], "")
                .replace("__", "")
                .replace(is_unsafe_in_name, "")
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut title = String::new();
    for word in &words {
        let next = if title.is_empty() { 0 } else { 1 } + word.chars().count();
        if title.chars().count() + next > TITLE_CHARS - 1 {
            if title.is_empty() {
                // One word longer than a title: cut inside it.
                title = word.chars().take(TITLE_CHARS - 1).collect();
            }
            title.push('…');
            return title;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    title
}

/// Words too common to name anything, left out of `keywords_title`.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "can", "could", "do", "for", "from", "give", "how", "i",
    "in", "is", "it", "me", "my", "of", "on", "or", "please", "tell", "the", "to", "what", "with",
    "would", "you", "your",
];

/// The demo model's title: the first message's first five key words, capitalised
/// ("how do I plan the quarter?" → "Plan Quarter"); the first message's own title when it
/// has no key word.
pub fn keywords_title(message: &str) -> String {
    let plain = title_from(message);
    let words: Vec<String> = plain
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(&w.to_lowercase().as_str()))
        .take(5)
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    if words.is_empty() {
        plain
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_plain_words_of_the_first_line_cut_at_a_word() {
        assert_eq!(title_from("hello there"), "hello there");
        assert_eq!(
            title_from("\n\n  # **Bold** `code` ~~gone~~ idea\nsecond line"),
            "Bold code gone idea"
        );
        assert_eq!(title_from("- a list item"), "a list item");
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen";
        let title = title_from(long);
        assert!(title.chars().count() <= TITLE_CHARS, "{title}");
        assert_eq!(
            title,
            "one two three four five six seven eight nine ten eleven…"
        );
        let word = "x".repeat(100);
        assert_eq!(title_from(&word).chars().count(), TITLE_CHARS);
        assert_eq!(title_from("   "), "");
    }

    #[test]
    fn the_demo_title_is_the_key_words_capitalised() {
        assert_eq!(keywords_title("how do I plan the quarter?"), "Plan Quarter");
        assert_eq!(
            keywords_title("garden ideas for a small yard"),
            "Garden Ideas Small Yard"
        );
        assert_eq!(keywords_title("the"), "the");
        assert_eq!(keywords_title(""), "");
    }
}
