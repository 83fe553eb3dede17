//! `POST /api/auth/guest`: an account with no credentials but its tokens.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::sessions::open_session;
use crate::{error::ApiResult, state::AppState};

pub async fn create_guest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<TokensOut>)> {
    let user_id = Uuid::now_v7();
    let display_name = format!("guest-{}", &user_id.simple().to_string()[24..]);
    let mut tx = state.pool.begin().await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO users (id, display_name, is_guest) VALUES ($1, $2, true) RETURNING created_at",
    )
    .bind(user_id)
    .bind(&display_name)
    .fetch_one(&mut *tx)
    .await?;
    let user = UserOut {
        id: user_id,
        display_name,
        is_guest: true,
        created_at,
    };
    let tokens = open_session(&state, tx, user, &super::device(&headers, peer)).await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}
