//! `sluice search QUERY`: the conversations and messages that match, best first — the
//! conversation's id and title, then the snippet with the matched words marked (bold at a
//! terminal, `**word**` when piped).

use std::io::IsTerminal;

use reqwest::Method;
use serde::Deserialize;
use uuid::Uuid;

use crate::{client::Api, error::CliResult};

#[derive(Deserialize)]
struct Part {
    text: String,
    highlight: bool,
}

#[derive(Deserialize)]
struct Hit {
    conversation_id: Uuid,
    conversation_title: Option<String>,
    message_id: Option<Uuid>,
    role: Option<String>,
    snippet: Vec<Part>,
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Hit>,
    next_cursor: Option<String>,
}

pub async fn search(api: &mut Api, query: &str, limit: u8) -> CliResult<()> {
    let q: String = url_escape(query);
    let path = format!("/api/search?q={q}&limit={limit}");
    let page: Page = api.call(Method::GET, &path, None).await?;
    let bold = std::io::stdout().is_terminal();
    if page.items.is_empty() {
        println!("Nothing found for “{query}”.");
    }
    for hit in &page.items {
        let who = match (hit.message_id, hit.role.as_deref()) {
            (None, _) => "title",
            (Some(_), Some("user")) => "you",
            (Some(_), _) => "answer",
        };
        let title = hit.conversation_title.as_deref().unwrap_or("(untitled)");
        println!("{}  {title}", hit.conversation_id);
        let snippet: String = (hit.snippet.iter())
            .map(|p| match (p.highlight, bold) {
                (true, true) => format!("\x1b[1m{}\x1b[0m", p.text),
                (true, false) => format!("**{}**", p.text),
                (false, _) => p.text.clone(),
            })
            .collect();
        println!(
            "    {who}: {}",
            snippet.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    if page.next_cursor.is_some() {
        println!("(more: narrow the search, or --limit up to 50)");
    }
    Ok(())
}

/// `text` for a URL's query string.
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
