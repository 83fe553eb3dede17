//! Files the CLI sends: `sluice import FILE` (and attachments).

/// The type a file's first bytes say it is; the server tells types by content too.
pub fn content_type(head: &[u8]) -> &'static str {
    let text = head.iter().find(|b| !b.is_ascii_whitespace());
    if head.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if matches!(text, Some(b'{' | b'[')) {
        "application/json"
    } else {
        "application/octet-stream"
    }
}
