//! `sluice provider-keys list | add PROVIDER | enable PROVIDER | disable PROVIDER | rm PROVIDER`:
//! the user's own OpenAI / Anthropic / Gemini keys, used for their answers before the server's.
//! `add` reads the key from stdin — never from the command line, where shell history and the
//! process list would keep it — without echo when stdin is a terminal.

use std::io::{BufRead, IsTerminal, Write};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{client::Api, error::CliError, error::CliResult};

#[derive(Deserialize)]
struct ProviderKey {
    provider: String,
    enabled: bool,
    allow_server_fallback: bool,
    last4: String,
}

#[derive(Deserialize)]
struct ProviderKeys {
    items: Vec<ProviderKey>,
}

pub async fn list(api: &mut Api) -> CliResult<()> {
    let keys: ProviderKeys = api.call(Method::GET, "/api/provider-keys", None).await?;
    if keys.items.is_empty() {
        println!(
            "No provider keys: your answers use the server's. Add one with `sluice provider-keys add openai`."
        );
    }
    for key in keys.items {
        println!("{}", line(&key));
    }
    Ok(())
}

fn line(key: &ProviderKey) -> String {
    let state = if key.enabled { "in use" } else { "disabled" };
    let fallback = if key.allow_server_fallback {
        "server key if refused"
    } else {
        "fails if refused"
    };
    format!(
        "{:<10} …{}  {state:<8}  {fallback}",
        key.provider, key.last4
    )
}

pub async fn add(api: &mut Api, provider: &str, allow_server_fallback: bool) -> CliResult<()> {
    let key = read_key(provider)?;
    let mut body = json!({ "provider": provider, "api_key": key });
    if allow_server_fallback {
        body["allow_server_fallback"] = true.into();
    }
    let saved: ProviderKey = api
        .call(Method::POST, "/api/provider-keys", Some(body))
        .await?;
    println!("Saved. {}", line(&saved));
    Ok(())
}

pub async fn set_enabled(api: &mut Api, provider: &str, enabled: bool) -> CliResult<()> {
    let path = format!("/api/provider-keys/{provider}");
    let body = json!({ "enabled": enabled });
    let key: ProviderKey = api.call(Method::PATCH, &path, Some(body)).await?;
    println!("{}", line(&key));
    Ok(())
}

pub async fn remove(api: &mut Api, provider: &str) -> CliResult<()> {
    let path = format!("/api/provider-keys/{provider}");
    let _: Value = api.call(Method::DELETE, &path, None).await?;
    println!("Removed your {provider} key: your answers use the server's again.");
    Ok(())
}

/// One line from stdin: typed (not shown) at a terminal, or piped.
fn read_key(provider: &str) -> CliResult<String> {
    let stdin = std::io::stdin();
    let typed = stdin.is_terminal();
    if typed {
        eprint!("Paste your {provider} key (it is not shown), then Enter: ");
        let _ = std::io::stderr().flush();
        echo(false);
    }
    let mut key = String::new();
    let read = stdin.lock().read_line(&mut key);
    if typed {
        echo(true);
        eprintln!();
    }
    read.map_err(|e| CliError::new(format!("cannot read the key from stdin: {e}")))?;
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(CliError::new(
            "no key given: paste it when asked, or pipe it in (`sluice provider-keys add openai < key.txt`)",
        ));
    }
    Ok(key)
}

/// Turns the terminal's echo off or on (`stty`), so a pasted key is not left on screen.
fn echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}
