//! OAuth sign-ins in progress (`oauth_states`) and linked identities (`identities`).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::provider::{Profile, Provider};
use crate::auth::{
    store::{self, NewUser},
    tokens::hash_token,
};

/// How long a browser may spend at the provider before the attempt expires.
const ATTEMPT_TTL_SECS: f64 = 600.0;

pub async fn save_attempt(
    pool: &PgPool,
    provider: Provider,
    state: &str,
    verifier: &str,
    next_path: &str,
    link_user_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH stale AS (DELETE FROM oauth_states WHERE expires_at < now())
         INSERT INTO oauth_states (state_hash, provider, pkce_verifier, next_path, link_user_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(hash_token(state))
    .bind(provider.id())
    .bind(verifier)
    .bind(next_path)
    .bind(link_user_id)
    .bind(ATTEMPT_TTL_SECS)
    .execute(pool)
    .await?;
    Ok(())
}

/// A sign-in attempt, taken (deleted) so its state works once.
pub struct Attempt {
    pub verifier: String,
    pub next_path: String,
    pub link_user_id: Option<Uuid>,
}

pub async fn take_attempt(
    pool: &PgPool,
    provider: Provider,
    state: &str,
) -> sqlx::Result<Option<Attempt>> {
    let row: Option<(String, String, Option<Uuid>)> = sqlx::query_as(
        "DELETE FROM oauth_states WHERE state_hash = $1 AND provider = $2 AND expires_at > now()
         RETURNING pkce_verifier, next_path, link_user_id",
    )
    .bind(hash_token(state))
    .bind(provider.id())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(verifier, next_path, link_user_id)| Attempt {
        verifier,
        next_path,
        link_user_id,
    }))
}

/// What signing in with a provider account came to.
pub enum Outcome {
    /// The user to sign in as (existing, or just created).
    SignIn(Uuid),
    /// The account was linked to the signed-in user.
    Linked,
    /// The provider account already belongs to another Sluice user.
    LinkedElsewhere,
}

/// Finds the user this provider account belongs to, or links it to `link_to`, or creates a
/// new user for it — by the provider's user id, never by email.
pub async fn resolve(
    tx: &mut PgConnection,
    provider: Provider,
    profile: &Profile,
    link_to: Option<Uuid>,
) -> sqlx::Result<Outcome> {
    let owner: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM identities WHERE provider = $1 AND provider_user_id = $2 FOR UPDATE",
    )
    .bind(provider.id())
    .bind(&profile.provider_user_id)
    .fetch_optional(&mut *tx)
    .await?;
    // An address already on another account stays there: it is not proof of identity.
    let free_email: Option<String> = match &profile.email {
        Some(email) => {
            sqlx::query_scalar(
                "SELECT $1::text WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
            )
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    match (owner, link_to) {
        (Some(owner), Some(link)) if owner != link => Ok(Outcome::LinkedElsewhere),
        (Some(_), Some(_)) => Ok(Outcome::Linked),
        (Some(owner), None) => Ok(Outcome::SignIn(owner)),
        (None, Some(link)) => {
            add_identity(tx, provider, profile, link).await?;
            sqlx::query(
                "UPDATE users SET is_guest = false, email = COALESCE(email, $2) WHERE id = $1",
            )
            .bind(link)
            .bind(free_email)
            .execute(&mut *tx)
            .await?;
            Ok(Outcome::Linked)
        }
        (None, None) => {
            let display_name = profile
                .name
                .clone()
                .or_else(|| profile.login.clone())
                .unwrap_or_else(|| format!("{}-user", provider.id()));
            let new = NewUser {
                display_name: &display_name,
                email: free_email.as_deref(),
                password_hash: None,
                is_guest: false,
            };
            let user_id = store::create_user(tx, new).await?;
            add_identity(tx, provider, profile, user_id).await?;
            Ok(Outcome::SignIn(user_id))
        }
    }
}

async fn add_identity(
    tx: &mut PgConnection,
    provider: Provider,
    profile: &Profile,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO identities (provider, provider_user_id, user_id, email, login)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(provider.id())
    .bind(&profile.provider_user_id)
    .bind(user_id)
    .bind(&profile.email)
    .bind(&profile.login)
    .execute(tx)
    .await?;
    Ok(())
}
