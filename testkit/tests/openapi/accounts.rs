//! Health, accounts and sessions, the device flow, API keys, provider keys: their real
//! responses checked.

use reqwest::Method;
use serde_json::json;
use sluice_testkit::TestApp;

use crate::checker::{Checker, get};
use sluice_shared::dto::DEVICE_GRANT_TYPE;

/// Health, readiness and the sign-in providers, without a session.
pub(crate) async fn health_and_providers(app: &TestApp, c: &mut Checker) {
    c.check(
        "get",
        "/healthz",
        app.http.get(app.url("/healthz")).send().await.unwrap(),
    )
    .await;
    c.check(
        "get",
        "/readyz",
        app.http.get(app.url("/readyz")).send().await.unwrap(),
    )
    .await;
    let providers = app
        .http
        .get(app.url("/api/auth/providers"))
        .send()
        .await
        .unwrap();
    c.check("get", "/api/auth/providers", providers).await;
}

/// A guest who sets a password, the admin's registration, sign-in and refresh; returns the
/// admin's access token.
pub(crate) async fn accounts_and_sessions(app: &TestApp, c: &mut Checker) -> String {
    let r = app
        .http
        .post(app.url("/api/auth/guest"))
        .send()
        .await
        .unwrap();
    let (_, guest) = c.check("post", "/api/auth/guest", r).await;
    let guest_token = guest["access_token"].as_str().unwrap().to_string();
    let r = app
        .http
        .post(app.url("/api/auth/password"))
        .bearer_auth(&guest_token)
        .json(&json!({ "email": "guest@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/auth/password", r).await.0, 200);
    let r = app
        .http
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": "root@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    // The admin; signing in again below replaces this session (the same device).
    assert_eq!(c.check("post", "/api/auth/register", r).await.0, 201);
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "wrong wrong wrong" }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/auth/login", r).await.0, 401);
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    let (_, login) = c.check("post", "/api/auth/login", r).await;
    let r = app
        .http
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": login["refresh_token"] }))
        .send()
        .await
        .unwrap();
    let (_, refreshed) = c.check("post", "/api/auth/refresh", r).await;
    let token = refreshed["access_token"].as_str().unwrap().to_string();
    sessions(app, c, &token).await;
    token
}

/// The signed-in user, their session and sessions, and the answer without one.
pub(crate) async fn sessions(app: &TestApp, c: &mut Checker, token: &str) {
    let me = get(app, "/api/auth/me", token).await;
    c.check("get", "/api/auth/me", me).await;
    let session = get(app, "/api/auth/session", token).await;
    c.check("get", "/api/auth/session", session).await;
    let sessions = get(app, "/api/auth/sessions", token).await;
    c.check("get", "/api/auth/sessions", sessions).await;
    let unauthenticated = app.http.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(c.check("get", "/api/auth/me", unauthenticated).await.0, 401);
}

/// The device flow: codes, a pending poll, approval by the signed-in user, then tokens.
pub(crate) async fn device_flow(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .header("user-agent", "sluice-cli")
        .form(&[("client_id", "sluice-cli")])
        .send()
        .await
        .unwrap();
    let (_, codes) = c.check("post", "/api/auth/device/code", r).await;
    let poll = || {
        app.http
            .post(app.url("/api/auth/device/token"))
            .header("user-agent", "sluice-cli")
            .form(&[
                ("grant_type", DEVICE_GRANT_TYPE),
                ("device_code", codes["device_code"].as_str().unwrap()),
                ("client_id", "sluice-cli"),
            ])
    };
    let (status, pending) = c
        .check(
            "post",
            "/api/auth/device/token",
            poll().send().await.unwrap(),
        )
        .await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let r = app
        .http
        .post(app.url("/api/auth/device/approve"))
        .bearer_auth(token)
        .json(&json!({ "user_code": codes["user_code"] }))
        .send()
        .await
        .unwrap();
    c.check("post", "/api/auth/device/{decision}", r).await;
    // The next poll may come too soon (`slow_down`); both answers are documented.
    let mut status = 400;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        status = c
            .check(
                "post",
                "/api/auth/device/token",
                poll().send().await.unwrap(),
            )
            .await
            .0;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the approved device got its tokens");
}

/// API keys: created, listed, disabled, rotated, verified (a real and a wrong one), listed.
pub(crate) async fn api_keys(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .call(
            token,
            Method::POST,
            "/api/keys",
            Some(json!({ "name": "ci" })),
        )
        .await;
    let (_, key) = c.check("post", "/api/keys", r).await;
    let key_id = key["id"].as_str().unwrap();
    c.check("get", "/api/keys", get(app, "/api/keys", token).await)
        .await;
    let path = format!("/api/keys/{key_id}");
    let r = app
        .call(
            token,
            Method::PATCH,
            &path,
            Some(json!({ "enabled": false })),
        )
        .await;
    c.check("patch", "/api/keys/{id}", r).await;
    let r = app
        .call(token, Method::POST, &format!("{path}/rotate"), None)
        .await;
    let (_, rotated) = c.check("post", "/api/keys/{id}/rotate", r).await;
    for candidate in [rotated["key"].as_str().unwrap(), "sk-sluice-nope"] {
        let r = app
            .http
            .post(app.url("/api/keys/verify"))
            .json(&json!({ "key": candidate }))
            .send()
            .await
            .unwrap();
        c.check("post", "/api/keys/verify", r).await;
    }
    let r = app.call(token, Method::GET, "/api/keys", None).await;
    c.check("get", "/api/keys", r).await;
}

/// Provider keys: added, replaced, listed, disabled, and a bad one refused.
pub(crate) async fn provider_keys(app: &TestApp, c: &mut Checker, token: &str) {
    let add = |key: &str| json!({ "provider": "openai", "api_key": key });
    for key in ["sk-openapi-first-0001", "sk-openapi-second-0002", "short"] {
        let r = app
            .call(token, Method::POST, "/api/provider-keys", Some(add(key)))
            .await;
        c.check("post", "/api/provider-keys", r).await;
    }
    let r = get(app, "/api/provider-keys", token).await;
    c.check("get", "/api/provider-keys", r).await;
    let r = app
        .call(
            token,
            Method::PATCH,
            "/api/provider-keys/openai",
            Some(json!({ "enabled": false })),
        )
        .await;
    c.check("patch", "/api/provider-keys/{provider}", r).await;
}
