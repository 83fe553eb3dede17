//! `[secrets]`: the master key that seals users' provider keys at rest (`envelope`). Set it
//! with `master_key` (base64 of 32 random bytes: `openssl rand -base64 32`; in the
//! environment `SLUICE_SECRETS__MASTER_KEY`) or `master_key_file` (a file holding that), and
//! name it with `master_key_id`, which is stored beside every secret it wraps. To rotate:
//! make the new key current under a new id, list the old one as `"id:base64"` in
//! `retired_master_keys` (both still open secrets, so nothing stops), run
//! `sluice-api rotate-master-key`, then drop the retired key.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::redact_opt;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Unset (with no file): users cannot store provider keys (503 `byok_not_configured`).
    #[serde(serialize_with = "redact_opt")]
    pub master_key: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    pub master_key_id: String,
    /// Earlier master keys, `"id:base64"` each (comma-separated in the environment): they
    /// still open what they sealed until `rotate-master-key` has re-wrapped it.
    #[serde(
        deserialize_with = "secret_list",
        serialize_with = "redact_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub retired_master_keys: Vec<SecretString>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            master_key: None,
            master_key_file: None,
            master_key_id: "1".into(),
            retired_master_keys: Vec::new(),
        }
    }
}

/// A list of secrets from TOML (`["a", "b"]`) or the environment (`a,b`); kept as written.
fn secret_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    let items = match Either::deserialize(d)? {
        Either::List(items) => items,
        Either::One(joined) => joined.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .collect())
}

/// One `[redacted]` for the whole list, like any other secret setting.
fn redact_list<S: serde::Serializer>(_: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}
