//! `sluice conversations list | show ID | export ID --format md|json | rm ID`.

use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::{
    dto::{ConversationOut, MessageOut, Page},
    message_status::MessageStatus,
};
use uuid::Uuid;

use crate::{client::Api, error::CliResult};

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
    let (conversation, messages) = fetch(api, id).await?;
    print!("{}", markdown(&conversation, &messages));
    Ok(())
}

pub async fn export(api: &mut Api, id: Uuid, format: &str) -> CliResult<()> {
    let (conversation, messages) = fetch(api, id).await?;
    match format {
        "json" => {
            let doc = json!({ "conversation": conversation, "messages": messages });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        _ => print!("{}", markdown(&conversation, &messages)),
    }
    Ok(())
}

pub async fn remove(api: &mut Api, id: Uuid) -> CliResult<()> {
    let _: Value = api
        .call(Method::DELETE, &format!("/api/conversations/{id}"), None)
        .await?;
    println!("Deleted conversation {id}.");
    Ok(())
}

/// The conversation and all its messages, oldest first.
async fn fetch(api: &mut Api, id: Uuid) -> CliResult<(ConversationOut, Vec<MessageOut>)> {
    let conversation: ConversationOut = api
        .call(Method::GET, &format!("/api/conversations/{id}"), None)
        .await?;
    let mut messages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/conversations/{id}/messages?limit=100");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Page<MessageOut> = api.call(Method::GET, &path, None).await?;
        messages.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok((conversation, messages))
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

fn markdown(conversation: &ConversationOut, messages: &[MessageOut]) -> String {
    let mut out = format!(
        "# {}\n\n_{} · model {} · {}_\n\n",
        conversation
            .title
            .as_deref()
            .unwrap_or("Untitled conversation"),
        conversation.id,
        conversation.model,
        conversation.created_at.format("%Y-%m-%d %H:%M UTC")
    );
    for m in messages {
        let who = if m.role == "user" { "You" } else { "Assistant" };
        let note = match m.status {
            MessageStatus::Complete | MessageStatus::Done => String::new(),
            other => format!(" _({other})_"),
        };
        out.push_str(&format!("**{who}**{note}\n\n{}\n\n", m.content.trim_end()));
    }
    out
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
