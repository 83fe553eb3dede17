//! `sluice ask "PROMPT"` for scripts: the prompt (plus stdin, when piped) in, only the answer
//! out on stdout, errors on stderr, exit 0 only for a complete answer. On a terminal the answer
//! streams; into a pipe it is written once complete, so a restarted answer never leaves
//! half-text behind. `--json` prints the final message object instead. `-f FILE` attaches files
//! (uploaded first, then sent with the question).

use std::io::{IsTerminal, Read, Write};

use reqwest::Method;
use serde_json::Value;
use sluice_shared::dto::{ChatIn, FileOut};
use uuid::Uuid;

use crate::{
    client::Api,
    error::{CliError, CliResult},
    interrupts::Interrupts,
    render::Renderer,
    stream::{self, Outcome, Sink},
};

pub struct AskArgs {
    pub prompt: Option<String>,
    pub conversation: Option<Uuid>,
    pub model: Option<String>,
    pub json: bool,
    /// Uploaded first, then sent with the question.
    pub files: Vec<std::path::PathBuf>,
}

pub async fn ask(api: &mut Api, args: AskArgs) -> CliResult<()> {
    let message = prompt_with_stdin(args.prompt)?;
    let mut attachments = Vec::new();
    for file in &args.files {
        let uploaded: FileOut = api.upload("/api/files", file).await?;
        attachments.push(uploaded.id);
    }
    let input = ChatIn {
        message,
        conversation_id: args.conversation,
        model: args.model,
        attachments,
    };
    let mut interrupts = Interrupts::listen()?;
    let response = stream::start(api, &input, &mut interrupts).await?;
    let streaming = !args.json && std::io::stdout().is_terminal();
    let mut shown = Renderer::stdout();
    let mut buffered = Buffer::default();
    let sink: &mut dyn Sink = if streaming { &mut shown } else { &mut buffered };
    let followed = stream::follow(api, response, sink, &mut interrupts).await?;
    if streaming {
        shown.finish();
        println!();
    }
    match followed.outcome {
        Outcome::Done if args.json => {
            let id = followed
                .message_id
                .ok_or_else(|| CliError::new("the server sent no message id"))?;
            let message: Value = api
                .call(Method::GET, &format!("/api/messages/{id}"), None)
                .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&message).unwrap_or_default()
            );
        }
        Outcome::Done if !streaming => {
            let mut out = std::io::stdout();
            out.write_all(buffered.0.as_bytes())?;
            if !buffered.0.ends_with('\n') {
                out.write_all(b"\n")?;
            }
        }
        Outcome::Done => {}
        Outcome::Failed { message } => {
            return Err(CliError::new(format!("the answer failed: {message}")));
        }
        Outcome::Cancelled => {
            return Err(CliError {
                message: "cancelled".into(),
                exit_code: 130,
            });
        }
    }
    Ok(())
}

/// The prompt argument, and stdin when it is not a terminal (`cat notes | sluice ask "sum up"`).
fn prompt_with_stdin(prompt: Option<String>) -> CliResult<String> {
    let mut piped = String::new();
    if !std::io::stdin().is_terminal() {
        std::io::stdin().read_to_string(&mut piped)?;
    }
    let message = match (prompt, piped.trim().is_empty()) {
        (Some(p), true) => p,
        (Some(p), false) => format!("{p}\n\n{}", piped.trim_end()),
        (None, false) => piped.trim_end().to_string(),
        (None, true) => {
            return Err(CliError {
                message: "nothing to ask: give a prompt, or pipe text in".into(),
                exit_code: 2,
            });
        }
    };
    Ok(message)
}

/// Collects the answer for a pipe; a reset starts it over.
#[derive(Default)]
struct Buffer(String);

impl Sink for Buffer {
    fn token(&mut self, delta: &str) {
        self.0.push_str(delta);
    }
    fn reset(&mut self) {
        self.0.clear();
    }
}
