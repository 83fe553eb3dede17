//! Signed-in sessions: refresh (rotating), logout, who am I, and the list of one's devices.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::{
    AuthUser,
    store::{self, Refresh, SessionRow},
};
use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, Id},
    state::AppState,
};

/// Ends every sign-in: opens a session for `user` inside `tx` (so a new account and its first
/// session commit together), commits, and answers with the tokens.
pub async fn open_session(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    user: UserOut,
    device: &store::Device<'_>,
) -> ApiResult<TokensOut> {
    let ttl = state.config.refresh_token_ttl_secs;
    let (session_id, refresh) = store::start_session(&mut tx, user.id, device, ttl).await?;
    tx.commit().await?;
    Ok(tokens_out(state, user, session_id, refresh)?)
}

/// The answer every sign-in and refresh gives.
pub fn tokens_out(
    state: &AppState,
    user: UserOut,
    session_id: Uuid,
    refresh_token: String,
) -> anyhow::Result<TokensOut> {
    Ok(TokensOut {
        access_token: state.jwt.issue(user.id, session_id, vec!["user".into()])?,
        token_type: "Bearer".into(),
        expires_in: state.jwt.ttl_secs(),
        refresh_token,
        user,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshIn {
    refresh_token: String,
}

/// `POST /api/auth/refresh`: a new access token and a new refresh token; the old one is spent.
/// Presenting a spent token ends the session: whoever holds the newer one loses it too.
pub async fn refresh(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RefreshIn>,
) -> ApiResult<Json<TokensOut>> {
    let ttl = state.config.refresh_token_ttl_secs;
    let device = super::device(&headers, peer);
    match store::rotate(&state.pool, &input.refresh_token, ttl, &device).await? {
        Refresh::Rotated {
            user_id,
            session_id,
            token,
        } => {
            let user = user_out(store::user(&state.pool, user_id).await?);
            Ok(Json(tokens_out(&state, user, session_id, token)?))
        }
        Refresh::Invalid => Err(ApiError::unauthorized(
            "the refresh token is invalid or expired; sign in again",
        )),
        Refresh::Reused => {
            tracing::warn!("refresh token reuse: session revoked");
            Err(ApiError::unauthorized(
                "this refresh token was already used; the session has been ended for safety",
            ))
        }
    }
}

/// `POST /api/auth/logout`: ends the current session at once (its access token stops working).
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<StatusCode> {
    store::revoke_owned(&state.pool, user.user_id, user.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/auth/me`.
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<UserOut>> {
    Ok(Json(user_out(
        store::user(&state.pool, user.user_id).await?,
    )))
}

/// `GET /api/auth/session`: the user and the session this token belongs to.
pub async fn session(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    let sessions = store::live_sessions(&state.pool, user.user_id).await?;
    let current = sessions.into_iter().find(|s| s.id == user.session_id);
    let me = user_out(store::user(&state.pool, user.user_id).await?);
    Ok(Json(json!({ "user": me, "session": current })))
}

#[derive(Serialize)]
pub struct SessionOut {
    #[serde(flatten)]
    session: SessionRow,
    /// The session making this request.
    current: bool,
}

/// `GET /api/auth/sessions`: every device signed in to this account.
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    let items: Vec<SessionOut> = store::live_sessions(&state.pool, user.user_id)
        .await?
        .into_iter()
        .map(|session| SessionOut {
            current: session.id == user.session_id,
            session,
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `DELETE /api/auth/sessions/{id}`: signs one device out.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    if !store::revoke_owned(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn user_out(u: store::UserRow) -> UserOut {
    UserOut {
        id: u.id,
        display_name: u.display_name,
        is_guest: u.is_guest,
        created_at: u.created_at,
    }
}
