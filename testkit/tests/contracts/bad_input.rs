//! Bad input gets a clear JSON error with the right status, and changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sluice_testkit::TestApp;
use uuid::Uuid;

async fn error_of(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let body: Value = r.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    body
}

async fn message_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn invalid_messages_are_rejected_and_nothing_is_stored() {
    let app = TestApp::spawn_configured(|c| {
        c.body_limit_bytes = 4096;
        c.max_message_chars = 100;
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let url = app.url(&format!("/api/conversations/{conv}/messages"));
    let cases = [
        ("{not json".to_string(), 400, "invalid_json"),
        (
            json!({"text": "wrong field"}).to_string(),
            400,
            "invalid_body",
        ),
        (json!({"content": "   "}).to_string(), 400, "empty_content"),
        (
            json!({"content": "x".repeat(101)}).to_string(),
            413,
            "content_too_large",
        ),
        (
            json!({"content": "x".repeat(5000)}).to_string(),
            413,
            "body_too_large",
        ),
        (
            json!({"content": "hi", "model": "gpt-9"}).to_string(),
            422,
            "unknown_model",
        ),
    ];
    for (body, status, code) in cases {
        let r = app
            .http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        error_of(r, status, code).await;
    }
    let no_type = app
        .http
        .post(&url)
        .bearer_auth(&token)
        .body(json!({"content": "hi"}).to_string())
        .send()
        .await
        .unwrap();
    error_of(no_type, 415, "unsupported_media_type").await;

    assert_eq!(message_count(&app).await, 0, "no message was stored");
    assert_eq!(app.queue_rows().await, 0, "no job was queued");
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/conversations");
    error_of(
        app.http.get(&url).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    error_of(
        app.http
            .get(&url)
            .bearer_auth("nonsense")
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    // A token signed with another key.
    let token = app.guest().await;
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[2] = "AAAA".repeat(10);
    error_of(
        app.http
            .get(&url)
            .bearer_auth(parts.join("."))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    // A revoked session ends its token at once.
    sqlx::query("UPDATE sessions SET revoked_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    error_of(r, 401, "unauthorized").await;
}

#[tokio::test]
async fn an_expired_token_is_401() {
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use secrecy::ExposeSecret;

    let app = TestApp::spawn().await;
    let token = app.guest().await;
    // The same token, re-signed with its lifetime moved: `ends_in` seconds from now.
    let payload = token.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let mut claims: Value = serde_json::from_slice(&payload).unwrap();
    let key = EncodingKey::from_secret(app.config.jwt_secret.expose_secret().as_bytes());
    let now = chrono::Utc::now().timestamp();
    let mut ending_in = |secs: i64| {
        claims["iat"] = (now - 3600).into();
        claims["exp"] = (now + secs).into();
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    };
    // Still inside the 5 s clock-skew leeway: accepted (so the re-signing itself is sound).
    let r = app.get(&ending_in(-2), "/api/conversations").await;
    assert_eq!(r.status(), 200);
    // Past it: refused.
    let r = app.get(&ending_in(-10), "/api/conversations").await;
    error_of(r, 401, "unauthorized").await;
}

#[tokio::test]
async fn another_users_resources_are_404_like_unknown_ones() {
    let app = TestApp::spawn().await;
    let alice = app.guest().await;
    let mallory = app.guest().await;
    let conv = app.create_conversation(&alice).await;
    let sent = app.send(&alice, conv, "private").await;
    let msg = sent.assistant_message.id;
    let unknown = Uuid::now_v7();
    for (method, path) in [
        ("GET", format!("/api/conversations/{conv}")),
        ("DELETE", format!("/api/conversations/{conv}")),
        ("GET", format!("/api/conversations/{conv}/messages")),
        ("POST", format!("/api/conversations/{conv}/messages")),
        ("GET", format!("/api/conversations/{conv}/events")),
        ("GET", format!("/api/messages/{msg}")),
        ("GET", format!("/api/messages/{msg}/stream")),
        ("POST", format!("/api/messages/{msg}/cancel")),
        ("GET", format!("/api/messages/{unknown}")),
        ("GET", "/api/messages/not-a-uuid".to_string()),
        ("GET", format!("/api/conversations/{unknown}")),
    ] {
        let req = app
            .http
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&mallory);
        let req = if method == "POST" {
            req.json(&json!({"content": "hijack"}))
        } else {
            req
        };
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
        error_of(r, 404, "not_found").await;
    }
    // Nothing of Alice's changed.
    assert_eq!(app.message(&alice, msg).await["role"], "assistant");
    let mine: Value = app.get_json(&mallory, "/api/conversations").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_malformed_last_event_id_is_400() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "hi").await;
    for path in [
        sent.stream_url.clone(),
        format!("/api/conversations/{conv}/events"),
    ] {
        let r = app
            .http
            .get(app.url(&path))
            .bearer_auth(&token)
            .header("Last-Event-ID", "abc")
            .send()
            .await
            .unwrap();
        error_of(r, 400, "invalid_last_event_id").await;
    }
}

#[tokio::test]
async fn conversations_page_with_cursors_and_reject_bad_ones() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.create_conversation(&token).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = app.url("/api/conversations?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app
            .http
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "newest first, each exactly once");
    let r = app.get(&token, "/api/conversations?cursor=garbage").await;
    error_of(r, 400, "invalid_cursor").await;
    let r = app.get(&token, "/api/conversations?limit=1000").await;
    error_of(r, 400, "invalid_limit").await;
    // Deleting works once, then it is gone.
    let gone = created[0];
    let r = app
        .http
        .delete(app.url(&format!("/api/conversations/{gone}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app.get(&token, &format!("/api/conversations/{gone}")).await;
    error_of(r, 404, "not_found").await;
    let r = app
        .http
        .post(app.url("/api/conversations"))
        .bearer_auth(&token)
        .json(&json!({"model": "nope"}))
        .send()
        .await
        .unwrap();
    error_of(r, 422, "unknown_model").await;
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let app = TestApp::spawn().await;
    error_of(
        app.http
            .get(app.url("/api/nothing-here"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}
