//! `[models.NAME]`: the models users may pick.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One selectable model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `demo`, `openai` (or any server speaking its API), `anthropic` or `gemini`.
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
    /// What the provider charges; each answer's cost is stored with it. None: not priced.
    #[serde(default)]
    pub price: Option<ModelPrice>,
    /// It reads images: attached images go to it in its provider's format. Without it, a
    /// message with an image is refused (422 `model_cannot_see`).
    #[serde(default)]
    pub vision: bool,
    /// Deployments tried in order when the one above fails: before its first token (after its
    /// own retries), or mid-answer (the answer starts over on the next, after a `reset`).
    #[serde(default)]
    pub fallbacks: Vec<Deployment>,
}

/// One place a model is served.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub provider: ProviderKind,
    /// The provider's own model name (defaults to the model's key).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Instead of the provider section's `base_url`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding this deployment's key, instead of the section's key.
    #[serde(default)]
    pub api_key_env: Option<String>,
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl ModelPrice {
    /// The cost of an answer with this usage, in US dollars.
    pub fn cost(&self, input_tokens: u32, output_tokens: u32) -> f64 {
        (input_tokens as f64 * self.input_per_mtok + output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Demo,
    Openai,
    Anthropic,
    Gemini,
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
            price: None,
            // It says what it was shown: the way to try attachments without a provider.
            vision: true,
            fallbacks: Vec::new(),
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
