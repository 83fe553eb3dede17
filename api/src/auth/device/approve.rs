//! The user's side of RFC 8628 as an API: `POST /api/auth/device/approve` and `/deny`
//! `{user_code}`, for a signed-in user (bearer, or cookie with the CSRF token), so other
//! clients and tests can decide without the web page.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, Path, State},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    guesses,
    store::{self, Lookup},
};
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    state::AppState,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    user_code: String,
}

/// `POST /api/auth/device/{decision}` with `decision` = `approve` or `deny`.
pub async fn decide_by_api(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(decision): Path<String>,
    user: AuthUser,
    ApiJson(input): ApiJson<DecisionIn>,
) -> ApiResult<Json<Value>> {
    user.require_session()?;
    let (approve_for, status) = match decision.as_str() {
        "approve" => (Some(user.user_id), "approved"),
        "deny" => (None, "denied"),
        _ => return Err(ApiError::not_found("route")),
    };
    decide(&state, peer, &input.user_code, approve_for).await?;
    Ok(Json(json!({ "status": status })))
}

/// Approves for `approve_for`, or denies (`None`), the request a typed code names — within
/// the guessing budget. Shared by this API and the approval page.
pub async fn decide(
    state: &AppState,
    peer: SocketAddr,
    typed: &str,
    approve_for: Option<Uuid>,
) -> ApiResult<()> {
    let (code, found) = guesses::lookup(state, peer.ip(), typed).await?;
    match (code, found) {
        (Some(code), Lookup::Pending(_)) => {
            if store::decide(&state.pool, &code, approve_for).await? {
                return Ok(());
            }
            Err(already_decided())
        }
        (_, Lookup::Decided) => Err(already_decided()),
        _ => Err(ApiError::not_found(
            "device request with this code (or it expired)",
        )),
    }
}

fn already_decided() -> ApiError {
    ApiError::conflict(
        "already_decided",
        "this code was already approved or denied",
    )
}
