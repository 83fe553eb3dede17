//! `[models.NAME]`: the models users may pick.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One selectable model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `demo` or `openai`.
    pub provider: ProviderKind,
    /// The provider's own model name (defaults to the key).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Context window in tokens; history is trimmed to fit.
    pub context_tokens: u32,
    /// Tokens reserved for the answer.
    pub max_output_tokens: u32,
    /// The name people see in the model picker (defaults to the key).
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Demo,
    Openai,
}

/// The one model that works out of the box.
pub(super) fn default_models() -> BTreeMap<String, ModelConfig> {
    BTreeMap::from([(
        "demo".to_string(),
        ModelConfig {
            provider: ProviderKind::Demo,
            upstream_model: None,
            context_tokens: 8192,
            max_output_tokens: 1024,
            display_name: Some("Demo (no network)".into()),
        },
    )])
}

/// Every model leaves room for history, and the default is one of them.
pub(super) fn validate(
    models: &BTreeMap<String, ModelConfig>,
    default: &str,
) -> Result<(), String> {
    if !models.contains_key(default) {
        return Err(format!(
            "default_model {default:?} is not one of models: {:?}",
            models.keys().collect::<Vec<_>>()
        ));
    }
    for (name, m) in models {
        if m.context_tokens <= m.max_output_tokens {
            return Err(format!(
                "models.{name}: context_tokens must exceed max_output_tokens"
            ));
        }
    }
    Ok(())
}
