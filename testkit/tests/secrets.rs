//! Passwords, tokens, keys and codes never reach a log line or a database row in plain text.
//! One test in its own binary: it owns the process-wide log subscriber, at debug level for
//! every crate (sqlx, hyper, reqwest, apalis, ...), and drives every kind of sign-in.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use sluice_shared::dto::DEVICE_GRANT_TYPE;
use sluice_testkit::{
    PASSWORD, TestApp,
    browser::Browser,
    fake_oauth::{FakeOAuth, FakeUser},
    with_fake_oauth,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_string()
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.http.post(app.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_the_database_in_plain_text() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let fake = FakeOAuth::start().await;
    let app = TestApp::spawn_with(with_fake_oauth(&fake)).await;
    let mut secrets: Vec<String> = vec![PASSWORD.into()];

    let registered = app.register("secret@example.com").await;
    let wrong = "a wrong password, also secret";
    secrets.push(wrong.into());
    assert_eq!(
        post(
            &app,
            "/api/auth/login",
            None,
            json!({ "email": "secret@example.com", "password": wrong })
        )
        .await
        .status(),
        401
    );
    let login: Value = post(
        &app,
        "/api/auth/login",
        None,
        json!({ "email": "secret@example.com", "password": PASSWORD }),
    )
    .await
    .json()
    .await
    .unwrap();
    let refreshed: Value = post(
        &app,
        "/api/auth/refresh",
        None,
        json!({ "refresh_token": s(&login, "refresh_token") }),
    )
    .await
    .json()
    .await
    .unwrap();
    // Reuse is logged (as a warning) — without the token.
    let reuse = post(
        &app,
        "/api/auth/refresh",
        None,
        json!({ "refresh_token": s(&login, "refresh_token") }),
    )
    .await;
    assert_eq!(reuse.status(), 401);
    let token = s(&registered, "access_token");
    for v in [&registered, &login, &refreshed] {
        secrets.push(s(v, "access_token"));
        secrets.push(s(v, "refresh_token"));
    }

    let key: Value = post(&app, "/api/keys", Some(&token), json!({ "name": "k" }))
        .await
        .json()
        .await
        .unwrap();
    let key = s(&key, "key");
    assert_eq!(app.get(&key, "/api/auth/me").await.status(), 200);
    post(&app, "/api/keys/verify", None, json!({ "key": key })).await;
    secrets.push(key.clone());

    let codes: Value = post(
        &app,
        "/api/auth/device/code",
        None,
        json!({ "client_id": "sluice-cli" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let device_code = s(&codes, "device_code");
    post(
        &app,
        "/api/auth/device/approve",
        Some(&token),
        json!({ "user_code": s(&codes, "user_code") }),
    )
    .await;
    let device_tokens: Value = post(
        &app,
        "/api/auth/device/token",
        None,
        json!({ "grant_type": DEVICE_GRANT_TYPE, "device_code": device_code, "client_id": "sluice-cli" }),
    )
    .await
    .json()
    .await
    .unwrap();
    secrets.extend([
        device_code,
        s(&device_tokens, "access_token"),
        s(&device_tokens, "refresh_token"),
    ]);

    fake.sign_in_as(FakeUser::new("31337", "gh@example.com"));
    let mut browser = Browser::new(&app.base);
    let start = browser.get("/api/auth/github?next=/").await;
    let (_, url) = browser.follow(start).await;
    assert_eq!(url, app.url("/"));
    secrets.extend(fake.issued_tokens());
    for cookie in ["sluice_access", "sluice_refresh", "sluice_csrf"] {
        secrets.push(browser.cookie(cookie).unwrap().to_string());
    }

    // Stopped, the API has finished every request and written every line about them.
    let pool = app.pool.clone();
    app.stop_api().await.unwrap();
    let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(log.contains("/api/auth/login"), "the logs were captured");
    assert!(
        log.contains("refresh token reuse"),
        "the logs were captured"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }

    let tables = [
        "users",
        "sessions",
        "refresh_tokens",
        "api_keys",
        "device_codes",
        "identities",
        "oauth_states",
    ];
    for table in tables {
        let sql = format!("SELECT COALESCE(string_agg(t::text, '\n'), '') FROM {table} t");
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        for secret in &secrets {
            assert!(
                !rows.contains(secret.as_str()),
                "{table} holds a secret in plain text: {secret}"
            );
        }
    }
}
