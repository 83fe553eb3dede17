//! `[device]`, `[github]`, `[google]`: how people sign in.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::secrets::redact_opt;

/// The OAuth 2.0 Device Authorization Grant (RFC 8628), used by the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Lifetime of a device code and its user code.
    pub code_ttl_secs: u64,
    /// Seconds a client waits between polls (grows by 5 on every `slow_down`).
    pub poll_interval_secs: u32,
    /// Wrong user codes one address may enter per code lifetime.
    pub misses_per_ip: u32,
    /// Wrong user codes all addresses together may enter per code lifetime. With 20^8 codes,
    /// 5 keeps the chance of guessing a given live code within RFC 8628's 2^-32.
    pub misses_global: u32,
    /// Clients allowed to ask for device codes, by `client_id` (all public clients).
    pub clients: BTreeMap<String, DeviceClient>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceClient {
    /// Shown on the approval page: "Sluice CLI wants to sign in".
    pub name: String,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            code_ttl_secs: 900,
            poll_interval_secs: 5,
            misses_per_ip: 3,
            misses_global: 5,
            clients: BTreeMap::from([(
                "sluice-cli".to_string(),
                DeviceClient {
                    name: "Sluice CLI".into(),
                },
            )]),
        }
    }
}

impl DeviceConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.code_ttl_secs == 0
            || self.poll_interval_secs == 0
            || self.misses_per_ip == 0
            || self.misses_global == 0
        {
            return Err("device.code_ttl_secs, poll_interval_secs, misses_per_ip and misses_global must be above 0".into());
        }
        Ok(())
    }
}

/// An OAuth 2.0 sign-in provider (GitHub or Google). Off until `client_id` is set; the URLs
/// default to the real provider and point at a fake one in tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthProviderConfig {
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default, serialize_with = "redact_opt")]
    pub client_secret: Option<SecretString>,
    pub authorize_url: String,
    pub token_url: String,
    /// The signed-in user's profile (GitHub `/user`, Google OpenID `userinfo`).
    pub userinfo_url: String,
    /// GitHub only: the user's addresses, to find the primary verified one.
    #[serde(default)]
    pub emails_url: Option<String>,
}

impl OAuthProviderConfig {
    pub fn enabled(&self) -> bool {
        self.client_id.is_some()
    }

    pub(super) fn github() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            authorize_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            userinfo_url: "https://api.github.com/user".into(),
            emails_url: Some("https://api.github.com/user/emails".into()),
        }
    }

    pub(super) fn google() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".into(),
            emails_url: None,
        }
    }

    /// `name` is the section's key, for the error.
    pub(super) fn validate(&self, name: &str) -> Result<(), String> {
        if self.client_id.is_some() && self.client_secret.is_none() {
            return Err(format!(
                "{name}.client_secret must be set when {name}.client_id is"
            ));
        }
        Ok(())
    }
}
