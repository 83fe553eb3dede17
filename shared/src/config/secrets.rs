//! How secrets and lists read from the file or environment and print in logs.

use secrecy::SecretString;
use serde::Deserialize;

/// A list from TOML (`["a", "b"]`) or from the environment (`a,b`).
pub(super) fn list_or_commas<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
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
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect())
}

pub(super) fn redact<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

pub(super) fn redact_opt<S: serde::Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}
