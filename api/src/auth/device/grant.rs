//! The device's side of RFC 8628: ask for codes (`POST /api/auth/device/code`, §3.1–3.2),
//! then poll for tokens (`POST /api/auth/device/token`, §3.4–3.5) until the user decides.

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use rand::RngCore;
use serde::Deserialize;
use sluice_shared::dto::{DEVICE_GRANT_TYPE, DeviceCodeOut};

use super::{store, user_code};
use crate::client_ip::ClientIp;
use crate::{
    auth::{
        rfc6749::{OAuthBody, OAuthError, OAuthErrorBody, no_store},
        sessions::open_session,
        store::Device,
    },
    state::AppState,
};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceCodeIn {
    client_id: Option<String>,
    scope: Option<String>,
}

/// RFC 8628 §3.1–3.2: a device asks for codes (form-encoded or JSON).
#[utoipa::path(post, path = "/api/auth/device/code", tag = "auth", security(()),
    request_body(content(
        (DeviceCodeIn = "application/x-www-form-urlencoded"),
        (DeviceCodeIn = "application/json"),
    )),
    responses(
        (status = 200, body = DeviceCodeOut),
        (status = 400, description = "`invalid_client`, `invalid_request`", body = OAuthErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn request_code(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    OAuthBody(input): OAuthBody<DeviceCodeIn>,
) -> Result<Response, OAuthError> {
    let client_id = registered_client(&state, input.client_id.as_deref())?;
    let config = &state.config.device;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let device_code = hex::encode(secret);
    let requester = crate::auth::device(&headers, client);
    let code = store::create(
        &state.pool,
        &device_code,
        store::NewRequest {
            client_id,
            scope: input.scope.as_deref(),
            interval_secs: config.poll_interval_secs,
            ttl_secs: config.code_ttl_secs,
            requester: &requester,
        },
    )
    .await?;
    let shown = user_code::display(&code);
    let verification_uri = format!("{}/device", state.config.public_url);
    let out = DeviceCodeOut {
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        verification_uri,
        device_code,
        user_code: shown,
        expires_in: config.code_ttl_secs,
        interval: config.poll_interval_secs,
    };
    let mut response = Json(out).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceTokenIn {
    #[schema(pattern = "^urn:ietf:params:oauth:grant-type:device_code$")]
    grant_type: Option<String>,
    device_code: Option<String>,
    client_id: Option<String>,
}

/// RFC 8628 §3.4–3.5: tokens once the user approved; until then the RFC's
/// `authorization_pending`, `slow_down`, `access_denied`, `expired_token`.
#[utoipa::path(post, path = "/api/auth/device/token", tag = "auth", security(()),
    request_body(content(
        (DeviceTokenIn = "application/x-www-form-urlencoded"),
        (DeviceTokenIn = "application/json"),
    )),
    responses(
        (status = 200, body = sluice_shared::dto::TokensOut),
        (status = 400, description = "Not yet, or never: the RFC's error codes", body = OAuthErrorBody),
    ))]
pub async fn poll_token(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    OAuthBody(input): OAuthBody<DeviceTokenIn>,
) -> Result<Response, OAuthError> {
    match input.grant_type.as_deref() {
        Some(DEVICE_GRANT_TYPE) => {}
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported here; use {DEVICE_GRANT_TYPE}"),
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    }
    let client_id = registered_client(&state, input.client_id.as_deref())?;
    let device_code = input
        .device_code
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;

    let mut tx = state.pool.begin().await?;
    let polled = store::lock_for_poll(&mut tx, &device_code)
        .await?
        .filter(|p| p.client_id == client_id)
        .ok_or_else(|| OAuthError::new("invalid_grant", "unknown device_code"))?;
    let refusal = match (polled.status.as_str(), polled.expired, polled.too_fast) {
        ("redeemed", ..) => Some(("invalid_grant", "this device_code was already used")),
        (_, true, _) => Some(("expired_token", "the device_code expired; start again")),
        ("denied", ..) => Some(("access_denied", "the user denied this sign-in")),
        ("pending", _, true) => Some(("slow_down", "polling too fast: wait 5 s more per poll")),
        ("pending", ..) => Some(("authorization_pending", "the user has not decided yet")),
        _ => None,
    };
    if let Some((error, description)) = refusal {
        if polled.status == "pending" {
            store::record_poll(&mut tx, polled.id, error == "slow_down").await?;
            tx.commit().await?;
        }
        return Err(OAuthError::new(error, description));
    }
    // Approved: redeem exactly once (the row lock keeps a second poll out until this commits).
    let user_id = polled
        .user_id
        .ok_or_else(|| anyhow::anyhow!("approved without a user"))?;
    store::mark_redeemed(&mut tx, polled.id).await?;
    let polling = crate::auth::device(&headers, client);
    let device = Device {
        user_agent: polled.requester_agent.as_deref().or(polling.user_agent),
        ip: polled.requester_ip.clone().unwrap_or(polling.ip),
    };
    let tokens = open_session(&state, tx, user_id, &device).await?;
    let mut response = Json(tokens).into_response();
    no_store(&mut response);
    Ok(response)
}

/// The client, if it is one of `device.clients`.
fn registered_client<'a>(
    state: &AppState,
    client_id: Option<&'a str>,
) -> Result<&'a str, OAuthError> {
    let client_id =
        client_id.ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
    if !state.config.device.clients.contains_key(client_id) {
        return Err(OAuthError::new(
            "invalid_client",
            format!("client {client_id:?} is not registered"),
        ));
    }
    Ok(client_id)
}
