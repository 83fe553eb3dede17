//! The device authorization grant (RFC 8628) as a CLI sees it: codes, polling with
//! `authorization_pending` / `slow_down`, approval and denial, expiry, single redemption, RFC
//! 6749 errors, the guessing limits, and the approval page driven like a browser without
//! JavaScript.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sluice_shared::dto::DEVICE_GRANT_TYPE;
use sluice_testkit::{TestApp, browser::Browser, client_from};

const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

async fn app_with(configure: impl FnOnce(&mut sluice_shared::Config) + Send + 'static) -> TestApp {
    TestApp::spawn_configured(configure).await
}

/// `POST /api/auth/device/code` as a form, like most device clients send it.
async fn request_code(app: &TestApp) -> Value {
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .header("user-agent", "sluice-cli/0.1 (linux)")
        .form(&[("client_id", "sluice-cli")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

/// One poll of the token endpoint: (status, body).
async fn poll(app: &TestApp, device_code: &str) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url("/api/auth/device/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT_TYPE),
            ("device_code", device_code),
            ("client_id", "sluice-cli"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    (r.status(), r.json().await.unwrap())
}

async fn decide(app: &TestApp, token: &str, decision: &str, user_code: &str) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/api/auth/device/{decision}")))
        .bearer_auth(token)
        .json(&json!({ "user_code": user_code }))
        .send()
        .await
        .unwrap()
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("an RFC 6749 error body: {body}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

#[tokio::test]
async fn a_device_signs_in_once_the_user_approves_and_its_code_works_once() {
    let app = TestApp::spawn().await;
    let codes = request_code(&app).await;
    let user_code = s(&codes, "user_code");
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| ALPHABET.contains(c))
    );
    assert_eq!(
        s(&codes, "verification_uri"),
        format!("{}/device", app.config.public_url)
    );
    assert_eq!(
        s(&codes, "verification_uri_complete"),
        format!("{}/device?user_code={user_code}", app.config.public_url)
    );
    assert_eq!(codes["expires_in"], 900);
    assert_eq!(codes["interval"], 5);
    let device_code = s(&codes, "device_code");
    assert_eq!(device_code.len(), 64, "256 bits, hex");

    let (status, body) = poll(&app, device_code).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "authorization_pending")
    );

    // The person types the code in lower case without the dash: still theirs.
    let me = app.register("ada@example.com").await;
    let typed = user_code.replace('-', "").to_lowercase();
    let r = decide(&app, s(&me, "access_token"), "approve", &typed).await;
    assert_eq!(r.status(), 200);

    let (status, tokens) = poll(&app, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens["user"]["id"], me["user"]["id"],
        "signed in as the approver"
    );
    let whoami = app
        .get_json(s(&tokens, "access_token"), "/api/auth/me")
        .await;
    assert_eq!(whoami["email"], "ada@example.com");
    // The device's session is listed with where it came from.
    let sessions = app
        .get_json(s(&tokens, "access_token"), "/api/auth/sessions")
        .await;
    let current = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["current"] == true)
        .unwrap();
    assert_eq!(current["user_agent"], "sluice-cli/0.1 (linux)");

    let (status, again) = poll(&app, device_code).await;
    assert_eq!(
        (status, error_of(&again)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // Approving the spent code again changes nothing.
    assert_eq!(
        decide(&app, s(&me, "access_token"), "approve", user_code)
            .await
            .status(),
        409
    );

    // Only a hash of the device code is stored.
    let stored: String = sqlx::query_scalar("SELECT d::text FROM device_codes d")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(device_code), "{stored}");
}

#[tokio::test]
async fn polling_too_fast_gets_slow_down_and_five_more_seconds_each_time() {
    let app = app_with(|c| c.device.poll_interval_secs = 1).await;
    let codes = request_code(&app).await;
    assert_eq!(codes["interval"], 1);
    let device_code = s(&codes, "device_code");
    assert_eq!(
        error_of(&poll(&app, device_code).await.1),
        "authorization_pending"
    );
    // At once again: too fast. The interval is now 1 + 5 = 6 s.
    assert_eq!(error_of(&poll(&app, device_code).await.1), "slow_down");
    // Waiting the original 1 s is no longer enough: slow_down again, now 11 s.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(error_of(&poll(&app, device_code).await.1), "slow_down");
    let interval: i32 = sqlx::query_scalar("SELECT interval_secs FROM device_codes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(interval, 11);
}

#[tokio::test]
async fn a_denied_device_gets_access_denied() {
    let app = TestApp::spawn().await;
    let codes = request_code(&app).await;
    let me = app.register("bob@example.com").await;
    let r = decide(&app, s(&me, "access_token"), "deny", s(&codes, "user_code")).await;
    assert_eq!(r.status(), 200);
    let (status, body) = poll(&app, s(&codes, "device_code")).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "access_denied")
    );
}

