//! `POST /api/auth/guest`: an account with no credentials but its tokens.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use chrono::{DateTime, Utc};
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::tokens::new_refresh_token;
use crate::{error::ApiResult, state::AppState};

pub async fn create_guest(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<TokensOut>)> {
    let user_id = Uuid::now_v7();
    let display_name = format!("guest-{}", &user_id.simple().to_string()[24..]);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (refresh_token, refresh_hash) = new_refresh_token();
    let session_id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO users (id, display_name, is_guest) VALUES ($1, $2, true) RETURNING created_at",
    )
    .bind(user_id)
    .bind(&display_name)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, family_id, refresh_token_hash, user_agent, expires_at)
         VALUES ($1, $2, $1, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(&refresh_hash)
    .bind(user_agent)
    .bind(state.config.refresh_token_ttl_secs as f64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let access_token = state.jwt.issue(user_id, session_id, vec!["user".into()])?;
    let out = TokensOut {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.jwt.ttl_secs(),
        refresh_token,
        user: UserOut {
            id: user_id,
            display_name,
            is_guest: true,
            created_at,
        },
    };
    Ok((StatusCode::CREATED, Json(out)))
}
