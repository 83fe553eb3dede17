//! User-code guessing limits (RFC 8628 §5.1). A user code has 20^8 ≈ 2^34.6 values, so an
//! attacker's chance of hitting one given live code is (wrong guesses during its lifetime) /
//! 20^8. Allowing `device.misses_global` (default 5) wrong codes per code lifetime from all
//! addresses together keeps that at 5 / 20^8 < 2^-32; `device.misses_per_ip` keeps one
//! address from spending the whole budget. Misses are rows in Postgres, so the bound holds
//! across every API process. While over either limit, no code is looked up at all (429).

use std::net::IpAddr;

use sqlx::PgPool;

use super::store::{self, Lookup};
use super::user_code;
use crate::{error::ApiError, error::ApiResult, state::AppState};

/// Looks up what the user typed, within the guessing budget; a wrong code spends from it.
pub async fn lookup(
    state: &AppState,
    ip: IpAddr,
    typed: &str,
) -> ApiResult<(Option<String>, Lookup)> {
    let Some(code) = user_code::normalize(typed) else {
        // Not even the shape of a code: a typo, not a guess at a live one.
        return Ok((None, Lookup::Unknown));
    };
    check_budget(state, ip).await?;
    let found = store::lookup(&state.pool, &code).await?;
    if matches!(found, Lookup::Unknown) {
        record_miss(&state.pool, ip, state.config.device.code_ttl_secs).await?;
    }
    Ok((Some(code), found))
}

async fn check_budget(state: &AppState, ip: IpAddr) -> ApiResult<()> {
    let device = &state.config.device;
    let window = device.code_ttl_secs as f64;
    let (from_ip, total, ip_wait, all_wait): (i64, i64, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE ip = $1), count(*),
                    EXTRACT(EPOCH FROM min(at) FILTER (WHERE ip = $1)
                        + make_interval(secs => $2) - now())::float8,
                    EXTRACT(EPOCH FROM min(at) + make_interval(secs => $2) - now())::float8
             FROM device_code_misses WHERE at > now() - make_interval(secs => $2)",
    )
    .bind(ip.to_string())
    .bind(window)
    .fetch_one(&state.pool)
    .await?;
    let wait = if from_ip >= i64::from(device.misses_per_ip) {
        ip_wait
    } else if total >= i64::from(device.misses_global) {
        all_wait
    } else {
        return Ok(());
    };
    let seconds = wait.unwrap_or(window).ceil().max(1.0) as u64;
    Err(ApiError::RateLimited {
        retry_after_secs: seconds,
        message: format!("too many wrong codes were entered; try again in {seconds} s"),
    })
}

async fn record_miss(pool: &PgPool, ip: IpAddr, window_secs: u64) -> sqlx::Result<()> {
    sqlx::query(
        "WITH old AS (DELETE FROM device_code_misses
                      WHERE at < now() - make_interval(secs => $2))
         INSERT INTO device_code_misses (ip) VALUES ($1)",
    )
    .bind(ip.to_string())
    .bind(window_secs as f64)
    .execute(pool)
    .await?;
    Ok(())
}
