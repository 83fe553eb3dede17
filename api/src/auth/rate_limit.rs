//! Per-IP rate limit on the auth routes: they create rows without authentication, so they are
//! the cheapest thing to abuse. Over the limit: 429 with `Retry-After`, and nothing is done.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{client_ip::ClientIp, error::ApiError, state::AppState};

pub type AuthLimiter = Arc<DefaultKeyedRateLimiter<IpAddr>>;
/// Password attempts per account (normalized email), whatever address they come from.
pub type AccountLimiter = Arc<DefaultKeyedRateLimiter<String>>;

/// `per_minute` requests per minute per IP, with bursts of up to `burst`.
pub fn limiter(per_minute: u32, burst: u32) -> AuthLimiter {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

/// `attempts` per 15 minutes per account, all of them allowed in a burst.
pub fn account_limiter(attempts: u32) -> AccountLimiter {
    let attempts = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(15 * 60) / attempts.get();
    let quota = Quota::with_period(period)
        .expect("a non-zero period")
        .allow_burst(attempts);
    Arc::new(RateLimiter::keyed(quota))
}

/// Counts one password attempt on `email`; 429 once its budget is spent.
pub fn check_account(limiter: &AccountLimiter, email: &str) -> Result<(), ApiError> {
    // Forget idle accounts now and then so the map stays as small as the active set.
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    limiter.check_key(&email.to_string()).map_err(|not_until| {
        let seconds = whole_seconds(not_until.wait_time_from(DefaultClock::default().now()));
        ApiError::RateLimited {
            retry_after_secs: seconds,
            message: format!("too many sign-in attempts for this account; retry in {seconds} s"),
        }
    })
}

/// `wait` rounded up to whole seconds (what `Retry-After` says).
pub fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

pub async fn limit(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    match state.auth_limiter.check_key(&client) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let seconds = whole_seconds(not_until.wait_time_from(DefaultClock::default().now()));
            ApiError::RateLimited {
                retry_after_secs: seconds,
                message: format!(
                    "too many sign-in requests from this address; retry in {seconds} s"
                ),
            }
            .into_response()
        }
    }
}
