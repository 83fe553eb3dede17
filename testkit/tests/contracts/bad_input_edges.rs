//! Input an attacker would try: NUL characters in every text field, out-of-range cursors,
//! malformed query values, wrong methods, oversized bodies, huge names, a planted CSRF cookie.
//! Each gets a clear JSON error (RFC 6749's shape on the OAuth endpoints) and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_testkit::{PASSWORD, TestApp, browser::Browser};

/// The error body, after checking the status and that it is JSON with a message.
async fn json_error(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "status of {}", r.url());
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    r.json().await.expect("a JSON error body")
}

async fn api_error(r: reqwest::Response, status: u16, code: &str) -> String {
    let body = json_error(r, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Rows in every table a request could have written.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["users", "sessions", "api_keys", "conversations", "messages"] {
        counts.push(count(app, table).await);
    }
    counts
}

#[tokio::test]
async fn a_nul_character_in_any_text_field_is_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let key = app.create_key(&token, "k").await;
    let key_id = key["id"].as_str().unwrap().to_string();
    let nul = "a\u{0}b";
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/api/auth/register".into(),
            json!({"email": nul, "password": PASSWORD}),
            "email",
        ),
        (
            Method::POST,
            "/api/auth/register".into(),
            json!({"email": "n@example.com", "password": PASSWORD, "display_name": nul}),
            "display_name",
        ),
        (
            Method::POST,
            "/api/auth/login".into(),
            json!({"email": nul, "password": PASSWORD}),
            "email",
        ),
        (
            Method::POST,
            "/api/auth/password".into(),
            json!({"email": nul, "password": PASSWORD}),
            "email",
        ),
        (
            Method::POST,
            "/api/keys".into(),
            json!({"name": nul}),
            "name",
        ),
        (
            Method::PATCH,
            format!("/api/keys/{key_id}"),
            json!({"name": nul}),
            "name",
        ),
        (
            Method::POST,
            "/api/conversations".into(),
            json!({"title": nul}),
            "title",
        ),
        (
            Method::POST,
            "/api/conversations".into(),
            json!({"system_prompt": nul}),
            "system_prompt",
        ),
        (
            Method::PATCH,
            format!("/api/conversations/{conversation}"),
            json!({"title": nul}),
            "title",
        ),
        (
            Method::PATCH,
            format!("/api/conversations/{conversation}"),
            json!({"system_prompt": nul}),
            "system_prompt",
        ),
        (
            Method::POST,
            format!("/api/conversations/{conversation}/messages"),
            json!({"content": nul}),
            "content",
        ),
        (
            Method::POST,
            "/api/chat".into(),
            json!({"message": nul}),
            "message",
        ),
        (
            Method::POST,
            "/api/auth/device/approve".into(),
            json!({"user_code": nul}),
            "user_code",
        ),
        (
            Method::POST,
            "/api/keys/verify".into(),
            json!({"key": nul}),
            "key",
        ),
        (
            Method::POST,
            "/api/auth/refresh".into(),
            json!({"refresh_token": nul}),
            "refresh_token",
        ),
    ];
    let before = snapshot(&app).await;
    for (method, path, body, field) in cases {
        let r = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = api_error(r, 400, "invalid_text").await;
        assert!(message.contains(field), "{method} {path}: {message}");
    }
    // Form bodies and query strings too; the OAuth endpoint answers in RFC 6749's shape.
    let r = app
        .http
        .post(app.url("/api/auth/device/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", nul),
            ("client_id", "sluice-cli"),
        ])
        .send()
        .await
        .unwrap();
    let body = json_error(r, 400).await;
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("device_code")
    );
    let r = app.get(&token, "/api/conversations?cursor=%00").await;
    api_error(r, 400, "invalid_text").await;
    assert_eq!(snapshot(&app).await, before, "nothing was written");
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(title.is_none_or(|t| !t.contains('\0')));
}

