//! Who is on a socket (WebSocket or Socket.IO), and for how long. A signed-in caller (bearer
//! access token, API key, or the browser's session cookie) may send, cancel and follow any
//! stream of theirs; a stream token (`?token=`) only follows its one stream. The credential is
//! checked again while the socket lives: when it expires or is revoked, the socket ends.

use std::time::Duration;

use axum::{
    extract::FromRequestParts,
    http::{StatusCode, header, request::Parts},
};
use uuid::Uuid;

use crate::{
    auth::{
        AuthUser, cookies,
        extractor::{self, Credential},
        keys, roles,
    },
    error::ApiError,
    state::AppState,
    stream::{Scope, StreamReader, tokens},
};

/// How often a live socket's credential is checked again (revocation, disabling).
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub user_id: Uuid,
    /// A stream token's one stream; `None`: the whole account.
    pub scope: Option<Scope>,
    /// When the credential expires (Unix seconds); API keys do not.
    expires_at: Option<u64>,
    recheck: Recheck,
}

/// How a live socket's credential is checked again (revoked session, disabled key or user).
#[derive(Debug, Clone, Copy)]
enum Recheck {
    Session(Uuid),
    ApiKey(Uuid),
    /// A stream token: it only expires.
    Expiry,
}

impl Caller {
    /// Who pays for what this socket sends: its user, and its API key if it signed in with one.
    pub fn spender(&self) -> crate::limits::Spender {
        let api_key = match self.recheck {
            Recheck::ApiKey(id) => Some(id),
            Recheck::Session(_) | Recheck::Expiry => None,
        };
        crate::limits::Spender {
            user_id: self.user_id,
            api_key,
        }
    }

    /// Time left before the credential expires, if it does.
    pub fn time_left(&self) -> Option<Duration> {
        tokens::time_left(self.expires_at)
    }

    /// Whether the credential is still good: not expired, its session or key not revoked, its
    /// user not disabled and still holding `chat`. A database outage is not a revocation: it
    /// counts as good.
    pub async fn still_valid(&self, state: &AppState) -> bool {
        if self.time_left().is_some_and(|left| left.is_zero()) {
            return false;
        }
        match self.recheck {
            Recheck::Session(sid) => extractor::live_session(state, sid, self.user_id)
                .await
                .map_or(true, |live| live.is_some_and(|live| live.may_chat)),
            Recheck::ApiKey(id) => keys::store::key_may_chat(&state.pool, id)
                .await
                .unwrap_or(true),
            Recheck::Expiry => true,
        }
    }

    /// Resolves when the credential has expired or been revoked (checked every
    /// `RECHECK_EVERY`, and at its expiry).
    pub async fn until_invalid(&self, state: &AppState) {
        let expires = self.time_left().unwrap_or(Duration::MAX / 4);
        let expired = tokio::time::sleep(expires);
        tokio::pin!(expired);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        loop {
            tokio::select! {
                _ = &mut expired => return,
                _ = recheck.tick() => {
                    if !self.still_valid(state).await {
                        return;
                    }
                }
            }
        }
    }

    /// The caller a bearer credential (access token or API key) names: Socket.IO's handshake.
    pub async fn from_bearer(state: &AppState, bearer: &str) -> Result<Self, ApiError> {
        let user = extractor::from_bearer(state, bearer).await?;
        Self::signed_in(state, user, bearer)
    }

    /// A signed-in caller, with how to check its credential again (`presented`: the access
    /// token, whose expiry it carries, or the key).
    fn signed_in(state: &AppState, user: AuthUser, presented: &str) -> Result<Self, ApiError> {
        if !user.may_chat {
            return Err(roles::missing("chat"));
        }
        let (expires_at, recheck) = match user.credential {
            Credential::Session(sid) => (
                state.jwt.verify(presented.trim()).map(|claims| claims.exp),
                Recheck::Session(sid),
            ),
            Credential::ApiKey(id) => (None, Recheck::ApiKey(id)),
        };
        Ok(Self {
            user_id: user.user_id,
            scope: None,
            expires_at,
            recheck,
        })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if tokens::query_token(parts).is_some() {
            let reader = StreamReader::from_request_parts(parts, state).await?;
            return Ok(Self {
                user_id: reader.user_id,
                scope: reader.scope,
                expires_at: reader.expires_at,
                recheck: Recheck::Expiry,
            });
        }
        let by_cookie = extractor::bearer(&parts.headers).is_none();
        if by_cookie {
            same_site_origin(parts, state)?;
        }
        let user = AuthUser::from_request_parts(parts, state).await?;
        let presented = extractor::bearer(&parts.headers)
            .or_else(|| cookies::get(&parts.headers, cookies::ACCESS))
            .unwrap_or("");
        Self::signed_in(state, user, presented)
    }
}

/// A socket opened with the browser's cookies must come from a page of this site (or of a
/// listed CORS origin): browsers do not apply CORS to WebSockets, so without this check any
/// site could open one in its visitor's name (cross-site WebSocket hijacking).
fn same_site_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        // Not a browser: it has no cookies of ours to abuse.
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let own = state.config.public_url.trim_end_matches('/');
    let listed = state
        .config
        .cors
        .allowed_origins
        .iter()
        .any(|o| o == origin);
    if origin.eq_ignore_ascii_case(own) || listed {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        "a WebSocket signed in by cookie must be opened by a page of this site",
    ))
}
