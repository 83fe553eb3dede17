//! Where the CLI talks to and keeps things: `--server` > `SLUICE_SERVER` > `server` in
//! `{config dir}/sluice/config.toml` > `http://127.0.0.1:8080`. The same file may set a
//! default `model` and `credential_store` (`auto`, `keyring` or `file`).

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{CliError, CliResult};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub server: Option<String>,
    pub model: Option<String>,
    pub credential_store: Option<String>,
}

#[derive(Debug)]
pub struct Settings {
    /// Base URL without a trailing slash.
    pub server: String,
    pub model: Option<String>,
    pub store: StoreChoice,
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The OS keyring when there is one, else the file.
    Auto,
    Keyring,
    File,
}

/// `{config dir}/sluice` (`$XDG_CONFIG_HOME/sluice` or `~/.config/sluice` on Linux).
pub fn dir() -> CliResult<PathBuf> {
    dirs::config_dir()
        .map(|d| d.join("sluice"))
        .ok_or_else(|| CliError::new("cannot find a config directory: set HOME or XDG_CONFIG_HOME"))
}

pub fn load(server_flag: Option<&str>) -> CliResult<Settings> {
    let dir = dir()?;
    let path = dir.join("config.toml");
    let file: FileConfig = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| CliError::new(format!("{}: {}", path.display(), e.message())))?,
        Err(_) => FileConfig::default(),
    };
    let server = server_flag
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("SLUICE_SERVER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or(file.server)
        .unwrap_or_else(|| DEFAULT_SERVER.into());
    let server = normalize_server(&server)?;
    let store = match file.credential_store.as_deref() {
        None | Some("auto") => StoreChoice::Auto,
        Some("keyring") => StoreChoice::Keyring,
        Some("file") => StoreChoice::File,
        Some(other) => {
            return Err(CliError::new(format!(
                "{}: credential_store must be auto, keyring or file, not {other:?}",
                path.display()
            )));
        }
    };
    // SLUICE_CREDENTIAL_STORE overrides the file (handy on CI and in tests).
    let store = match std::env::var("SLUICE_CREDENTIAL_STORE").as_deref() {
        Ok("file") => StoreChoice::File,
        Ok("keyring") => StoreChoice::Keyring,
        _ => store,
    };
    Ok(Settings {
        server,
        model: file.model,
        store,
        dir,
    })
}

fn normalize_server(raw: &str) -> CliResult<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let ok = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        && reqwest::Url::parse(trimmed).is_ok();
    if !ok {
        return Err(CliError::new(format!(
            "{raw:?} is not a server URL: use something like http://127.0.0.1:8080"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_and_trimmed() {
        assert_eq!(
            normalize_server("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert!(normalize_server("localhost:8080").is_err());
        assert!(normalize_server("ftp://x").is_err());
    }
}
