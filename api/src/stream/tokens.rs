//! Scoped stream tokens: `POST /api/stream-tokens {message_id | conversation_id}` mints a token
//! that reads that one stream for at most `stream_token_ttl_secs` (≤ 5 minutes), passed as
//! `?token=` on the stream endpoints (SSE and WebSocket). So a page on another origin — or any
//! `EventSource`, which cannot send headers — streams without cookies or an API key.
//!
//! What keeps it to reading that one stream: it is signed for another audience than access
//! tokens (`sluice-stream`), so no route that takes an access token accepts it; only the stream
//! endpoints read `?token=`, and each checks the token names the stream asked for. It cannot
//! mint another (minting needs a real credential), so it cannot outlive its five minutes.

use std::time::{SystemTime, UNIX_EPOCH};

use futures::{Stream, StreamExt};

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sluice_shared::Config;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    state::AppState,
};

/// The audience of stream tokens: never `auth::tokens::AUDIENCE`.
const AUDIENCE: &str = "sluice-stream";

/// One stream: an answer's, or every answer's of a conversation. What a token reads, and what
/// a WebSocket subscription follows (as `{"message_id": …}` or `{"conversation_id": …}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "message_id")]
    Message(Uuid),
    #[serde(rename = "conversation_id")]
    Conversation(Uuid),
    /// A durable stream (`/v1/stream/{path}`), by the id of its row: a token for a stream
    /// deleted and created again at the same path reads nothing.
    #[serde(rename = "durable_stream_id")]
    DurableStream(Uuid),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    scope: Scope,
    iss: String,
    aud: String,
    exp: u64,
}

/// What to mint a token for: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamTokenIn {
    /// An answer: the token reads `GET /api/messages/{id}/stream`.
    pub message_id: Option<Uuid>,
    /// A conversation: the token reads `GET /api/conversations/{id}/events`.
    pub conversation_id: Option<Uuid>,
    /// A durable stream's path (`/v1/stream/{path}`, or just `{path}`): the token reads it
    /// (`GET`, `HEAD`, `?token=`), and no other.
    pub durable_stream: Option<String>,
}

/// [`StreamTokenIn`] as the document describes it: one of two bodies, never both.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only described; requests are read as `StreamTokenIn`.
enum StreamTokenTarget {
    /// An answer: the token reads `GET /api/messages/{id}/stream`.
    #[schema(title = "Message")]
    Message { message_id: Uuid },
    /// A conversation: the token reads `GET /api/conversations/{id}/events`.
    #[schema(title = "Conversation")]
    Conversation { conversation_id: Uuid },
    /// A durable stream: the token reads `GET /v1/stream/{path}`.
    #[schema(title = "Durable stream")]
    DurableStream { durable_stream: String },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTokenOut {
    /// Pass as `?token=` on that stream's URL.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Mints a token that reads one stream (an answer's, or a conversation's) for a few minutes,
/// for clients that cannot send credentials: `EventSource` on another origin, a shared link.
#[utoipa::path(post, path = "/api/stream-tokens", tag = "streams",
    request_body = StreamTokenTarget,
    responses(
        (status = 201, body = StreamTokenOut),
        (status = 400, description = "`invalid_body`: not exactly one target", body = ErrorBody),
        (status = 422, description = "`not_an_answer`: a question has no stream", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "No such message, conversation or durable stream of the caller's", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<StreamTokenIn>,
) -> ApiResult<(StatusCode, Json<StreamTokenOut>)> {
    let scope = match (
        input.message_id,
        input.conversation_id,
        input.durable_stream,
    ) {
        (Some(id), None, None) => {
            crate::messages::find_answer(&state.pool, user.user_id, id).await?;
            Scope::Message(id)
        }
        (None, Some(id), None) => {
            crate::conversations::find_owned(&state.pool, user.user_id, id).await?;
            Scope::Conversation(id)
        }
        (None, None, Some(path)) => {
            let id = crate::durable_streams::find_owned(&state, user.user_id, &path).await?;
            Scope::DurableStream(id)
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send exactly one of message_id, conversation_id and durable_stream",
            ));
        }
    };
    let (token, expires_at) = mint(&state.config, user.user_id, scope)?;
    Ok((
        StatusCode::CREATED,
        Json(StreamTokenOut { token, expires_at }),
    ))
}

fn secret(config: &Config) -> &[u8] {
    config.jwt_secret.expose_secret().as_bytes()
}

fn mint(config: &Config, user_id: Uuid, scope: Scope) -> anyhow::Result<(String, DateTime<Utc>)> {
    let exp =
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + config.stream_token_ttl_secs;
    let claims = Claims {
        sub: user_id,
        scope,
        iss: config.public_url.clone(),
        aud: AUDIENCE.into(),
        exp,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret(config)),
    )?;
    let expires_at = DateTime::from_timestamp(exp as i64, 0).unwrap_or_default();
    Ok((token, expires_at))
}