#[tokio::test]
async fn cursors_out_of_range_and_malformed_query_values_are_400_json() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let id = uuid::Uuid::now_v7().simple().to_string();
    for path in [
        format!("/api/conversations?cursor=-1000000000000000000.{id}"),
        format!("/api/conversations/{conversation}/messages?cursor=-1000000000000000000.{id}"),
        format!("/api/conversations?cursor=999999999999999999.{id}"),
    ] {
        api_error(app.get(&token, &path).await, 400, "invalid_cursor").await;
    }
    for query in [
        "limit=abc",
        "limit=1.5",
        "limit=99999999999999999999999",
        "limit=1&limit=2",
    ] {
        let r = app
            .get(&token, &format!("/api/conversations?{query}"))
            .await;
        let body = json_error(r, 400).await;
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn wrong_methods_and_oversized_bodies_answer_json() {
    let app = TestApp::spawn_configured(|c| c.body_limit_bytes = 2048).await;
    for (method, path) in [
        (Method::PUT, "/api/conversations"),
        (Method::OPTIONS, "/api/chat"),
        (Method::DELETE, "/api/auth/login"),
        (Method::GET, "/api/auth/refresh"),
    ] {
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let message = api_error(r, 405, "method_not_allowed").await;
        assert!(message.contains(method.as_str()), "{message}");
    }
    let big = "x".repeat(10_000);
    let r = app
        .http
        .post(app.url("/api/auth/refresh"))
        .header("content-type", "application/json")
        .body(json!({ "refresh_token": big }).to_string())
        .send()
        .await
        .unwrap();
    api_error(r, 413, "body_too_large").await;
    // A body without a content type is still bounded.
    let r = app
        .http
        .post(app.url("/api/auth/refresh"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    api_error(r, 413, "body_too_large").await;
    for path in ["/api/auth/device/code", "/api/auth/device/token"] {
        let r = app
            .http
            .post(app.url(path))
            .form(&[("client_id", big.as_str())])
            .send()
            .await
            .unwrap();
        let body = json_error(r, 413).await;
        assert_eq!(body["error"], "invalid_request", "{path}: {body}");
    }
}

#[tokio::test]
async fn an_api_key_cannot_list_or_revoke_sessions() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let key = app.create_key(&token, "automation").await;
    let key = key["key"].as_str().unwrap();
    let sessions = app.get_json(&token, "/api/auth/sessions").await;
    let session_id = sessions["items"][0]["id"].as_str().unwrap().to_string();
    api_error(
        app.get(key, "/api/auth/sessions").await,
        403,
        "session_required",
    )
    .await;
    let r = app
        .call(
            key,
            Method::DELETE,
            &format!("/api/auth/sessions/{session_id}"),
            None,
        )
        .await;
    api_error(r, 403, "session_required").await;
    assert_eq!(
        app.get(&token, "/api/auth/me").await.status(),
        200,
        "the session lives on"
    );
}

#[tokio::test]
async fn free_text_fields_have_length_caps() {
    let app = TestApp::spawn().await;
    let before = snapshot(&app).await;
    let r = app
        .http
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "long@example.com", "password": PASSWORD, "display_name": "n".repeat(200_000)}))
        .send()
        .await
        .unwrap();
    assert!(api_error(r, 400, "too_long").await.contains("display_name"));
    let token = app.guest().await;
    let r = app
        .call(
            &token,
            Method::POST,
            "/api/conversations",
            Some(json!({"system_prompt": "p".repeat(30_000)})),
        )
        .await;
    assert!(
        api_error(r, 400, "too_long")
            .await
            .contains("system_prompt")
    );
    let after = snapshot(&app).await;
    assert_eq!(after[3..], before[3..], "no conversation was made");
    assert_eq!(after[0], before[0] + 1, "only the guest's account exists");
}

