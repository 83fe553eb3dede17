//! What stands between the API and its clients: the proxies whose word about a client's
//! address is believed, the other origins whose pages may call the API, and the read-only
//! tokens such pages stream with.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::secrets::list_or_commas;

/// Pages on other origins calling the API from a browser (CORS).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`, scheme + host + port, no path) whose pages may
    /// call the API, with cookies. None by default: only the API's own pages. Never `*`.
    #[serde(deserialize_with = "list_or_commas")]
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_secs: 3600,
        }
    }
}

impl CorsConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        for origin in &self.allowed_origins {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let Some(host) = rest else {
                return Err(format!(
                    "cors.allowed_origins: {origin:?} must start with https:// or http:// (never *)"
                ));
            };
            if host.is_empty() || host.contains(['/', '*', '?', '#', ' ']) {
                return Err(format!(
                    "cors.allowed_origins: {origin:?} must be an exact origin: scheme, host and \
                     port only, no path or wildcard"
                ));
            }
        }
        Ok(())
    }
}

/// The proxies in front of the API (`trusted_proxies`): CIDRs, or single addresses. From the
/// environment, comma-separated.
pub(super) fn proxies<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    list_or_commas(d)?
        .iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "trusted_proxies: {text:?} is not an address or a CIDR (10.0.0.0/8)"
                    ))
                })
        })
        .collect()
}

pub(super) fn proxies_as_text<S: serde::Serializer>(
    nets: &[IpNet],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}
