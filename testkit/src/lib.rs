//! Test and benchmark support: real Postgres and NATS (`services`), a fake OpenAI-compatible
//! upstream (`fake_openai`), an SSE client (`sse`), and `TestApp`, the real API and worker
//! started on port 0 with their own database and NATS prefix, so tests run in parallel — its
//! lifecycle in `app.rs`, its HTTP helpers in `requests.rs`, its processes in `processes.rs`,
//! the options that point it at fakes in `fakes.rs`.
#![forbid(unsafe_code)]

mod app;
pub mod auth_proxy;
pub mod browser;
pub mod chaos;
pub mod chat_page;
pub mod chatgpt_export;
pub mod clients;
pub mod durable_streams;
pub mod event_source;
pub mod fake_oauth;
pub mod fake_openai;
mod fakes;
pub mod handoff_watch;
pub mod nginx;
pub mod other_site;
pub mod processes;
pub mod proxy;
mod requests;
pub mod s3;
pub mod second_api;
pub mod services;
pub mod sse;
mod test_layout;
pub mod uploads;
pub mod wait;
pub mod webdriver;
pub mod ws;

pub use app::{Options, TestApp, test_config};
pub use fakes::{with_fake_oauth, with_fake_openai, with_fake_provider};
pub use requests::{PASSWORD, client_from, urlencode};
pub use second_api::SecondApi;
pub use sse::SseEvent;
