//! Per-IP rate limit on the auth routes: they create rows without authentication, so they are
//! the cheapest thing to abuse. Over the limit: 429 with `Retry-After`, and nothing is done.

use std::{net::IpAddr, net::SocketAddr, num::NonZeroU32, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{error::ApiError, state::AppState};

pub type AuthLimiter = Arc<DefaultKeyedRateLimiter<IpAddr>>;

/// `per_minute` requests per minute per IP, with bursts of up to `burst`.
pub fn limiter(per_minute: u32, burst: u32) -> AuthLimiter {
    let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

pub async fn limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match state.auth_limiter.check_key(&peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let message =
                format!("too many sign-in requests from this address; retry in {seconds} s");
            let mut response =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
                    .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            response
        }
    }
}
