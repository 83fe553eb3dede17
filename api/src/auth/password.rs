//! Email and password: `POST /api/auth/register`, `POST /api/auth/login` and a guest's
//! `POST /api/auth/password` (a change, `PUT`, is the account's own: `account.rs`). Hashing is
//! argon2id on the blocking pool (it is deliberately slow); a failed login says only
//! "invalid email or password", whichever part was wrong.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use axum::{Json, extract::State, http::HeaderMap};
use serde::Deserialize;
use sluice_shared::dto::{TokensOut, UserOut};
use uuid::Uuid;

use super::{
    AuthUser, rate_limit, roles,
    sessions::{SignedIn, open_session},
    store::{self, NewUser},
};
use crate::client_ip::ClientIp;
use crate::{
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    state::AppState,
    validate,
};

const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterIn {
    #[schema(max_length = 254, pattern = r"^[^@\s]+@\S*\.\S*$")]
    pub email: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// Without control characters, invisible spaces or marks that reorder text.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]*$"
    )]
    pub display_name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

/// A new account with an email and a password (10 to 128 characters), signed in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", security(()),
    request_body = RegisterIn,
    responses(
        (status = 201, body = TokensOut),
        (status = 400, description = "`invalid_email`, `weak_password`, `invalid_name`, `too_long`, bad JSON", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RegisterIn>,
) -> ApiResult<SignedIn> {
    let device = super::device(&headers, client);
    let tokens = register_user(&state, input, &device).await?;
    Ok(SignedIn::new(&state, tokens).created())
}

/// A new account with an email and password, signed in (also the approval page's form).
pub async fn register_user(
    state: &AppState,
    input: RegisterIn,
    device: &store::Device<'_>,
) -> ApiResult<TokensOut> {
    let email = normalize_email(&input.email)?;
    check_password(&input.password)?;
    validate::name("display_name", input.display_name.as_deref())?;
    validate::max_chars(
        "display_name",
        input.display_name.as_deref(),
        validate::MAX_DISPLAY_NAME_CHARS,
    )?;
    let hash = hash_password(input.password).await?;
    let display_name = input
        .display_name
        .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_string());
    let mut tx = state.pool.begin().await?;
    let new = NewUser {
        display_name: &display_name,
        email: Some(&email),
        password_hash: Some(&hash),
        is_guest: false,
    };
    let user_id = match store::create_user(&mut tx, new).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(email_taken());
        }
        other => other?,
    };
    open_session(state, tx, user_id, device).await
}

/// Signs in with an email and password; any mistake is the same 401.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()),
    request_body = LoginIn,
    responses(
        (status = 200, body = TokensOut),
        (status = 401, description = "`unauthorized`: invalid email or password", body = ErrorBody),
        (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginIn>,
) -> ApiResult<SignedIn> {
    let tokens = login_user(&state, input, &super::device(&headers, client)).await?;
    Ok(SignedIn::new(&state, tokens))
}

/// Checks an email and password and signs in. Every failure is the same 401, and each
/// account takes only so many attempts per 15 minutes from all addresses together.
pub async fn login_user(
    state: &AppState,
    input: LoginIn,
    device: &store::Device<'_>,
) -> ApiResult<TokensOut> {
    let refused = || ApiError::unauthorized("invalid email or password");
    let email = normalize_email(&input.email).map_err(|_| refused())?;
    rate_limit::check_account(&state.login_limiter, &email)?;
    let found: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT id, password_hash FROM users WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(&state.pool)
    .await?;
    // Unknown accounts are checked against a dummy hash, so both failures take as long.
    let stored = found.as_ref().and_then(|f| f.1.clone());
    if !verify_password(input.password, stored).await? {
        return Err(refused());
    }
    let (user_id, _) = found.ok_or_else(refused)?;
    open_session(state, state.pool.begin().await?, user_id, device).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPasswordIn {
    #[schema(max_length = 254, pattern = r"^[^@\s]+@\S*\.\S*$")]
    email: String,
    #[schema(min_length = 10, max_length = 128)]
    password: String,
}

/// A guest adds an email and password and becomes a full account, keeping its conversations.
/// Accounts that already have a password get 409.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = AddPasswordIn,
    responses(
        (status = 200, body = UserOut),
        (status = 400, description = "`invalid_email`, `weak_password`, bad JSON", body = ErrorBody),
        (status = 409, description = "`has_password`, `email_taken`", body = ErrorBody),
    ))]
pub async fn add_password(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<AddPasswordIn>,
) -> ApiResult<Json<UserOut>> {
    user.require_session()?;
    let email = normalize_email(&input.email)?;
    check_password(&input.password)?;
    let hash = hash_password(input.password).await?;
    let updated: Result<Option<Uuid>, sqlx::Error> = sqlx::query_scalar(
        "UPDATE users SET email = $2, password_hash = $3, is_guest = false
         WHERE id = $1 AND password_hash IS NULL RETURNING id",
    )
    .bind(user.user_id)
    .bind(&email)
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await;
    match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(email_taken()),
        Ok(None) => Err(ApiError::conflict(
            "has_password",
            "this account already has a password",
        )),
        Ok(Some(_)) => {
            let mut db = state.pool.acquire().await?;
            roles::grant_configured_admin(&mut db, user.user_id, &state.config.admin_emails)
                .await?;
            Ok(Json(store::user(&mut db, user.user_id).await?))
        }
        Err(e) => Err(e.into()),
    }
}

fn email_taken() -> ApiError {
    ApiError::conflict("email_taken", "an account with this email already exists")
}

/// Trimmed and lower-cased; a plausible address or a 400.
fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let plausible = raw.trim().chars().count() <= 254
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

pub(super) fn check_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        let message =
            format!("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters");
        return Err(ApiError::bad_request("weak_password", message));
    }
    Ok(())
}

pub(super) async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

pub(super) async fn verify_password(
    password: String,
    stored: Option<String>,
) -> anyhow::Result<bool> {
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
    use crate::openapi::schema_bound;

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

    #[test]
    fn the_document_states_the_password_bounds_the_code_checks() {
        let bounds = |min: u64, max: u64| {
            assert_eq!(
                (min, max),
                (MIN_PASSWORD_CHARS as u64, MAX_PASSWORD_CHARS as u64)
            )
        };
        bounds(
            schema_bound::<RegisterIn>("password", "minLength"),
            schema_bound::<RegisterIn>("password", "maxLength"),
        );
        bounds(
            schema_bound::<AddPasswordIn>("password", "minLength"),
            schema_bound::<AddPasswordIn>("password", "maxLength"),
        );
        type Change = super::super::account::ChangePasswordIn;
        bounds(
            schema_bound::<Change>("new_password", "minLength"),
            schema_bound::<Change>("new_password", "maxLength"),
        );
    }
}
