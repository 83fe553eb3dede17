//! Identity: guest accounts, sessions with rotating refresh tokens, and the bearer extractor.
//! The accounts issue adds passwords, OAuth and the device flow on the same tables.

mod extractor;
mod guest;
mod password;
pub mod rate_limit;
mod sessions;
mod store;
pub mod tokens;

use std::net::SocketAddr;

use axum::{
    Router,
    http::{HeaderMap, header},
    routing::{delete, get, post},
};

pub use extractor::AuthUser;

use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    let limited = axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit);
    Router::new()
        .route("/api/auth/guest", post(guest::create_guest))
        .route("/api/auth/register", post(password::register))
        .route("/api/auth/login", post(password::login))
        .route("/api/auth/password", post(password::add_password))
        .route("/api/auth/refresh", post(sessions::refresh))
        .route("/api/auth/logout", post(sessions::logout))
        .route("/api/auth/me", get(sessions::me))
        .route("/api/auth/session", get(sessions::session))
        .route("/api/auth/sessions", get(sessions::list))
        .route("/api/auth/sessions/{id}", delete(sessions::remove))
        .route_layer(limited)
}

/// The client's User-Agent and address, shown in the session list.
fn device(headers: &HeaderMap, peer: SocketAddr) -> store::Device<'_> {
    store::Device {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        ip: peer.ip().to_string(),
    }
}
