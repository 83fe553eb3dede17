//! Users' own provider keys ("bring your own key"): which providers take one, and the context
//! each is sealed for (`envelope`), which the API (sealing) and the worker (opening) share.

use uuid::Uuid;

use crate::config::ProviderKind;

/// The providers a user can give a key for, as stored and as the API names them.
pub const PROVIDERS: [&str; 3] = ["openai", "anthropic", "gemini"];

/// The stored name of a provider that takes a user's key (`None`: the demo provider).
pub fn stored_name(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Demo => None,
        ProviderKind::Openai => Some("openai"),
        ProviderKind::Anthropic => Some("anthropic"),
        ProviderKind::Gemini => Some("gemini"),
    }
}

/// What a user's key for `provider` is sealed for: it opens on no other user's or provider's row.
pub fn sealing_context(user_id: Uuid, provider: &str) -> Vec<u8> {
    format!("sluice provider key|{user_id}|{provider}").into_bytes()
}

/// How a key is shown: its last 4 characters only.
pub fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}
