//! `AuthUser`: who is calling, from one of three credentials, checked in this order:
//! 1. `Authorization: Bearer sk-sluice-…` — an API key (enabled, its user not disabled);
//! 2. `Authorization: Bearer <JWT>` — an access token whose session is still live;
//! 3. the `sluice_access` cookie (browsers) — the same token, plus the CSRF token on writes.
//!
//! Checking the session or key row on every request is what makes logout, revocation and
//! disabling a user take effect at once.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, StatusCode, header, request::Parts},
};
use sluice_shared::batch::Statement;
use sqlx::PgPool;
use uuid::Uuid;

use super::{cookies, keys, roles::may_chat};
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub credential: Credential,
    /// Whether the user holds the `chat` permission, read by the same statement that checks
    /// the credential (so a role change acts on the next request, at no extra round trip).
    /// Routes that chat or touch conversations require it (`roles::require_chat`).
    pub may_chat: bool,
}

/// What the caller proved who they are with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A signed-in session (bearer or cookie).
    Session(Uuid),
    /// An API key: it acts for its user but is not a session (it cannot log out, or manage
    /// keys — a leaked key must not be able to mint more).
    ApiKey(Uuid),
}

impl AuthUser {
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::ApiKey(_) => None,
        }
    }

    /// The session, or 403 for API keys on routes that manage the account itself.
    pub fn require_session(&self) -> Result<Uuid, ApiError> {
        self.session_id().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "session_required",
                "this needs a signed-in session; an API key cannot do it",
            )
        })
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Already checked by a layer in front (`roles::require_chat`).
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(*user);
        }
        if let Some(bearer) = bearer(&parts.headers) {
            return from_bearer(state, bearer).await;
        }
        if cookies::get(&parts.headers, cookies::ACCESS).is_some() {
            let user = from_cookie(state, &parts.headers).await.ok_or_else(|| {
                ApiError::unauthorized("the session cookie is invalid or expired")
            })?;
            let session = user.session_id().expect("cookies carry sessions");
            let presented = cookies::csrf_header(&parts.headers);
            if !is_safe(&parts.method) && !cookies::csrf_valid(&state.config, session, presented) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "a write signed in by cookie must send the sluice_csrf cookie's value in X-CSRF-Token",
                ));
            }
            return Ok(user);
        }
        Err(ApiError::unauthorized(
            "sign in: send Authorization: Bearer <access token or API key>",
        ))
    }
}

/// The caller a bearer credential names: an API key (`sk-sluice-…`) or an access token. Also
/// for transports that carry it elsewhere (Socket.IO's handshake `auth`).
pub async fn from_bearer(state: &AppState, bearer: &str) -> Result<AuthUser, ApiError> {
    if bearer.starts_with(keys::KEY_PREFIX) {
        return keys::store::authenticate(&state.pool, bearer)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the API key is invalid or disabled"));
    }
    from_access_token(state, bearer).await
}

/// The browser's user from its access cookie, if valid (pages check CSRF on their forms).
pub async fn from_cookie(state: &AppState, headers: &HeaderMap) -> Option<AuthUser> {
    let token = cookies::get(headers, cookies::ACCESS)?;
    from_access_token(state, token).await.ok()
}

async fn from_access_token(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state
        .jwt
        .verify(token.trim())
        .ok_or_else(|| ApiError::unauthorized("the access token is invalid or expired"))?;
    let Some(live) = live_session(state, claims.sid, claims.sub).await? else {
        return Err(ApiError::unauthorized(
            "the session has ended; sign in again",
        ));
    };
    Ok(AuthUser {
        user_id: claims.sub,
        credential: Credential::Session(claims.sid),
        may_chat: live.may_chat,
    })
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The session, if it is live (not revoked or expired, its user not disabled).
pub async fn live_session(
    state: &AppState,
    session_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<Live>> {
    Ok(state.live_sessions.submit((session_id, user_id)).await?)
}

/// What a live session's user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    pub may_chat: bool,
}

/// Checks that sessions are live (not revoked or expired, the user not disabled); checks of
/// concurrent requests share one statement (`sluice_shared::batch`). Items: (session, user).
pub struct LiveSessions(pub PgPool);

impl Statement for LiveSessions {
    type Item = (Uuid, Uuid);
    type Output = Option<Live>;

    async fn run(&self, sessions: &[(Uuid, Uuid)]) -> sqlx::Result<Vec<Option<Live>>> {
        let (ids, users): (Vec<Uuid>, Vec<Uuid>) = sessions.iter().copied().unzip();
        // A live session is also marked used (at most once a minute, so this is rarely a
        // write): the device list's "last active" follows use, not only token refreshes.
        let live: Vec<(Uuid, Uuid, bool)> = sqlx::query_as(concat!(
            "WITH live AS (
                 SELECT s.id, s.user_id, s.last_used_at
                 FROM unnest($1::uuid[], $2::uuid[]) AS q(id, user_id)
                 JOIN sessions s ON s.id = q.id AND s.user_id = q.user_id
                 JOIN users u ON u.id = s.user_id
                 -- `= ANY` finds the sessions by primary key (see the worker's `store.rs`).
                 WHERE s.id = ANY($1) AND s.revoked_at IS NULL AND s.expires_at > now()
                   AND u.disabled_at IS NULL
             ), touched AS (
                 -- A row locked by a refresh is skipped, not waited for: this check serves
                 -- every user's requests at once.
                 UPDATE sessions SET last_used_at = now()
                 WHERE id = ANY(ARRAY(
                     SELECT s.id FROM sessions s
                     WHERE s.id = ANY(ARRAY(SELECT id FROM live
                                            WHERE last_used_at < now() - interval '1 minute'))
                     FOR UPDATE SKIP LOCKED))
             )
             SELECT id, user_id, ",
            may_chat!("live.user_id"),
            " FROM live"
        ))
        .bind(&ids)
        .bind(&users)
        .fetch_all(&self.0)
        .await?;
        let found = |&(id, user): &(Uuid, Uuid)| {
            let row = live.iter().find(|(i, u, _)| (*i, *u) == (id, user))?;
            Some(Live { may_chat: row.2 })
        };
        Ok(sessions.iter().map(found).collect())
    }
}
