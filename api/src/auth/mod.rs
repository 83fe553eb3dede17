//! Identity. For now guests only: `POST /api/auth/guest` makes a user and a session. The
//! accounts issue adds passwords, OAuth and the device flow on the same users/sessions tables.

mod extractor;
mod guest;
pub mod tokens;

use axum::{Router, routing::post};

pub use extractor::AuthUser;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/auth/guest", post(guest::create_guest))
}