/// The claims of a valid, unexpired stream token (no leeway: five minutes mean five).
fn verify(config: &Config, token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[&config.public_url]);
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret(config)),
        &validation,
    )
    .ok()
    .map(|data| data.claims)
}

/// Who reads a stream: a signed-in caller (any credential `AuthUser` takes), or a stream
/// token from `?token=`, which reads only its own stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamReader {
    pub user_id: Uuid,
    /// The token's stream; `None` for a signed-in caller, who may read any of theirs.
    pub scope: Option<Scope>,
    /// When the token expires (Unix seconds).
    pub expires_at: Option<u64>,
}

impl StreamReader {
    /// 403 `wrong_stream` when a token was minted for another stream than `scope`.
    pub fn may_read(&self, scope: Scope) -> Result<(), ApiError> {
        may_read(self.scope, scope)
    }
}

/// Whether a caller limited to `own` (a stream token's; `None`: not limited) may read `asked`:
/// 403 `wrong_stream` if not.
pub fn may_read(own: Option<Scope>, asked: Scope) -> Result<(), ApiError> {
    match own {
        Some(own) if own != asked => Err(wrong_stream()),
        _ => Ok(()),
    }
}

/// 403 `wrong_stream`: a token minted for another stream.
pub fn wrong_stream() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "wrong_stream",
        "this stream token reads another stream",
    )
}

/// The stream token in `?token=`, if the request carries one.
pub fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query().unwrap_or("");
    serde_urlencoded::from_str::<TokenQuery>(query)
        .ok()
        .and_then(|q| q.token)
}

/// Time left before `expires_at` (Unix seconds), if it is set: zero once past.
pub fn time_left(expires_at: Option<u64>) -> Option<std::time::Duration> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    expires_at.map(|at| std::time::Duration::from_secs(at.saturating_sub(now)))
}

/// `events`, ended when the reader's token expires: a token's few minutes bound the stream
/// too, not only its opening. A signed-in reader's stream is not cut.
pub fn until_expiry<S: Stream + Send + 'static>(
    reader: &StreamReader,
    events: S,
) -> impl Stream<Item = S::Item> + Send + 'static {
    let left = time_left(reader.expires_at);
    events.take_until(async move {
        match left {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    })
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for StreamReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = query_token(parts) else {
            let user = AuthUser::from_request_parts(parts, state).await?;
            return Ok(Self {
                user_id: user.user_id,
                scope: None,
                expires_at: None,
            });
        };
        let claims = verify(&state.config, &token).ok_or_else(|| {
            ApiError::unauthorized("the stream token is invalid or expired; mint a new one")
        })?;
        Ok(Self {
            user_id: claims.sub,
            scope: Some(claims.scope),
            expires_at: Some(claims.exp),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            jwt_secret: "k".repeat(32).into(),
            ..Config::default()
        }
    }

    #[test]
    fn a_stream_token_is_never_an_access_token_nor_the_reverse() {
        let config = config();
        let user = Uuid::now_v7();
        let (token, _) = mint(&config, user, Scope::Message(Uuid::now_v7())).unwrap();
        let access = crate::auth::tokens::JwtKeys::new(&config);
        assert!(access.verify(&token).is_none());
        let session = access.issue(user, Uuid::now_v7(), vec![]).unwrap();
        assert!(verify(&config, &session).is_none());
        assert_eq!(verify(&config, &token).unwrap().sub, user);
    }
}
