//! Browser sessions live in cookies: the access token and the refresh token HttpOnly (script
//! cannot read them), `SameSite=Lax`, `Secure` when the public URL is https. A third cookie
//! holds the CSRF token, readable by the page on purpose: a write authenticated by cookie must
//! echo it in `X-CSRF-Token` (or a form's `csrf_token`), which another site cannot do.
//! Bearer-authenticated calls carry no ambient credential and need no token.
//!
//! A signed-in browser's CSRF token is an HMAC of its session id ([`csrf_for`]), issued anew at
//! every sign-in and checked against the session itself, not against the cookie: a cookie
//! planted by a sibling subdomain or over plain http proves nothing. Only the forms shown to
//! signed-out visitors (sign in on `/device`) use a random double-submit token.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::Sha256;
use sluice_shared::{Config, dto::TokensOut};
use uuid::Uuid;

pub const ACCESS: &str = "sluice_access";
pub const REFRESH: &str = "sluice_refresh";
pub const CSRF: &str = "sluice_csrf";
/// The `state` of an OAuth sign-in in progress, binding the callback to this browser.
pub const OAUTH_STATE: &str = "sluice_oauth_state";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Adds `Set-Cookie` headers to a response.
pub fn attach(response: &mut Response, cookies: impl IntoIterator<Item = HeaderValue>) {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value. `max_age` 0 deletes the cookie.
pub fn set(config: &Config, name: &str, value: &str, max_age: u64, http_only: bool) -> HeaderValue {
    let secure = if config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{http_only}{secure}");
    HeaderValue::from_str(&cookie).expect("cookie values are URL-safe ASCII")
}

/// The cookies of a signed-in browser: tokens, and the CSRF token of this session.
pub fn sign_in(config: &Config, session_id: Uuid, tokens: &TokensOut) -> Vec<HeaderValue> {
    vec![
        set(
            config,
            ACCESS,
            &tokens.access_token,
            tokens.expires_in,
            true,
        ),
        set(
            config,
            REFRESH,
            &tokens.refresh_token,
            config.refresh_token_ttl_secs,
            true,
        ),
        set(
            config,
            CSRF,
            &csrf_for(config, session_id),
            config.refresh_token_ttl_secs,
            false,
        ),
    ]
}

/// The CSRF token of a session: HMAC-SHA256 of its id under the server's secret.
pub fn csrf_for(config: &Config, session_id: Uuid) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(config.jwt_secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"sluice-csrf:");
    mac.update(session_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// True when `presented` is the CSRF token of `session_id`.
pub fn csrf_valid(config: &Config, session_id: Uuid, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| constant_time_eq(&csrf_for(config, session_id), p))
}

/// `204 No Content` that also deletes this browser's session cookies (signed out).
pub fn signed_out(config: &Config) -> Response {
    let mut response = axum::http::StatusCode::NO_CONTENT.into_response();
    attach(&mut response, sign_out(config));
    response
}

/// Deletes the session cookies (the CSRF token may stay: it authorizes nothing alone).
pub fn sign_out(config: &Config) -> Vec<HeaderValue> {
    vec![
        set(config, ACCESS, "", 0, true),
        set(config, REFRESH, "", 0, true),
    ]
}

/// A signed-out browser's CSRF token, and the cookie to set when it has none yet.
pub fn ensure_csrf(config: &Config, request: &HeaderMap) -> (String, Option<HeaderValue>) {
    match get(request, CSRF) {
        Some(token) => (token.to_string(), None),
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let token = hex::encode(bytes);
            let cookie = set(config, CSRF, &token, 365 * 24 * 3600, false);
            (token, Some(cookie))
        }
    }
}

/// True when `presented` (a signed-out form's field) matches the browser's CSRF cookie.
pub fn csrf_matches(request: &HeaderMap, presented: Option<&str>) -> bool {
    match (get(request, CSRF), presented) {
        (Some(cookie), Some(presented)) => constant_time_eq(cookie, presented),
        _ => false,
    }
}

/// The comparison must not reveal how much of a guess was right.
fn constant_time_eq(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The `X-CSRF-Token` header of a request.
pub fn csrf_header(request: &HeaderMap) -> Option<&str> {
    request.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sluice_csrf=abc"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("sluice_access=tok"),
        );
        assert_eq!(get(&h, CSRF), Some("abc"));
        assert_eq!(get(&h, ACCESS), Some("tok"));
        assert_eq!(get(&h, REFRESH), None);
        assert!(csrf_matches(&h, Some("abc")));
        assert!(!csrf_matches(&h, Some("abd")));
        assert!(!csrf_matches(&h, None));
    }

    #[test]
    fn cookies_are_secure_only_behind_https() {
        let mut config = Config::default();
        let plain = set(&config, ACCESS, "t", 60, true);
        assert_eq!(
            plain,
            "sluice_access=t; Path=/; Max-Age=60; SameSite=Lax; HttpOnly"
        );
        config.public_url = "https://chat.example.com".into();
        assert!(
            set(&config, ACCESS, "t", 60, true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }
}
