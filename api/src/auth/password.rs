//! Email and password: `POST /api/auth/register` and `POST /api/auth/login`. Hashing is
//! argon2id on the blocking pool (it is deliberately slow); a failed login says only
//! "invalid email or password", whichever part was wrong.

use std::net::SocketAddr;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::{AuthUser, sessions::open_session};
use crate::{
    error::{ApiError, ApiResult},
    extract::ApiJson,
    state::AppState,
};

const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    email: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    email: String,
    password: String,
}

pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RegisterIn>,
) -> ApiResult<(StatusCode, Json<TokensOut>)> {
    let email = normalize_email(&input.email)?;
    check_password(&input.password)?;
    let hash = hash_password(input.password).await?;
    let display_name = input
        .display_name
        .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_string());
    let user_id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let inserted: Result<DateTime<Utc>, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO users (id, display_name, email, password_hash, is_guest)
         VALUES ($1, $2, $3, $4, false) RETURNING created_at",
    )
    .bind(user_id)
    .bind(&display_name)
    .bind(&email)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await;
    let created_at = match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email already exists",
            ));
        }
        other => other?,
    };
    let user = UserOut {
        id: user_id,
        display_name,
        is_guest: false,
        created_at,
    };
    let tokens = open_session(&state, tx, user, &super::device(&headers, peer)).await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginIn>,
) -> ApiResult<Json<TokensOut>> {
    let refused = || ApiError::unauthorized("invalid email or password");
    let email = normalize_email(&input.email).map_err(|_| refused())?;
    let found: Option<(Uuid, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT id, display_name, created_at, password_hash FROM users
         WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(&state.pool)
    .await?;
    // Unknown accounts are checked against a dummy hash, so both failures take as long.
    let stored = found.as_ref().and_then(|f| f.3.clone());
    if !verify_password(input.password, stored).await? {
        return Err(refused());
    }
    let (user_id, display_name, created_at, _) = found.ok_or_else(refused)?;
    let user = UserOut {
        id: user_id,
        display_name,
        is_guest: false,
        created_at,
    };
    let tx = state.pool.begin().await?;
    Ok(Json(
        open_session(&state, tx, user, &super::device(&headers, peer)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPasswordIn {
    email: String,
    password: String,
}

/// `POST /api/auth/password`: a guest adds an email and password and becomes a full account,
/// keeping its conversations. Accounts that already have a password get 409.
pub async fn add_password(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<AddPasswordIn>,
) -> ApiResult<Json<UserOut>> {
    let email = normalize_email(&input.email)?;
    check_password(&input.password)?;
    let hash = hash_password(input.password).await?;
    let updated: Result<Option<(String, DateTime<Utc>)>, sqlx::Error> = sqlx::query_as(
        "UPDATE users SET email = $2, password_hash = $3, is_guest = false
         WHERE id = $1 AND password_hash IS NULL
         RETURNING display_name, created_at",
    )
    .bind(user.user_id)
    .bind(&email)
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await;
    match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(ApiError::conflict(
            "email_taken",
            "an account with this email already exists",
        )),
        Ok(None) => Err(ApiError::conflict(
            "has_password",
            "this account already has a password",
        )),
        Ok(Some((display_name, created_at))) => Ok(Json(UserOut {
            id: user.user_id,
            display_name,
            is_guest: false,
            created_at,
        })),
        Err(e) => Err(e.into()),
    }
}

/// Trimmed and lower-cased; a plausible address or a 400.
fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !plausible {
        return Err(ApiError::bad_request(
            "invalid_email",
            "that is not an email address",
        ));
    }
    Ok(email)
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        let message =
            format!("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters");
        return Err(ApiError::bad_request("weak_password", message));
    }
    Ok(())
}

async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

async fn verify_password(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    /// Checked when the account does not exist, so that case costs as much as a wrong password.
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return Ok(false);
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@localhost",
            "a da@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
