//! Identity: who may call, and how they got in. Sign-in by guest account, email + password
//! (`password`), GitHub/Google (`oauth`) or the device flow (`device`); every sign-in opens a
//! session with rotating refresh tokens (`sessions`), delivered as JSON and as browser cookies
//! (`cookies`). `AuthUser` (`extractor`) accepts an access token, a session cookie or an API
//! key (`keys`); `roles` guards admin routes.

pub mod cookies;
mod device;
pub mod extractor;
mod guest;
mod keys;
mod oauth;
mod password;
pub mod rate_limit;
mod rfc6749;
pub mod roles;
mod sessions;
mod store;
pub mod tokens;

use std::net::SocketAddr;

use axum::{
    Router,
    http::{HeaderMap, header},
    routing::{delete, get, patch, post},
};

pub use extractor::AuthUser;

use crate::state::AppState;

/// Every sign-in route, the device page and key verification sit behind the per-IP limit.
pub fn router(state: &AppState) -> Router<AppState> {
    let limited = axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit);
    let unlimited = Router::new()
        .route("/api/keys", get(keys::list).post(keys::create))
        .route("/api/keys/{id}", patch(keys::update).delete(keys::remove))
        .route("/api/keys/{id}/rotate", post(keys::rotate));
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
        .route("/api/auth/device/code", post(device::grant::request_code))
        .route("/api/auth/device/token", post(device::grant::poll_token))
        .route(
            "/api/auth/device/{decision}",
            post(device::approve::decide_by_api),
        )
        .route(
            "/device",
            get(device::page::show).post(device::page::decide_form),
        )
        .route("/device/login", post(device::page::sign_in))
        .route("/api/auth/providers", get(oauth::configured))
        .route("/api/auth/{provider}", get(oauth::start))
        .route("/api/auth/{provider}/callback", get(oauth::callback))
        .route("/api/keys/verify", post(keys::verify))
        .route_layer(limited)
        .merge(unlimited)
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
