//! `sluice`: sign in with the device flow and chat with streaming answers in the terminal.
#![forbid(unsafe_code)]

mod ask;
mod chat;
mod client;
mod config;
mod conversations;
mod credentials;
mod error;
mod folders;
mod interrupts;
mod login;
mod provider_keys;
mod render;
mod search;
mod stream;
mod upload;
mod usage;

use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::{client::Api, error::CliResult};

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Chat with a Sluice server from the terminal"
)]
struct Cli {
    /// Server URL (else SLUICE_SERVER, else `server` in the config file, else http://127.0.0.1:8080).
    #[arg(long, global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in with a code approved in the browser (OAuth device flow).
    Login {
        /// Only print the link; do not try to open a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// End the session on the server and forget it here.
    Logout,
    /// Who you are signed in as.
    Whoami,
    /// Chat interactively.
    Chat {
        /// Continue this conversation.
        #[arg(long)]
        conversation: Option<Uuid>,
        #[arg(long)]
        model: Option<String>,
    },
    /// Ask once; the answer goes to stdout (stdin is appended to the prompt when piped).
    Ask {
        prompt: Option<String>,
        #[arg(long)]
        conversation: Option<Uuid>,
        #[arg(long)]
        model: Option<String>,
        /// Print the final message object as JSON.
        #[arg(long)]
        json: bool,
        /// Attach a file (text, PDF or image); repeat for more.
        #[arg(short = 'f', long = "file")]
        files: Vec<std::path::PathBuf>,
    },
    /// List, show, export, delete, move or star conversations.
    #[command(subcommand, alias = "conv")]
    Conversations(ConversationsCommand),
    /// List, make, rename or delete folders of conversations.
    #[command(subcommand)]
    Folders(FoldersCommand),
    /// Save every conversation (with its messages, folders and stars) to a zip, as the server
    /// exports it (to `sluice-export.zip` unless FILE is given).
    Export { file: Option<std::path::PathBuf> },
    /// Import conversations from an export: Sluice's (a conversation's .json or the account
    /// .zip) or ChatGPT's data export (its .zip or conversations.json).
    Import { file: std::path::PathBuf },
    /// Find conversations and messages: words in any form, "a phrase", -without, names and
    /// parts of identifiers as written.
    Search {
        query: String,
        /// Hits to show, 1 to 50.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=50))]
        limit: u8,
    },
    /// What you used: requests, tokens, cost and latency, totals and per bucket.
    Usage {
        /// Bucket width: 15M (last day), 1H (last 7 days), 1D (last 30 days) or 7D.
        #[arg(long, value_enum, default_value = "1d")]
        interval: Interval,
    },
    /// Your own OpenAI, Anthropic or Gemini keys, used for your answers before the server's.
    #[command(subcommand)]
    ProviderKeys(ProviderKeysCommand),
}

#[derive(Subcommand)]
enum ProviderKeysCommand {
    List,
    /// Adds or replaces your key for PROVIDER, read from stdin (not shown when typed).
    Add {
        provider: Provider,
        /// When the provider refuses your key, answer with the server's key instead of failing.
        #[arg(long)]
        allow_server_fallback: bool,
    },
    Enable {
        provider: Provider,
    },
    Disable {
        provider: Provider,
    },
    #[command(alias = "remove")]
    Rm {
        provider: Provider,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Interval {
    #[value(name = "15m", alias = "15M")]
    Quarter,
    #[value(name = "1h", alias = "1H")]
    Hour,
    #[value(name = "1d", alias = "1D")]
    Day,
    #[value(name = "7d", alias = "7D")]
    Week,
}

impl Interval {
    fn as_str(self) -> &'static str {
        match self {
            Self::Quarter => "15M",
            Self::Hour => "1H",
            Self::Day => "1D",
            Self::Week => "7D",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Provider {
    Openai,
    Anthropic,
    Gemini,
}

impl Provider {
    fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
        }
    }
}

#[derive(Subcommand)]
enum ConversationsCommand {
    List,
    Show {
        id: Uuid,
    },
    Export {
        id: Uuid,
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
    },
    #[command(alias = "delete")]
    Rm {
        id: Uuid,
    },
    /// Put a conversation in a folder (made if you have none of that name), or take it out.
    Mv {
        id: Uuid,
        /// The folder's name.
        #[arg(required_unless_present = "out")]
        folder: Option<String>,
        /// Out of any folder.
        #[arg(long, conflicts_with = "folder")]
        out: bool,
    },
    /// Star a conversation: it is listed among the favorites, on top.
    Star {
        id: Uuid,
        /// Unstar it.
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
enum FoldersCommand {
    /// Your folders, with how many conversations each holds.
    List,
    /// Make a folder.
    Add { name: String },
    /// Rename a folder.
    Rename { name: String, new_name: String },
    /// Delete a folder; its conversations are kept, in no folder.
    #[command(alias = "delete")]
    Rm { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Md,
    Json,
}

fn main() {
    // Whatever happens, one line, no backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("sluice: internal error: {info}");
    }));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sluice: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("sluice: {e}");
        std::process::exit(e.exit_code);
    }
}

async fn run(cli: Cli) -> CliResult<()> {
    let settings = config::load(cli.server.as_deref())?;
    let default_model = settings.model.clone();
    let mut api = Api::connect(&settings).await?;
    match cli.command {
        Command::Login { no_browser } => login::login(&mut api, !no_browser).await,
        Command::Logout => login::logout(&mut api).await,
        Command::Whoami => login::whoami(&mut api).await,
        Command::Chat {
            conversation,
            model,
        } => chat::repl(&mut api, conversation, model.or(default_model)).await,
        Command::Ask {
            prompt,
            conversation,
            model,
            json,
            files,
        } => {
            let args = ask::AskArgs {
                prompt,
                conversation,
                model: model.or(default_model),
                json,
                files,
            };
            ask::ask(&mut api, args).await
        }
        Command::Conversations(c) => match c {
            ConversationsCommand::List => conversations::list(&mut api).await,
            ConversationsCommand::Show { id } => conversations::show(&mut api, id).await,
            ConversationsCommand::Export { id, format } => {
                let format = match format {
                    Format::Md => "md",
                    Format::Json => "json",
                };
                conversations::export(&mut api, id, format).await
            }
            ConversationsCommand::Rm { id } => conversations::remove(&mut api, id).await,
            ConversationsCommand::Mv { id, folder, .. } => {
                folders::move_to(&mut api, id, folder.as_deref()).await
            }
            ConversationsCommand::Star { id, off } => folders::star(&mut api, id, !off).await,
        },
        Command::Export { file } => {
            let file = file.unwrap_or_else(|| "sluice-export.zip".into());
            conversations::export_account(&mut api, &file).await
        }
        Command::Import { file } => conversations::import(&mut api, &file).await,
        Command::Search { query, limit } => search::search(&mut api, &query, limit).await,
        Command::Folders(c) => match c {
            FoldersCommand::List => folders::list(&mut api).await,
            FoldersCommand::Add { name } => folders::add(&mut api, &name).await.map(|_| ()),
            FoldersCommand::Rename { name, new_name } => {
                folders::rename(&mut api, &name, &new_name).await
            }
            FoldersCommand::Rm { name } => folders::remove(&mut api, &name).await,
        },
        Command::Usage { interval } => usage::show(&mut api, interval.as_str()).await,
        Command::ProviderKeys(c) => match c {
            ProviderKeysCommand::List => provider_keys::list(&mut api).await,
            ProviderKeysCommand::Add {
                provider,
                allow_server_fallback,
            } => provider_keys::add(&mut api, provider.as_str(), allow_server_fallback).await,
            ProviderKeysCommand::Enable { provider } => {
                provider_keys::set_enabled(&mut api, provider.as_str(), true).await
            }
            ProviderKeysCommand::Disable { provider } => {
                provider_keys::set_enabled(&mut api, provider.as_str(), false).await
            }
            ProviderKeysCommand::Rm { provider } => {
                provider_keys::remove(&mut api, provider.as_str()).await
            }
        },
    }
}
