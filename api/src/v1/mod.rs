//! The OpenAI-compatible door: `POST /v1/chat/completions` (streaming and not), `GET
//! /v1/chat/completions/{id}` and `GET /v1/models`, for apps that hold an OpenAI SDK. Behind it
//! is the same path every chat takes — stored, queued, offered to a worker, streamed through
//! JetStream — so an answer asked for here is durable and resumable like any other: the
//! `x-sluice-message-id` response header names the answer, whose native stream
//! (`GET /api/messages/{id}/stream`) resumes with `Last-Event-ID`.

mod chunks;
mod completions;
pub mod error;
mod models;
mod request;
mod schema;
mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(completions::create))
        .routes(routes!(completions::show))
        .routes(routes!(models::list))
        .routes(routes!(models::show))
}