#[tokio::test]
async fn an_expired_code_gets_expired_token_and_cannot_be_approved() {
    let app = app_with(|c| c.device.code_ttl_secs = 1).await;
    let codes = request_code(&app).await;
    assert_eq!(codes["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = poll(&app, s(&codes, "device_code")).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "expired_token")
    );
    let me = app.register("cy@example.com").await;
    let r = decide(
        &app,
        s(&me, "access_token"),
        "approve",
        s(&codes, "user_code"),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn malformed_device_requests_get_rfc_6749_errors() {
    let app = TestApp::spawn().await;
    let post = |path: &'static str, form: Vec<(&'static str, &'static str)>| {
        let req = app.http.post(app.url(path)).form(&form);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 400, "{path} {form:?}");
            let body: Value = r.json().await.unwrap();
            assert!(body["error_description"].is_string(), "{body}");
            body["error"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(
        post("/api/auth/device/code", vec![("client_id", "nope")]).await,
        "invalid_client"
    );
    assert_eq!(
        post("/api/auth/device/code", vec![]).await,
        "invalid_request"
    );
    let token = "/api/auth/device/token";
    assert_eq!(
        post(
            token,
            vec![("grant_type", "password"), ("client_id", "sluice-cli")]
        )
        .await,
        "unsupported_grant_type"
    );
    assert_eq!(
        post(
            token,
            vec![
                ("grant_type", DEVICE_GRANT_TYPE),
                ("client_id", "sluice-cli")
            ]
        )
        .await,
        "invalid_request"
    );
    assert_eq!(
        post(
            token,
            vec![
                ("grant_type", DEVICE_GRANT_TYPE),
                ("client_id", "sluice-cli"),
                ("device_code", "guess")
            ]
        )
        .await,
        "invalid_grant"
    );
    assert_eq!(
        post(
            token,
            vec![
                ("grant_type", DEVICE_GRANT_TYPE),
                ("client_id", "other"),
                ("device_code", "guess")
            ]
        )
        .await,
        "invalid_client"
    );
    // JSON is accepted as well as forms; anything else is an invalid request.
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .json(&json!({ "client_id": "sluice-cli" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .header("content-type", "text/plain")
        .body("client_id=sluice-cli")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn wrong_user_codes_are_limited_per_address_and_in_total() {
    let app = app_with(|c| {
        c.device.misses_per_ip = 3;
        c.device.misses_global = 5;
    })
    .await;
    let codes = request_code(&app).await;
    let real = s(&codes, "user_code");
    let me = app.register("dee@example.com").await;
    let token = s(&me, "access_token").to_string();
    let approve_from = |client: reqwest::Client, code: String| {
        let (url, token) = (app.url("/api/auth/device/approve"), token.clone());
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "user_code": code }))
                .send()
                .await
                .unwrap()
        }
    };
    // Wrong codes that cannot match the live one (it has a different first letter).
    let wrong = |i: usize| {
        let first = if real.starts_with('B') { 'C' } else { 'B' };
        format!("{first}{}", &"BCDFGHJ"[i..i + 1]).repeat(4)
    };
    for i in 0..3 {
        let r = approve_from(client_from(1), wrong(i)).await;
        assert_eq!(r.status(), 404);
    }
    // This address has spent its budget: even the right code is not looked up.
    let r = approve_from(client_from(1), real.to_string()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Another address may still try, until all addresses together reach 5.
    for i in 3..5 {
        assert_eq!(approve_from(client_from(2), wrong(i)).await.status(), 404);
    }
    let r = approve_from(client_from(3), real.to_string()).await;
    assert_eq!(r.status(), 429, "the global budget is spent");
    // Nothing was approved along the way.
    assert_eq!(
        error_of(&poll(&app, s(&codes, "device_code")).await.1),
        "authorization_pending"
    );
}

#[tokio::test]
async fn the_approval_page_signs_in_shows_the_request_and_approves_without_javascript() {
    let app = TestApp::spawn().await;
    let codes = request_code(&app).await;
    let user_code = s(&codes, "user_code");
    let mut browser = Browser::new(&app.base);

    // Signed out: the page asks to sign in first, and hands out a CSRF token.
    let page = browser.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in"), "{html}");
    let csrf = Browser::hidden_field(&html, "csrf_token").expect("a csrf field");
    assert_eq!(browser.cookie("sluice_csrf"), Some(csrf.as_str()));

    // A form without the token is refused, and signs nobody in.
    let r = browser
        .post_form(
            "/device/login",
            &[("action", "guest"), ("user_code", user_code)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(browser.cookie("sluice_access").is_none());

    // Create an account from the page; back to the code, now signed in by cookie.
    let r = browser
        .post_form(
            "/device/login",
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("action", "register"),
                ("email", "eve@example.com"),
                ("password", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        browser
            .set_cookie_log
            .iter()
            .any(|c| c.starts_with("sluice_access=")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Lax"))
    );
    let (page, _) = browser.follow(r).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Sluice CLI"), "which client asks: {html}");
    assert!(html.contains(user_code));
    assert!(html.contains("127.0.0.1"), "from where");
    assert!(html.contains("sluice-cli/0.1 (linux)"));
    // Signed in, the forms carry the session's own CSRF token, issued with the session.
    let csrf = Browser::hidden_field(&html, "csrf_token").expect("a csrf field");
    assert_eq!(browser.cookie("sluice_csrf"), Some(csrf.as_str()));

    // Approve with a forged (missing) token: refused, still pending.
    let r = browser
        .post_form(
            "/device",
            &[("user_code", user_code), ("decision", "approve")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        error_of(&poll(&app, s(&codes, "device_code")).await.1),
        "authorization_pending"
    );

    let r = browser
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Device approved"));
    let (status, tokens) = poll(&app, s(&codes, "device_code")).await;
    assert_eq!(status, 200, "{tokens}");
    let me = app
        .get_json(s(&tokens, "access_token"), "/api/auth/me")
        .await;
    assert_eq!(me["email"], "eve@example.com");

    // A wrong code on the page gets a clear answer, not an error dump.
    let page = browser.get("/device?user_code=BBBB-BBBB").await;
    assert_eq!(page.status(), 404);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not valid or has expired")
    );
}
