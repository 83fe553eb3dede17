//! Showing an answer as it streams. On a terminal, light markdown: `**bold**`, `` `code` ``
//! and fenced code blocks are styled (markers are held back until it is clear what they are);
//! when piped, the text goes out exactly as written. A `reset` erases what was shown.

use std::io::{IsTerminal, Write};

use crate::stream::Sink;

const BOLD: &str = "\x1b[1m";
const NOT_BOLD: &str = "\x1b[22m";
const CODE: &str = "\x1b[36m";
const NOT_CODE: &str = "\x1b[39m";

pub struct Renderer<W: Write> {
    out: W,
    styled: bool,
    /// Text not yet written (it may end in half a marker).
    pending: String,
    /// Plain text written so far, to know how much to erase on `reset`.
    shown: String,
    bold: bool,
    inline_code: bool,
    code_block: bool,
}

impl Renderer<std::io::Stdout> {
    /// For stdout: styled when it is a terminal.
    pub fn stdout() -> Self {
        let styled = std::io::stdout().is_terminal();
        Self::new(std::io::stdout(), styled)
    }
}

impl<W: Write> Renderer<W> {
    pub fn new(out: W, styled: bool) -> Self {
        Self {
            out,
            styled,
            pending: String::new(),
            shown: String::new(),
            bold: false,
            inline_code: false,
            code_block: false,
        }
    }

    /// Writes whatever is still held back and closes open styles.
    pub fn finish(&mut self) {
        self.emit(true);
        if self.styled && (self.bold || self.inline_code || self.code_block) {
            let _ = write!(self.out, "{NOT_BOLD}{NOT_CODE}");
        }
        let _ = self.out.flush();
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, at_end: bool) {
        if !self.styled {
            let _ = self.out.write_all(self.pending.as_bytes());
            self.shown.push_str(&self.pending);
            self.pending.clear();
            return;
        }
        let text = std::mem::take(&mut self.pending);
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let line_start = self.shown.is_empty() || self.shown.ends_with('\n');
            if rest.starts_with("```") && line_start {
                self.code_block = !self.code_block;
                let style = if self.code_block { CODE } else { NOT_CODE };
                let _ = write!(self.out, "{style}```");
                self.shown.push_str("```");
                rest = &rest[3..];
            } else if !self.code_block && rest.starts_with("**") {
                self.bold = !self.bold;
                let _ = self
                    .out
                    .write_all(if self.bold { BOLD } else { NOT_BOLD }.as_bytes());
                rest = &rest[2..];
            } else if !self.code_block && rest.starts_with('`') && !rest.starts_with("``") {
                self.inline_code = !self.inline_code;
                let _ = self
                    .out
                    .write_all(if self.inline_code { CODE } else { NOT_CODE }.as_bytes());
                rest = &rest[1..];
            } else if !at_end && ["*", "`", "``"].contains(&rest) {
                // Maybe the start of a marker: wait for the next token.
                self.pending = rest.to_string();
                break;
            } else {
                let c = rest.chars().next().expect("not empty");
                let mut buf = [0u8; 4];
                let _ = self.out.write_all(c.encode_utf8(&mut buf).as_bytes());
                self.shown.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        let _ = self.out.flush();
    }
}

impl<W: Write> Sink for Renderer<W> {
    fn token(&mut self, delta: &str) {
        self.pending.push_str(delta);
        self.emit(false);
    }

    fn reset(&mut self) {
        if self.styled {
            // Up one row per line shown (long lines wrap: count those rows too), then clear.
            let width = terminal_size::terminal_size()
                .map_or(80, |(w, _)| w.0 as usize)
                .max(1);
            let rows: usize = self
                .shown
                .split('\n')
                .map(|line| line.chars().count().max(1).div_ceil(width))
                .sum();
            let _ = write!(self.out, "{NOT_BOLD}{NOT_CODE}\r");
            for _ in 1..rows {
                let _ = write!(self.out, "\x1b[1A");
            }
            let _ = write!(self.out, "\x1b[J");
        } else {
            let _ = writeln!(self.out, "\n[the answer restarted]");
        }
        let _ = self.out.flush();
        self.pending.clear();
        self.shown.clear();
        self.bold = false;
        self.inline_code = false;
        self.code_block = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(styled: bool, tokens: &[&str]) -> String {
        let mut r = Renderer::new(Vec::new(), styled);
        for t in tokens {
            r.token(t);
        }
        r.finish();
        String::from_utf8(r.into_inner()).unwrap()
    }

    #[test]
    fn piped_output_is_the_text_unchanged() {
        assert_eq!(render(false, &["**he", "llo** `x`"]), "**hello** `x`");
    }

    #[test]
    fn markers_split_across_tokens_still_style() {
        let out = render(true, &["a *", "*bold*", "* and `co", "de`"]);
        assert_eq!(
            out,
            format!("a {BOLD}bold{NOT_BOLD} and {CODE}code{NOT_CODE}")
        );
    }

    #[test]
    fn a_reset_erases_what_was_shown_on_a_terminal_and_says_so_in_a_pipe() {
        let mut r = Renderer::new(Vec::new(), true);
        r.token("line one\nline two");
        r.reset();
        r.token("again");
        r.finish();
        let out = String::from_utf8(r.into_inner()).unwrap();
        let erased = out.split("line two").nth(1).unwrap();
        assert!(
            erased.contains("\x1b[1A\x1b[J"),
            "up one row, clear: {erased:?}"
        );
        assert!(out.ends_with("again"));

        let mut r = Renderer::new(Vec::new(), false);
        r.token("partial");
        r.reset();
        r.token("whole");
        let out = String::from_utf8(r.into_inner()).unwrap();
        assert_eq!(out, "partial\n[the answer restarted]\nwhole");
    }

    #[test]
    fn code_blocks_are_colored_and_not_parsed_inside() {
        let out = render(true, &["```\n**x**\n``", "`\ndone"]);
        assert_eq!(out, format!("{CODE}```\n**x**\n{NOT_CODE}```\ndone"));
    }
}
