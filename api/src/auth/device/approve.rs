//! The user's side of RFC 8628 as an API: `POST /api/auth/device/approve` and `/deny`
//! `{user_code}`, for a signed-in user (bearer, or cookie with the CSRF token), so other
//! clients and tests can decide without the web page.

use std::net::IpAddr;

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    guesses,
    store::{self, Lookup},
};
use crate::client_ip::ClientIp;
use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    user_code: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DecisionOut {
    /// `approved` or `denied`
    status: &'static str,
}

/// Approves or denies the device request a user code names (RFC 8628 §3.3, as an API).
#[utoipa::path(post, path = "/api/auth/device/{decision}", tag = "auth",
    params(("decision" = String, Path, description = "`approve` or `deny`")),
    request_body = DecisionIn,
    responses(
        (status = 200, body = DecisionOut),
        (status = 400, description = "`invalid_user_code`, `expired_token`", body = ErrorBody),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "Neither `approve` nor `deny`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong codes", body = ErrorBody),
    ))]
pub async fn decide_by_api(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path(decision): Path<String>,
    user: AuthUser,
    ApiJson(input): ApiJson<DecisionIn>,
) -> ApiResult<Json<DecisionOut>> {
    user.require_session()?;
    let (approve_for, status) = match decision.as_str() {
        "approve" => (Some(user.user_id), "approved"),
        "deny" => (None, "denied"),
        _ => return Err(ApiError::not_found("route")),
    };
    decide(&state, client, &input.user_code, approve_for).await?;
    Ok(Json(DecisionOut { status }))
}

/// Approves for `approve_for`, or denies (`None`), the request a typed code names — within
/// the guessing budget. Shared by this API and the approval page.
pub async fn decide(
    state: &AppState,
    client: IpAddr,
    typed: &str,
    approve_for: Option<Uuid>,
) -> ApiResult<()> {
    let (code, found) = guesses::lookup(state, client, typed).await?;
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
