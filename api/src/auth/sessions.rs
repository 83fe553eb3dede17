//! Signed-in sessions: refresh (rotating), logout, who am I, and the list of one's devices.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::{
    AuthUser, cookies, roles,
    store::{self, Refresh, SessionRow},
};
use crate::client_ip::ClientIp;
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Id, parse_json},
    state::AppState,
};

/// Ends every sign-in: grants the admin role to configured addresses, opens a session for
/// `user_id` inside `tx` (so a new account and its first session commit together), commits,
/// and answers with the tokens.
pub async fn open_session(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: Uuid,
    device: &store::Device<'_>,
) -> ApiResult<TokensOut> {
    let disabled: bool =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    if disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account has been disabled",
        ));
    }
    roles::grant_configured_admin(&mut tx, user_id, &state.config.admin_emails).await?;
    let user = store::user(&mut tx, user_id).await?;
    let ttl = state.config.refresh_token_ttl_secs;
    let (session_id, refresh) = store::start_session(&mut tx, user_id, device, ttl).await?;
    tx.commit().await?;
    Ok(tokens_out(state, user, session_id, refresh)?)
}

/// The answer every sign-in and refresh gives.
fn tokens_out(
    state: &AppState,
    user: UserOut,
    session_id: Uuid,
    refresh_token: String,
) -> anyhow::Result<TokensOut> {
    Ok(TokensOut {
        access_token: state.jwt.issue(user.id, session_id, user.roles.clone())?,
        token_type: "Bearer".into(),
        expires_in: state.jwt.ttl_secs(),
        refresh_token,
        user,
    })
}

/// The cookies that sign a browser in with `tokens` (its CSRF token bound to their session).
pub fn browser_cookies(state: &AppState, tokens: &TokensOut) -> Vec<HeaderValue> {
    let session = state
        .jwt
        .verify(&tokens.access_token)
        .map(|claims| claims.sid)
        .expect("a token this API just issued verifies");
    cookies::sign_in(&state.config, session, tokens)
}

/// A sign-in's answer: the tokens as JSON for the CLI and SDKs, and the same session as
/// HttpOnly cookies for a browser.
pub struct SignedIn {
    pub status: StatusCode,
    pub tokens: TokensOut,
    pub cookies: Vec<HeaderValue>,
}

impl SignedIn {
    pub fn new(state: &AppState, tokens: TokensOut) -> Self {
        Self {
            status: StatusCode::OK,
            cookies: browser_cookies(state, &tokens),
            tokens,
        }
    }

    pub fn created(self) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..self
        }
    }
}

impl IntoResponse for SignedIn {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.tokens)).into_response();
        cookies::attach(&mut response, self.cookies);
        let no_store = HeaderValue::from_static("no-store");
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, no_store);
        response
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshIn {
    refresh_token: Option<String>,
}

/// A new access token and a new refresh token; the old one is spent.
///
/// The token comes in the body (CLI, SDKs) or, for browsers, in the `sluice_refresh` cookie —
/// then with the CSRF token, like every cookie-authenticated write.
/// Presenting a spent token ends the session: whoever holds the newer one loses it too.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", security(()),
    request_body(content = Option<RefreshIn>, description = "Empty for a browser's cookie"),
    responses(
        (status = 200, body = TokensOut),
        (status = 401, description = "`unauthorized`: none, unknown, spent or expired", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<SignedIn> {
    let input: RefreshIn = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshIn::default()
    } else {
        parse_json(&body)?
    };
    let presented = match (
        input.refresh_token,
        cookies::get(&headers, cookies::REFRESH),
    ) {
        (Some(token), _) => token,
        (None, Some(cookie)) => {
            let session = store::session_of_refresh_token(&state.pool, cookie).await?;
            let presented = cookies::csrf_header(&headers);
            // An unknown token is a 401 from `rotate` below; a known one needs its CSRF token.
            if session.is_some_and(|s| !cookies::csrf_valid(&state.config, s, presented)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "a refresh by cookie must send the sluice_csrf cookie's value in X-CSRF-Token",
                ));
            }
            cookie.to_string()
        }
        (None, None) => {
            return Err(ApiError::unauthorized(
                "no refresh token: send {\"refresh_token\": \"...\"}, or the sluice_refresh cookie",
            ));
        }
    };
    let tokens = rotate(&state, &presented, &super::device(&headers, client)).await?;
    Ok(SignedIn::new(&state, tokens))
}

/// Spends a refresh token for a fresh pair (also used by pages whose access cookie expired).
pub async fn rotate(
    state: &AppState,
    presented: &str,
    device: &store::Device<'_>,
) -> ApiResult<TokensOut> {
    let ttl = state.config.refresh_token_ttl_secs;
    match store::rotate(&state.pool, presented, ttl, device).await? {
        Refresh::Rotated {
            user_id,
            session_id,
            token,
        } => {
            let user = store::user(&mut *state.pool.acquire().await?, user_id).await?;
            Ok(tokens_out(state, user, session_id, token)?)
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

/// Ends the current session at once (its access token stops working).
///
/// Browsers also get their session cookies deleted.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    let session_id = user.require_session()?;
    store::revoke_owned(&state.pool, user.user_id, session_id).await?;
    Ok(cookies::signed_out(&state.config))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses(
        (status = 200, body = UserOut),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<UserOut>> {
    Ok(Json(
        store::user(&mut *state.pool.acquire().await?, user.user_id).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CurrentSessionOut {
    user: UserOut,
    /// Null when the caller used an API key.
    session: Option<SessionRow>,
}

/// The user and the session this token belongs to.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth",
    responses(
        (status = 200, body = CurrentSessionOut),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub async fn session(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<CurrentSessionOut>> {
    let sessions = store::live_sessions(&state.pool, user.user_id).await?;
    let session = sessions
        .into_iter()
        .find(|s| Some(s.id) == user.session_id());
    let me = store::user(&mut *state.pool.acquire().await?, user.user_id).await?;
    Ok(Json(CurrentSessionOut { user: me, session }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionsOut {
    items: Vec<SessionOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionOut {
    #[serde(flatten)]
    session: SessionRow,
    /// The session making this request.
    current: bool,
}

/// Every device signed in to this account.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    responses(
        (status = 200, body = SessionsOut),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`session_required`: an API key cannot manage sessions", body = ErrorBody),
    ))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<SessionsOut>> {
    // Signing in is managed by sessions, not by API keys (as for logout).
    user.require_session()?;
    let items: Vec<SessionOut> = store::live_sessions(&state.pool, user.user_id)
        .await?
        .into_iter()
        .map(|session| SessionOut {
            current: Some(session.id) == user.session_id(),
            session,
        })
        .collect();
    Ok(Json(SessionsOut { items }))
}

/// Signs one device out.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The session")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "`session_required`", body = ErrorBody),
        (status = 404, description = "No such session of the caller's", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    if !store::revoke_owned(&state.pool, user.user_id, id).await? {
        return Err(ApiError::not_found("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}
