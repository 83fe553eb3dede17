//! `sluice login`, `logout`, `whoami`. Login is the OAuth 2.0 Device Authorization Grant
//! (RFC 8628): show the code, open the browser if there is one, poll at the server's interval
//! — 5 s longer after every `slow_down` (§3.5) — until the person approves or denies, or the
//! code expires.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::Value;
use sluice_shared::dto::{DEVICE_GRANT_TYPE, DeviceCodeOut, TokensOut, UserOut};

use crate::{
    client::{Api, api_error, decode},
    error::{CliError, CliResult},
};

const CLIENT_ID: &str = "sluice-cli";

pub async fn login(api: &mut Api, open_browser: bool) -> CliResult<()> {
    let response = api
        .http
        .post(api.url("/api/auth/device/code"))
        .form(&[("client_id", CLIENT_ID)])
        .send()
        .await?;
    let codes: DeviceCodeOut = decode(response).await?;
    println!("To sign in, open  {}", codes.verification_uri);
    println!("and enter the code  {}", codes.user_code);
    println!("(or open {})", codes.verification_uri_complete);
    if open_browser && has_display() {
        open(&codes.verification_uri_complete);
    }
    let _ = std::io::stdout().flush();

    let tokens = poll(api, &codes).await?;
    let who = describe(&tokens.user);
    api.save(tokens).await?;
    println!("Signed in to {} as {who}.", api.server);
    println!("Credentials saved in {}.", api.store.describe());
    Ok(())
}

/// Polls the token endpoint until the device is approved, denied or expired.
async fn poll(api: &Api, codes: &DeviceCodeOut) -> CliResult<TokensOut> {
    let deadline = Instant::now() + Duration::from_secs(codes.expires_in);
    let mut interval = Duration::from_secs(codes.interval.into());
    let spinner = std::io::stderr().is_terminal();
    let mut frame = 0usize;
    loop {
        // Wait one interval, drawing the spinner with the time left on the way.
        let wake = Instant::now() + interval;
        while Instant::now() < wake {
            if spinner {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                let glyph = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][frame % 10];
                eprint!(
                    "\r{glyph} Waiting for approval… {}:{:02} left ",
                    left / 60,
                    left % 60
                );
                frame += 1;
            }
            tokio::time::sleep(Duration::from_millis(100).min(wake - Instant::now())).await;
        }
        let response = api
            .http
            .post(api.url("/api/auth/device/token"))
            .form(&[
                ("grant_type", DEVICE_GRANT_TYPE),
                ("device_code", &codes.device_code),
                ("client_id", CLIENT_ID),
            ])
            .send()
            .await?;
        if response.status().is_success() {
            clear_line(spinner);
            return decode(response).await;
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += Duration::from_secs(5),
            Some("access_denied") => {
                clear_line(spinner);
                return Err(CliError::new("sign-in was denied in the browser"));
            }
            Some("expired_token") => {
                clear_line(spinner);
                return Err(CliError::new(
                    "the code expired before it was approved: run `sluice login` again",
                ));
            }
            _ => {
                clear_line(spinner);
                return Err(api_error(status, &body));
            }
        }
    }
}

pub async fn logout(api: &mut Api) -> CliResult<()> {
    if api.credentials().is_none() {
        println!("Not signed in to {}.", api.server);
        return Ok(());
    }
    // Ending the session on the server may fail if it already ended: either way, forget it.
    let url = api.url("/api/auth/logout");
    let ended = api
        .send(|http, token| http.post(&url).bearer_auth(token))
        .await;
    let where_ = api.store.describe();
    api.forget().await?;
    match ended {
        Ok(r) if r.status().is_success() => println!("Signed out of {}.", api.server),
        _ => println!("The session on {} had already ended.", api.server),
    }
    println!("Removed the credentials from {where_}.");
    Ok(())
}

pub async fn whoami(api: &mut Api) -> CliResult<()> {
    let me: UserOut = api.call(Method::GET, "/api/auth/me", None).await?;
    println!("{} on {}", describe(&me), api.server);
    Ok(())
}

fn describe(user: &UserOut) -> String {
    let mut who = user.display_name.clone();
    if let Some(email) = &user.email {
        who.push_str(&format!(" <{email}>"));
    }
    if user.is_guest {
        who.push_str(" (guest)");
    }
    if user.roles.iter().any(|r| r == "admin") {
        who.push_str(" [admin]");
    }
    who
}

fn clear_line(spinner: bool) {
    if spinner {
        eprint!("\r\x1b[2K");
    }
}

/// A graphical session to open a browser in (macOS and Windows always have one).
fn has_display() -> bool {
    cfg!(any(target_os = "macos", target_os = "windows"))
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

fn open(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("(could not open a browser: open the link yourself)");
    }
}
