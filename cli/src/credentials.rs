//! Where sign-ins are kept: the OS keyring (macOS Keychain, Windows Credential Manager, the
//! Secret Service on Linux desktops) when there is one, else `credentials.json` in the config
//! directory, readable by the user only (0600). One entry per server URL. The CLI always says
//! which of the two it used.

use std::{collections::BTreeMap, path::PathBuf};

use serde::{Deserialize, Serialize};
use sluice_shared::dto::{TokensOut, UserOut};

use crate::{
    config::{Settings, StoreChoice},
    error::{CliError, CliResult},
};

const KEYRING_SERVICE: &str = "sluice";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserOut,
}

impl From<TokensOut> for Credentials {
    fn from(t: TokensOut) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            user: t.user,
        }
    }
}

pub enum Store {
    Keyring,
    File(PathBuf),
}

impl Store {
    /// The keyring if chosen or (for `auto`) if one answers here; else the file.
    pub async fn open(settings: &Settings) -> CliResult<Self> {
        let file = Self::File(settings.dir.join("credentials.json"));
        match settings.store {
            StoreChoice::File => Ok(file),
            StoreChoice::Keyring => {
                if keyring_available(&settings.server).await {
                    Ok(Self::Keyring)
                } else {
                    Err(CliError::new(
                        "credential_store is keyring, but no OS keyring answers here",
                    ))
                }
            }
            StoreChoice::Auto if keyring_available(&settings.server).await => Ok(Self::Keyring),
            StoreChoice::Auto => Ok(file),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Keyring => "the OS keyring".into(),
            Self::File(path) => format!("{} (readable only by you)", path.display()),
        }
    }

    pub async fn load(&self, server: &str) -> CliResult<Option<Credentials>> {
        match self {
            Self::Keyring => {
                let server = server.to_string();
                let secret = blocking(move || match entry(&server)?.get_password() {
                    Ok(s) => Ok(Some(s)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(e),
                })
                .await?;
                Ok(secret.and_then(|s| serde_json::from_str(&s).ok()))
            }
            Self::File(path) => Ok(read_file(path)?.remove(server)),
        }
    }

    pub async fn save(&self, server: &str, creds: &Credentials) -> CliResult<()> {
        match self {
            Self::Keyring => {
                let (server, json) = (server.to_string(), to_json(creds)?);
                blocking(move || entry(&server)?.set_password(&json)).await
            }
            Self::File(path) => {
                let mut all = read_file(path)?;
                all.insert(server.to_string(), creds.clone());
                write_file(path, &all)
            }
        }
    }

    pub async fn remove(&self, server: &str) -> CliResult<()> {
        match self {
            Self::Keyring => {
                let server = server.to_string();
                blocking(move || match entry(&server)?.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(e),
                })
                .await
            }
            Self::File(path) => {
                let mut all = read_file(path)?;
                if all.remove(server).is_some() {
                    write_file(path, &all)?;
                }
                Ok(())
            }
        }
    }
}

fn entry(server: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(KEYRING_SERVICE, server)
}

/// Keyring calls block, and the Secret Service client may start its own async runtime: run
/// them on a plain thread, outside tokio's context, and await the answer.
async fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.ok()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> CliResult<T> {
    on_thread(f)
        .await
        .ok_or_else(|| CliError::new("the keyring call failed"))?
        .map_err(|e| CliError::new(format!("OS keyring: {e}")))
}

/// Whether a keyring answers (within 3 s): reading an entry works or says there is none.
async fn keyring_available(server: &str) -> bool {
    let server = server.to_string();
    let probe = on_thread(move || {
        matches!(
            entry(&server).and_then(|e| e.get_password()),
            Ok(_) | Err(keyring::Error::NoEntry)
        )
    });
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(3), probe).await,
        Ok(Some(true))
    )
}

fn to_json(creds: &Credentials) -> CliResult<String> {
    serde_json::to_string(creds).map_err(|e| CliError::new(format!("credentials: {e}")))
}

fn read_file(path: &PathBuf) -> CliResult<BTreeMap<String, Credentials>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|_| {
            CliError::new(format!(
                "{} is damaged: delete it and run `sluice login`",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(CliError::new(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes a 0600 temporary file and renames it over the old one: never a moment where the
/// tokens sit in a file others can read, and never a half-written file.
fn write_file(path: &PathBuf, all: &BTreeMap<String, Credentials>) -> CliResult<()> {
    use std::io::Write;
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    // `mode` applies only when creating: never reuse a leftover file with other permissions.
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    let json = serde_json::to_vec_pretty(all).map_err(|e| CliError::new(e.to_string()))?;
    file.write_all(&json)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
