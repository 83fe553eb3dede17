//! `sluice chat`: a REPL with line editing and history. Each answer streams as it arrives;
//! Ctrl-C during an answer cancels it on the server and returns to the prompt; Ctrl-D (or
//! `/exit`) quits. Commands: `/new`, `/model NAME`, `/title TEXT`, `/help`, `/exit`.

use reqwest::Method;
use rustyline::{DefaultEditor, error::ReadlineError};
use serde_json::json;
use sluice_shared::dto::{ChatIn, ConversationOut};
use uuid::Uuid;

use crate::{
    client::Api,
    error::{CliError, CliResult},
    interrupts::Interrupts,
    render::Renderer,
    stream::{self, Outcome},
};

const HELP: &str = "\
/new          start a new conversation
/model NAME   use another model from now on
/title TEXT   name this conversation
/help         this list
/exit         quit (or Ctrl-D); Ctrl-C stops an answer";

pub struct Session {
    conversation: Option<Uuid>,
    model: Option<String>,
    interrupts: Interrupts,
}

pub async fn repl(
    api: &mut Api,
    conversation: Option<Uuid>,
    model: Option<String>,
) -> CliResult<()> {
    if let Some(id) = conversation {
        // Fail early, with a clear line, on an unknown or foreign conversation.
        let c: ConversationOut = api
            .call(Method::GET, &format!("/api/conversations/{id}"), None)
            .await?;
        println!(
            "Continuing \"{}\".",
            c.title.as_deref().unwrap_or("untitled")
        );
    }
    let mut session = Session {
        conversation,
        model,
        interrupts: Interrupts::listen()?,
    };
    let mut editor = DefaultEditor::new().map_err(|e| CliError::new(format!("terminal: {e}")))?;
    let history = crate::config::dir()?.join("history.txt");
    let _ = editor.load_history(&history);
    println!(
        "Chatting on {}. /help for commands, Ctrl-D to quit.",
        api.server
    );
    loop {
        let line = tokio::task::block_in_place(|| editor.readline("you> "));
        let line = match line {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(CliError::new(format!("terminal: {e}"))),
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(text);
        let _ = std::fs::create_dir_all(history.parent().expect("in the config dir"));
        let _ = editor.save_history(&history);
        let result = match text.split_once(' ').unwrap_or((text, "")) {
            ("/exit" | "/quit", _) => break,
            ("/help", _) => {
                println!("{HELP}");
                Ok(())
            }
            ("/new", _) => {
                session.conversation = None;
                println!("(new conversation)");
                Ok(())
            }
            ("/model", name) => set_model(api, &mut session, name.trim()).await,
            ("/title", title) => set_title(api, &session, title.trim()).await,
            (command, _) if command.starts_with('/') => Err(CliError::new(format!(
                "unknown command {command}; /help lists them"
            ))),
            _ => answer(api, &mut session, text).await,
        };
        // A failed command or answer is reported and the REPL goes on.
        if let Err(e) = result {
            eprintln!("error: {e}");
            if e.message.contains("sluice login") {
                return Err(e);
            }
        }
    }
    Ok(())
}

async fn answer(api: &mut Api, session: &mut Session, text: &str) -> CliResult<()> {
    let input = ChatIn {
        message: text.to_string(),
        conversation_id: session.conversation,
        model: session.model.clone(),
        attachments: Vec::new(),
    };
    let response = stream::start(api, &input, &mut session.interrupts).await?;
    let mut renderer = Renderer::stdout();
    let followed = stream::follow(api, response, &mut renderer, &mut session.interrupts).await?;
    renderer.finish();
    println!();
    session.conversation = followed.conversation_id.or(session.conversation);
    match followed.outcome {
        Outcome::Done => {}
        Outcome::Cancelled => println!("[cancelled]"),
        Outcome::Failed { message } => println!("[the answer failed: {message}]"),
    }
    Ok(())
}

async fn set_model(api: &mut Api, session: &mut Session, name: &str) -> CliResult<()> {
    if name.is_empty() {
        return Err(CliError::new("usage: /model NAME"));
    }
    if let Some(id) = session.conversation {
        // The server checks the name (unknown models are refused) and remembers it.
        let _: ConversationOut = api
            .call(
                Method::PATCH,
                &format!("/api/conversations/{id}"),
                Some(json!({ "model": name })),
            )
            .await?;
    }
    session.model = Some(name.to_string());
    println!("(model: {name})");
    Ok(())
}

async fn set_title(api: &mut Api, session: &Session, title: &str) -> CliResult<()> {
    let Some(id) = session.conversation else {
        return Err(CliError::new(
            "send a message first: the conversation starts with it",
        ));
    };
    if title.is_empty() {
        return Err(CliError::new("usage: /title TEXT"));
    }
    let _: ConversationOut = api
        .call(
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(json!({ "title": title })),
        )
        .await?;
    println!("(title: {title})");
    Ok(())
}
