//! `AuthUser`: a verified bearer token whose session is still live. Checking the session row on
//! every request is what makes logout and revocation take effect at once.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                ApiError::unauthorized("sign in: send Authorization: Bearer <access token>")
            })?;
        let claims = state
            .jwt
            .verify(token.trim())
            .ok_or_else(|| ApiError::unauthorized("the access token is invalid or expired"))?;
        if !session_is_live(state, claims.sid, claims.sub).await? {
            return Err(ApiError::unauthorized(
                "the session has ended; sign in again",
            ));
        }
        Ok(Self {
            user_id: claims.sub,
            session_id: claims.sid,
        })
    }
}

async fn session_is_live(state: &AppState, session_id: Uuid, user_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL
               AND s.expires_at > now() AND u.disabled_at IS NULL)",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_one(&state.pool)
    .await
}
