//! Browser sessions: sign-in sets HttpOnly cookies, writes by cookie need the CSRF token,
//! refresh and logout work by cookie, and password sign-in is limited per account.

use serde_json::{Value, json};
use sluice_testkit::{PASSWORD, TestApp, browser::Browser, client_from};

async fn signed_in_browser(app: &TestApp) -> Browser {
    let mut browser = Browser::new(&app.base);
    let req = browser
        .request(reqwest::Method::POST, "/api/auth/register")
        .json(&json!({ "email": "web@example.com", "password": PASSWORD }));
    assert_eq!(browser.send(req).await.status(), 201);
    browser
}

#[tokio::test]
async fn a_sign_in_sets_httponly_session_cookies_and_a_readable_csrf_cookie() {
    let app = TestApp::spawn().await;
    let browser = signed_in_browser(&app).await;
    let log = browser.set_cookie_log.join("\n");
    for name in ["sluice_access=", "sluice_refresh="] {
        let cookie = browser
            .set_cookie_log
            .iter()
            .find(|c| c.starts_with(name))
            .expect(name);
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
    let csrf = browser
        .set_cookie_log
        .iter()
        .find(|c| c.starts_with("sluice_csrf="))
        .expect("csrf");
    assert!(
        !csrf.contains("HttpOnly"),
        "the page must be able to read it: {log}"
    );
}

#[tokio::test]
async fn behind_https_the_cookies_are_secure() {
    let app = TestApp::spawn_configured(|c| c.public_url = "https://chat.example.com".into()).await;
    let browser = signed_in_browser(&app).await;
    assert!(
        browser
            .set_cookie_log
            .iter()
            .all(|c| c.ends_with("; Secure")),
        "{:?}",
        browser.set_cookie_log
    );
}

#[tokio::test]
async fn writes_by_cookie_need_the_csrf_token_and_bearer_calls_do_not() {
    let app = TestApp::spawn().await;
    let mut browser = signed_in_browser(&app).await;
    let csrf = browser.cookie("sluice_csrf").unwrap().to_string();

    // Reading by cookie needs nothing more.
    assert_eq!(browser.get("/api/conversations").await.status(), 200);

    let create = |browser: &Browser, header: Option<&str>| {
        let mut req = browser
            .request(reqwest::Method::POST, "/api/conversations")
            .json(&json!({}));
        if let Some(h) = header {
            req = req.header("x-csrf-token", h);
        }
        req
    };
    let r = browser.send(create(&browser, None)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "csrf_failed"
    );
    let r = browser.send(create(&browser, Some("forged"))).await;
    assert_eq!(r.status(), 403);
    let list: Value = browser
        .get("/api/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"],
        json!([]),
        "the refused writes changed nothing"
    );
    let r = browser.send(create(&browser, Some(&csrf))).await;
    assert_eq!(r.status(), 201);

    // A client with a bearer token carries no ambient credential and needs no CSRF token.
    let access = browser.cookie("sluice_access").unwrap().to_string();
    let r = app
        .http
        .post(app.url("/api/conversations"))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn refresh_and_logout_work_by_cookie() {
    let app = TestApp::spawn().await;
    let mut browser = signed_in_browser(&app).await;
    let csrf = browser.cookie("sluice_csrf").unwrap().to_string();
    let old_refresh = browser.cookie("sluice_refresh").unwrap().to_string();

    let refresh = browser.request(reqwest::Method::POST, "/api/auth/refresh");
    assert_eq!(browser.send(refresh).await.status(), 403, "no CSRF token");
    let refresh = browser
        .request(reqwest::Method::POST, "/api/auth/refresh")
        .header("x-csrf-token", &csrf);
    assert_eq!(browser.send(refresh).await.status(), 200);
    assert_ne!(
        browser.cookie("sluice_refresh").unwrap(),
        old_refresh,
        "rotated into the cookie"
    );
    assert_eq!(browser.get("/api/auth/me").await.status(), 200);

    let logout = browser
        .request(reqwest::Method::POST, "/api/auth/logout")
        .header("x-csrf-token", &csrf);
    let r = browser.send(logout).await;
    assert_eq!(r.status(), 204);
    assert!(browser.cookie("sluice_access").is_none(), "cookies deleted");
    assert!(browser.cookie("sluice_refresh").is_none());
    assert_eq!(browser.get("/api/auth/me").await.status(), 401);
}

#[tokio::test]
async fn password_sign_in_is_limited_per_account_from_any_address() {
    let app = TestApp::spawn_configured(|c| c.login_attempts_per_account = 3).await;
    app.register("target@example.com").await;
    app.register("bystander@example.com").await;
    let login = |last: u8, email: &'static str, password: &'static str| {
        let req = client_from(last)
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }));
        async move { req.send().await.unwrap() }
    };
    for last in [1, 2, 3] {
        assert_eq!(
            login(last, "target@example.com", "wrong password!")
                .await
                .status(),
            401
        );
    }
    // A fourth address, even with the right password: this account is resting.
    let r = login(4, "target@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Other accounts are not affected.
    assert_eq!(
        login(4, "bystander@example.com", PASSWORD).await.status(),
        200
    );
}
