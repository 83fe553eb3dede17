//! Where each model is served: an ordered list of deployments (`[models.X]`'s own provider,
//! then its `fallbacks`), each a provider at a base URL with a key, and a breaker that rests a
//! deployment which keeps failing. Built once per worker; the breakers are shared by every job
//! the worker runs.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use secrecy::SecretString;
use sluice_shared::{
    Config,
    config::{Deployment, HttpProviderConfig, ProviderKind},
};

use super::{
    HttpProvider, Provider, WireFormat, anthropic::Anthropic, demo::Demo, gemini::Gemini,
    openai::OpenAi,
};
use crate::metrics::WorkerMetrics;

/// One deployment of a model.
pub struct Route {
    pub provider: Box<dyn Provider>,
    /// Which provider it is (a user's own key for it stands in for the server's).
    pub kind: ProviderKind,
    /// Whether users' own keys go to it: only the provider section's own endpoint does, never
    /// a fallback with a `base_url` or key variable of its own (another server, perhaps
    /// another company's, that must not see a user's OpenAI key).
    pub takes_user_keys: bool,
    /// The provider's own name for the model.
    pub upstream_model: String,
    /// For logs: `anthropic:claude-x@https://…`.
    pub label: String,
    pub breaker: Breaker,
    /// Where its calls, errors and fail-overs are counted.
    pub metrics: Arc<WorkerMetrics>,
}

/// Every model's deployments.
pub struct Routes {
    models: HashMap<String, Vec<Arc<Route>>>,
}

impl Routes {
    /// Fails when a deployment names a key variable that is not set.
    pub fn build(config: &Config, metrics: &Arc<WorkerMetrics>) -> anyhow::Result<Self> {
        let w = &config.worker;
        let breaker = || {
            Breaker::new(
                w.breaker_failures,
                Duration::from_secs(w.breaker_cooldown_secs),
            )
        };
        let mut models = HashMap::new();
        for (name, model) in &config.models {
            let primary = Deployment {
                provider: model.provider,
                upstream_model: model.upstream_model.clone(),
                base_url: None,
                api_key_env: None,
            };
            let mut routes = Vec::new();
            for deployment in std::iter::once(&primary).chain(&model.fallbacks) {
                let upstream_model = deployment
                    .upstream_model
                    .clone()
                    .unwrap_or_else(|| name.clone());
                let (provider, at) = provider(config, deployment, metrics)?;
                routes.push(Arc::new(Route {
                    label: format!("{}:{upstream_model}@{at}", provider.name()),
                    kind: deployment.provider,
                    takes_user_keys: deployment.base_url.is_none()
                        && deployment.api_key_env.is_none(),
                    provider,
                    upstream_model,
                    breaker: breaker(),
                    metrics: metrics.clone(),
                }));
            }
            models.insert(name.clone(), routes);
        }
        Ok(Self { models })
    }

    /// The model's deployments in order, those resting after repeated failures last (tried
    /// only when every other one has failed too). Empty for an unknown model.
    pub fn for_model(&self, model: &str) -> Vec<Arc<Route>> {
        let Some(routes) = self.models.get(model) else {
            return Vec::new();
        };
        let (resting, ready): (Vec<_>, Vec<_>) =
            routes.iter().cloned().partition(|r| r.breaker.is_resting());
        ready.into_iter().chain(resting).collect()
    }
}

/// The provider of one deployment, and where it is (for the label).
fn provider(
    config: &Config,
    d: &Deployment,
    metrics: &WorkerMetrics,
) -> anyhow::Result<(Box<dyn Provider>, String)> {
    let section = |base: &HttpProviderConfig| -> anyhow::Result<HttpProviderConfig> {
        let mut section = base.clone();
        if let Some(url) = &d.base_url {
            section.base_url = url.clone();
        }
        if let Some(var) = &d.api_key_env {
            let key = std::env::var(var).map_err(|_| {
                anyhow::anyhow!("a model deployment's key variable {var} is not set")
            })?;
            section.api_key = Some(SecretString::from(key));
        }
        Ok(section)
    };
    Ok(match d.provider {
        ProviderKind::Demo => (Box::new(Demo::new(config.demo.clone())), "local".into()),
        ProviderKind::Openai => http(section(&config.openai)?, OpenAi, metrics),
        ProviderKind::Anthropic => http(section(&config.anthropic)?, Anthropic, metrics),
        ProviderKind::Gemini => http(section(&config.gemini)?, Gemini, metrics),
    })
}

/// An HTTP provider speaking `format`, and its base URL.
fn http<W: WireFormat>(
    section: HttpProviderConfig,
    format: W,
    metrics: &WorkerMetrics,
) -> (Box<dyn Provider>, String) {
    let at = section.base_url.clone();
    let retries = metrics.provider_retries(format.name());
    (Box::new(HttpProvider::new(section, format, retries)), at)
}

/// Rests a deployment for `cooldown` after `failures` failures in a row, then lets it try
/// again (one more failure rests it again).
pub struct Breaker {
    failures: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    in_a_row: u32,
    resting_until: Option<Instant>,
}

impl Breaker {
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self {
            failures,
            cooldown,
            state: Mutex::default(),
        }
    }

    pub fn is_resting(&self) -> bool {
        let state = self.state.lock().expect("breaker lock");
        state
            .resting_until
            .is_some_and(|until| Instant::now() < until)
    }

    pub fn succeeded(&self) {
        *self.state.lock().expect("breaker lock") = BreakerState::default();
    }

    pub fn failed(&self) {
        let mut state = self.state.lock().expect("breaker lock");
        state.in_a_row += 1;
        if state.in_a_row >= self.failures {
            state.resting_until = Some(Instant::now() + self.cooldown);
            state.in_a_row = self.failures - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_rests_after_failures_in_a_row_and_is_tried_again_after_the_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(30));
        b.failed();
        assert!(!b.is_resting(), "one failure is not a pattern");
        b.failed();
        assert!(b.is_resting());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!b.is_resting(), "tried again after the cooldown");
        b.failed();
        assert!(b.is_resting(), "still failing: rests again at once");
        b.succeeded();
        assert!(!b.is_resting());
        b.failed();
        assert!(!b.is_resting(), "a success starts the count over");
    }
}
