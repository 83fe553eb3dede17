//! A conversation's first title, from its first message: the first line as plain words (no
//! markdown marks), cut at a word, at most `TITLE_CHARS` characters. The web app makes the
//! same title the same way (`api/web/chat.js`, `titleFrom`).

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
                .replace(crate::validate::is_unsafe_in_name, "")
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
}
