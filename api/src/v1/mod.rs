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
mod store;

use axum::{
    Router,
    routing::{get, post},
};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(completions::create))
        .route("/v1/chat/completions/{id}", get(completions::show))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::show))
}
