//! Identity: who may call, and how they got in. Sign-in by guest account, email + password
//! (`password`), GitHub/Google (`oauth`) or the device flow (`device`); every sign-in opens a
//! session with rotating refresh tokens (`sessions`), delivered as JSON and as browser cookies
//! (`cookies`). `AuthUser` (`extractor`) accepts an access token, a session cookie or an API
//! key (`keys`); `roles` guards admin routes.

mod account;
pub mod cookies;
mod device;
pub mod extractor;
mod guest;
pub(crate) mod keys;
mod oauth;
mod password;
pub mod rate_limit;
mod rfc6749;
pub mod roles;
mod sessions;
pub(crate) mod store;
pub mod tokens;

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use extractor::AuthUser;

use crate::state::AppState;

/// Every sign-in route, the device page and key verification sit behind the per-IP limit.
/// (Managing API keys is in `keys::router`, with the chat routes: a key is for chatting.)
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let limited = axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit);
    let mut limited_routes = OpenApiRouter::new()
        .routes(routes!(guest::create_guest))
        .routes(routes!(password::register))
        .routes(routes!(password::login))
        .routes(routes!(password::add_password, account::change_password))
        .routes(routes!(sessions::refresh))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::me, account::delete_account))
        .routes(routes!(sessions::session))
        .routes(routes!(sessions::list, account::sign_out_everywhere))
        .routes(routes!(sessions::remove))
        .routes(routes!(device::grant::request_code))
        .routes(routes!(device::grant::poll_token))
        .routes(routes!(device::approve::decide_by_api))
        .routes(routes!(device::page::show, device::page::decide_form))
        .routes(routes!(device::page::sign_in))
        .routes(routes!(oauth::configured))
        .routes(routes!(oauth::start))
        .routes(routes!(oauth::callback))
        .routes(routes!(keys::verify))
        .route_layer(limited);
    // What the limit answers, in the description of every route behind it.
    crate::openapi::common_responses::add_rate_limited(limited_routes.get_openapi_mut());
    limited_routes
}

/// The client's User-Agent and address, shown in the session list.
fn device(headers: &HeaderMap, client: IpAddr) -> store::Device<'_> {
    store::Device {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        ip: client.to_string(),
    }
}
