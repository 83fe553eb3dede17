//! `POST /api/auth/guest`: an account with no credentials but its tokens. A guest can later
//! add a password or link GitHub/Google and keeps its conversations.

use axum::{extract::State, http::HeaderMap};
use uuid::Uuid;

use super::{
    sessions::{SignedIn, open_session},
    store::{self, NewUser},
};
use crate::client_ip::ClientIp;
use crate::{error::ApiResult, state::AppState};

/// A new guest account, signed in: the tokens as JSON, and as cookies for a browser.
#[utoipa::path(post, path = "/api/auth/guest", tag = "auth", security(()),
    responses(
        (status = 201, body = sluice_shared::dto::TokensOut),
        (status = 429, description = "`rate_limited` (per address), with `Retry-After`", body = crate::error::ErrorBody),
    ))]
pub async fn create_guest(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> ApiResult<SignedIn> {
    let tokens = sign_in_guest(&state, &super::device(&headers, client)).await?;
    Ok(SignedIn::new(&state, tokens).created())
}

/// A new guest account, signed in (also the approval page's "continue as guest").
pub async fn sign_in_guest(
    state: &AppState,
    device: &store::Device<'_>,
) -> ApiResult<sluice_shared::dto::TokensOut> {
    let display_name = format!("guest-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let mut tx = state.pool.begin().await?;
    let user_id = store::create_user(
        &mut tx,
        NewUser {
            display_name: &display_name,
            email: None,
            password_hash: None,
            is_guest: true,
        },
    )
    .await?;
    open_session(state, tx, user_id, device).await
}