/// A device waiting for approval: its user code.
async fn pending_user_code(app: &TestApp) -> String {
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .form(&[("client_id", "sluice-cli")])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["user_code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_planted_csrf_cookie_cannot_approve_a_device_or_write() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.base);
    // An attacker on a sibling subdomain planted a CSRF cookie before the victim signed in.
    browser.set_cookie("sluice_csrf", "planted");
    let req = browser
        .request(Method::POST, "/api/auth/register")
        .json(&json!({ "email": "victim@example.com", "password": PASSWORD }));
    assert_eq!(browser.send(req).await.status(), 201);
    let issued = browser.cookie("sluice_csrf").unwrap().to_string();
    assert_ne!(issued, "planted", "signing in issues a fresh CSRF token");
    // The attacker plants it again, then posts the approval form with the value it knows.
    browser.set_cookie("sluice_csrf", "planted");
    let code = pending_user_code(&app).await;
    let r = browser
        .post_form(
            "/device",
            &[
                ("csrf_token", "planted"),
                ("user_code", &code),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let approved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM device_codes WHERE status <> 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(approved, 0, "the device was not approved");
    let req = browser
        .request(Method::POST, "/api/conversations")
        .header("x-csrf-token", "planted")
        .json(&json!({}));
    api_error(browser.send(req).await, 403, "csrf_failed").await;
    // The session's own token still works (the page reads it from the cookie it was given).
    browser.set_cookie("sluice_csrf", &issued);
    let req = browser
        .request(Method::POST, "/api/conversations")
        .header("x-csrf-token", &issued)
        .json(&json!({}));
    assert_eq!(browser.send(req).await.status(), 201);
}

#[tokio::test]
async fn every_response_says_nosniff() {
    let app = TestApp::spawn().await;
    for path in ["/device", "/healthz", "/api/conversations", "/nowhere"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn a_last_event_id_far_past_a_running_answer_ends_when_the_answer_does() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 40).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send(&token, conversation, "hello")
        .await
        .assistant_message
        .id;
    let path = format!("/api/messages/{answer}/stream");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.message(&token, answer).await["status"] != "streaming" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // `collect` fails the test if the response stays open 30 s without an event.
    let events = app.sse(&token, &path, Some(u64::MAX)).await.collect().await;
    assert!(events.is_empty(), "nothing is past such an id: {events:?}");
    assert_eq!(app.message(&token, answer).await["status"], "done");
    let r = app
        .http
        .get(app.url(&path))
        .bearer_auth(&token)
        .header("Last-Event-ID", u64::MAX.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "once it is over, the same id is told to stop"
    );
}

/// What a person names — a key, a conversation, themselves — may not hold control characters
/// (terminal escapes, CR/LF), marks that reorder text, or invisible spaces: 400 `invalid_name`,
/// nothing stored. Emoji joined with zero-width joiners are names like any other. A title made
/// from a message drops such characters instead.
#[tokio::test]
async fn names_refuse_control_bidi_and_invisible_characters() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let before = snapshot(&app).await;
    for bad in [
        "\u{1b}[31mred",
        "two\r\nlines",
        "tab\there",
        "\u{202E}txt.exe",
        "isolate\u{2066}d",
        "invisible\u{200B}space",
        "bom\u{FEFF}",
    ] {
        let r = app
            .call(
                &token,
                Method::POST,
                "/api/keys",
                Some(json!({ "name": bad })),
            )
            .await;
        api_error(r, 400, "invalid_name").await;
        let body = json!({ "title": bad });
        let r = app
            .call(&token, Method::POST, "/api/conversations", Some(body))
            .await;
        api_error(r, 400, "invalid_name").await;
        let body =
            json!({ "email": "named@example.com", "password": PASSWORD, "display_name": bad });
        let r = app
            .http
            .post(app.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        api_error(r, 400, "invalid_name").await;
    }
    assert_eq!(snapshot(&app).await, before, "nothing stored");
    let conversation = app.create_conversation(&token).await;
    let path = format!("/api/conversations/{conversation}");
    let r = app
        .call(
            &token,
            Method::PATCH,
            &path,
            Some(json!({ "title": "a\u{202E}b" })),
        )
        .await;
    api_error(r, 400, "invalid_name").await;

    let family = "family 👨\u{200D}👩\u{200D}👧";
    let key = app.create_key(&token, family).await;
    assert_eq!(key["name"], family);
    let r = app
        .call(
            &token,
            Method::POST,
            "/api/chat",
            Some(json!({ "message": "evil\u{202E}gnp.exe here" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    drop(r);
    let conversations = app.get_json(&token, "/api/conversations").await;
    let title = conversations["items"][0]["title"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(title, "evilgnp.exe here");
}
