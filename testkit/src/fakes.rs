//! Options that point a stack at the fake outside world: OAuth providers, model providers.

use sluice_shared::config::ProviderKind;

use crate::{Options, fake_oauth, fake_openai};

/// Options for a stack whose GitHub and Google sign-in go to `fake`.
pub fn with_fake_oauth(fake: &fake_oauth::FakeOAuth) -> Options {
    let fake = fake.clone();
    Options {
        configure: Box::new(move |c| fake.configure(c)),
        ..Options::default()
    }
}

/// Options for a stack whose `fake-gpt` model is served by `fake` (an OpenAI-compatible fake).
pub fn with_fake_openai(fake: &fake_openai::FakeOpenAi) -> Options {
    with_fake_provider(fake, ProviderKind::Openai)
}

/// The fake upstream as `provider`'s server (short retries and idle timeout), with one model on
/// it, `fake-gpt` (the default model), whose upstream name is `gpt-fake-1`.
pub fn with_fake_provider(fake: &fake_openai::FakeOpenAi, provider: ProviderKind) -> Options {
    let (base_url, gemini_base_url) = (fake.base_url.clone(), fake.gemini_base_url());
    Options {
        configure: Box::new(move |c| {
            let section = match provider {
                ProviderKind::Anthropic => &mut c.anthropic,
                ProviderKind::Gemini => &mut c.gemini,
                _ => &mut c.openai,
            };
            section.base_url = match provider {
                ProviderKind::Gemini => gemini_base_url,
                _ => base_url,
            };
            section.api_key = Some("fake-key".to_string().into());
            section.idle_timeout_secs = 1;
            section.max_retries = 2;
            section.retry_base_ms = 50;
            c.models.insert(
                "fake-gpt".into(),
                sluice_shared::config::ModelConfig {
                    provider,
                    upstream_model: Some("gpt-fake-1".into()),
                    context_tokens: 4096,
                    max_output_tokens: 256,
                    display_name: Some("Fake GPT".into()),
                    price: None,
                    vision: true,
                    fallbacks: Vec::new(),
                },
            );
            c.default_model = "fake-gpt".into();
        }),
        ..Options::default()
    }
}
