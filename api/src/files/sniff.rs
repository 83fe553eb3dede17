//! What a file is, told by its first bytes — never by its name or the type the sender
//! claimed. Only what a prompt can use is taken: text, PDF, and the images vision models read.

/// A kind of file Sluice takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (code, notes, Markdown, CSV, JSON, …).
    Text,
    Pdf,
    Image(&'static str),
}

impl Kind {
    /// The type the file is stored and served as. Text is served as plain text whatever it
    /// holds (an HTML file is not a page of this site), with a few names kept more precise.
    pub fn content_type(self, name: &str) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Image(t) => t,
            Kind::Text => match name
                .rsplit('.')
                .next()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("md" | "markdown") => "text/markdown; charset=utf-8",
                Some("csv") => "text/csv; charset=utf-8",
                _ => "text/plain; charset=utf-8",
            },
        }
    }
}

/// The kind `head` (the file's first bytes) says; `None` for anything else.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    const IMAGES: [(&[u8], &str); 5] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"RIFF", "image/webp"),
    ];
    if head.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    for (magic, content_type) in IMAGES {
        let webp = content_type != "image/webp" || head.get(8..12) == Some(b"WEBP");
        if head.starts_with(magic) && webp {
            return Some(Kind::Image(content_type));
        }
    }
    is_text(head).then_some(Kind::Text)
}

/// UTF-8 (a character cut off at the end of `head` aside) without NUL or other control
/// characters than tab, line breaks and form feed.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut mid-character at the end of the head: fine; invalid inside: not text.
        Err(e) => e.error_len().is_none(),
    };
    let controls = head
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c));
    valid && !controls && !head.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Kind::Pdf));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(Kind::Image("image/png"))
        );
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(Kind::Image("image/webp"))
        );
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WAVEfmt "),
            None,
            "a WAV file is not an image"
        );
        assert_eq!(
            sniff("fn main() {}\n// ünïcödé".as_bytes()),
            Some(Kind::Text)
        );
        assert_eq!(sniff(b"MZ\x90\0\x03\0"), None, "an executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        // A character cut at the end of the head is still text.
        assert_eq!(sniff(&"é".as_bytes()[..1]), Some(Kind::Text));
        assert_eq!(
            Kind::Text.content_type("page.html"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            Kind::Text.content_type("notes.MD"),
            "text/markdown; charset=utf-8"
        );
    }
}
