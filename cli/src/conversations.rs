//! `sluice conversations list | show ID | export ID --format md|json | rm ID`, and `sluice
//! export FILE` (the whole account). Shown and exported as the server exports them.

use reqwest::Method;
use serde_json::Value;
use sluice_shared::dto::{ConversationOut, Page};
use uuid::Uuid;

use crate::{
    client::Api,
    error::{CliError, CliResult},
};

/// Every conversation, newest first: starred ones marked ★, and the folder each is in.
pub async fn list(api: &mut Api) -> CliResult<()> {
    let folders = crate::folders::all(api).await?;
    let mut cursor: Option<String> = None;
    let mut any = false;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/conversations?limit=100&cursor={c}"),
            None => "/api/conversations?limit=100".into(),
        };
        let page: Page<ConversationOut> = api.call(Method::GET, &path, None).await?;
        for c in &page.items {
            any = true;
            let star = if c.favorite { "★" } else { " " };
            let folder = c
                .group_id
                .and_then(|g| folders.iter().find(|f| f.id == g))
                .map(|f| format!("  [{}]", f.name))
                .unwrap_or_default();
            println!(
                "{}  {}  {:<10} {star} {}{folder}",
                c.id,
                c.updated_at.format("%Y-%m-%d %H:%M"),
                c.model,
                one_line(c.title.as_deref().unwrap_or("(untitled)"), 60)
            );
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if !any {
        println!("No conversations yet: start one with `sluice chat`.");
    }
    Ok(())
}

pub async fn show(api: &mut Api, id: Uuid) -> CliResult<()> {
    export(api, id, "md").await
}

/// The server's export of the conversation (`GET /api/conversations/{id}/export`), copied to
/// stdout as it arrives.
pub async fn export(api: &mut Api, id: Uuid, format: &str) -> CliResult<()> {
    let response = api
        .download(&format!("/api/conversations/{id}/export?format={format}"))
        .await?;
    copy_out(response, &mut std::io::stdout().lock()).await
}

/// The whole account (`GET /api/export`) as a zip written to `path`.
pub async fn export_account(api: &mut Api, path: &std::path::Path) -> CliResult<()> {
    let response = api.download("/api/export").await?;
    let mut file = std::fs::File::create(path)
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
    copy_out(response, &mut file).await?;
    println!("Saved your conversations to {}.", path.display());
    Ok(())
}

#[derive(serde::Deserialize)]
struct Imported {
    conversation_ids: Vec<Uuid>,
    messages: u64,
    folders_created: u64,
}

pub async fn import(api: &mut Api, path: &std::path::Path) -> CliResult<()> {
    let out: Imported = api.upload("/api/import", path).await?;
    let n = out.conversation_ids.len();
    let folders = match out.folders_created {
        0 => String::new(),
        1 => ", 1 new folder".into(),
        k => format!(", {k} new folders"),
    };
    println!(
        "Imported {n} conversation{} ({} messages{folders}).",
        if n == 1 { "" } else { "s" },
        out.messages
    );
    Ok(())
}

/// The body, chunk by chunk as it arrives, to `out` (a CLI may block on its own output).
async fn copy_out(mut response: reqwest::Response, out: &mut impl std::io::Write) -> CliResult<()> {
    while let Some(chunk) = response.chunk().await? {
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(())
}

pub async fn remove(api: &mut Api, id: Uuid) -> CliResult<()> {
    let _: Value = api
        .call(Method::DELETE, &format!("/api/conversations/{id}"), None)
        .await?;
    println!("Deleted conversation {id}.");
    Ok(())
}

/// The first line of `text`, at most `max` characters (titles can be whole first messages).
fn one_line(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    match first.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &first[..cut]),
        None if text.contains('\n') => format!("{first}…"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn list_titles_stay_on_one_line() {
        assert_eq!(one_line("summarize\n\nnotes", 60), "summarize…");
        assert_eq!(one_line("short", 60), "short");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
