//! Sessions: rotating refresh tokens, reuse ends the family, logout and device sign-out act at
//! once, and refresh tokens are never stored in plain text.

use serde_json::{Value, json};
use sluice_testkit::TestApp;

async fn sign_in(app: &TestApp) -> Value {
    let r = app
        .http
        .post(app.url("/api/auth/guest"))
        .header("user-agent", "laptop/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

#[tokio::test]
async fn a_refresh_token_rotates_and_works_once() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app).await;
    let r = refresh(&app, field(&first, "refresh_token")).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "a new refresh token every time"
    );
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    let me = app
        .get_json(field(&second, "access_token"), "/api/auth/me")
        .await;
    assert_eq!(me["id"], first["user"]["id"]);
    // The new one rotates again.
    assert_eq!(
        refresh(&app, field(&second, "refresh_token"))
            .await
            .status(),
        200
    );
    // Garbage is refused.
    assert_eq!(refresh(&app, "not-a-token").await.status(), 401);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_whole_session() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app).await;
    let second: Value = refresh(&app, field(&first, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    // An attacker replays the spent token.
    let replay = refresh(&app, field(&first, "refresh_token")).await;
    assert_eq!(replay.status(), 401);
    // Everything of that session is dead: the newest refresh token and the access token.
    assert_eq!(
        refresh(&app, field(&second, "refresh_token"))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.get(field(&second, "access_token"), "/api/auth/me")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let tokens = sign_in(&app).await;
    let access = field(&tokens, "access_token");
    let r = app
        .http
        .post(app.url("/api/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get(access, "/api/auth/me").await.status(), 401);
    assert_eq!(
        refresh(&app, field(&tokens, "refresh_token"))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn devices_are_listed_and_can_be_signed_out_but_not_someone_elses() {
    let app = TestApp::spawn().await;
    let laptop = sign_in(&app).await;
    let access = field(&laptop, "access_token");
    // A second device of the same account (guests have no credentials to sign in twice, so
    // the row is made directly; the accounts issue adds real second sign-ins).
    let user_id: uuid::Uuid = field(&laptop["user"], "id").parse().unwrap();
    let phone = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, family_id, user_agent, expires_at)
         VALUES ($1, $2, $1, 'phone/2.0', now() + interval '1 day')",
    )
    .bind(phone)
    .bind(user_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let listed = app.get_json(access, "/api/auth/sessions").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "laptop/1.0");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let session = app.get_json(access, "/api/auth/session").await;
    assert_eq!(session["session"]["id"], current[0]["id"]);

    let mallory = sign_in(&app).await;
    let path = format!("/api/auth/sessions/{phone}");
    let r = app
        .http
        .delete(app.url(&path))
        .bearer_auth(field(&mallory, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "another user's session is not found");

    let r = app
        .http
        .delete(app.url(&path))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let listed = app.get_json(access, "/api/auth/sessions").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "the phone is signed out, the laptop is not"
    );
}

/// "Last active" follows use, not only refreshes (an access token lives for minutes): a
/// session used now says so, and marking it costs at most one write a minute.
#[tokio::test]
async fn a_device_used_now_is_listed_as_used_now() {
    let app = TestApp::spawn().await;
    let laptop = sign_in(&app).await;
    let access = field(&laptop, "access_token");
    let an_hour_ago = "UPDATE sessions SET last_used_at = now() - interval '1 hour'";
    sqlx::query(an_hour_ago).execute(&app.pool).await.unwrap();
    assert_eq!(app.get(access, "/api/conversations").await.status(), 200);
    let listed = app.get_json(access, "/api/auth/sessions").await;
    let last_used: chrono::DateTime<chrono::Utc> = listed["items"][0]["last_used_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let age = chrono::Utc::now() - last_used;
    assert!(age < chrono::Duration::seconds(30), "last used {age} ago");
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let tokens = sign_in(&app).await;
    let plain = field(&tokens, "refresh_token");
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], plain.as_bytes());
    assert_eq!(stored[0].len(), 32, "a SHA-256 digest");
    let dump: String =
        sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM (SELECT * FROM sessions) t")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        !dump.contains(plain),
        "the plain token appears nowhere in sessions"
    );
}

#[tokio::test]
async fn access_tokens_that_are_not_exactly_ours_are_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let app = TestApp::spawn().await;
    let good = sign_in(&app).await;
    let access = field(&good, "access_token");
    assert_eq!(app.get(access, "/api/auth/me").await.status(), 200);

    let claims = |aud: &str, iss: &str| {
        let now = chrono::Utc::now().timestamp();
        let payload = access.split('.').nth(1).unwrap();
        let mut c: Value = serde_json::from_slice(&b64(payload)).unwrap();
        c["aud"] = aud.into();
        c["iss"] = iss.into();
        c["iat"] = now.into();
        c["exp"] = (now + 600).into();
        c
    };
    let secret = b"test-secret-test-secret-test-secret!";
    let sign = |c: &Value, key: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            c,
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    let ours = claims("sluice", &app.config.public_url);
    assert_eq!(
        app.get(&sign(&ours, secret), "/api/auth/me").await.status(),
        200,
        "the control case"
    );

    let wrong_key = sign(&ours, b"another-secret-another-secret-another!");
    let wrong_aud = sign(&claims("someone-else", &app.config.public_url), secret);
    let wrong_iss = sign(&claims("sluice", "https://evil.example"), secret);
    let unsigned = format!(
        "{}.{}.",
        b64_encode(br#"{"alg":"none","typ":"JWT"}"#),
        access.split('.').nth(1).unwrap()
    );
    let mut parts: Vec<String> = access.split('.').map(String::from).collect();
    let mut payload: Value = serde_json::from_slice(&b64(&parts[1])).unwrap();
    payload["sub"] = uuid::Uuid::now_v7().to_string().into();
    parts[1] = b64_encode(payload.to_string().as_bytes());
    let tampered = parts.join(".");
    for (what, token) in [
        ("wrong key", wrong_key),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("alg none", unsigned),
        ("tampered payload", tampered),
    ] {
        assert_eq!(
            app.get(&token, "/api/auth/me").await.status(),
            401,
            "{what}"
        );
    }
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn b64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn auth_routes_are_rate_limited_per_ip_with_retry_after() {
    let app = TestApp::spawn_with(sluice_testkit::Options {
        configure: Box::new(|c| {
            c.auth_rate_per_minute = 1;
            c.auth_burst = 3;
        }),
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        sign_in(&app).await;
    }
    let r = app
        .http
        .post(app.url("/api/auth/guest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 3, "the refused request created nothing");
    // Other routes are not affected.
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn register_and_log_in_with_email_and_password() {
    let app = TestApp::spawn().await;
    let register = |email: &str, password: &str| {
        app.http
            .post(app.url("/api/auth/register"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let r = register("  Ada@Example.com ", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["user"]["is_guest"], false);
    assert_eq!(
        app.get(field(&made, "access_token"), "/api/auth/me")
            .await
            .status(),
        200
    );

    // The same address in other letters is taken.
    let r = register("ADA@example.COM", "another long password")
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "email_taken"
    );
    let r = register("bob@example.com", "short").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "weak_password"
    );
    let r = register("not-an-email", "long enough password")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let login = |email: &str, password: &str| {
        app.http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let r = login("ada@example.com", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let signed_in: Value = r.json().await.unwrap();
    assert_eq!(signed_in["user"]["id"], made["user"]["id"]);
    // Wrong password and unknown account fail alike.
    let wrong: Value = login("ada@example.com", "wrong horse battery")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unknown: Value = login("eve@example.com", "correct horse battery")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["message"], "invalid email or password");

    // Only an argon2id hash is stored.
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));
}

#[tokio::test]
async fn a_guest_adds_a_password_and_keeps_its_conversations() {
    let app = TestApp::spawn().await;
    let guest = sign_in(&app).await;
    let access = field(&guest, "access_token");
    let conv = app.create_conversation(access).await;
    let add = |email: &str| {
        app.http
            .post(app.url("/api/auth/password"))
            .bearer_auth(access)
            .json(&json!({ "email": email, "password": "a long enough password" }))
            .send()
    };
    let r = add("grace@example.com").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["is_guest"], false);
    assert_eq!(
        add("grace@example.com").await.unwrap().status(),
        409,
        "only once"
    );

    let login: Value = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "grace@example.com", "password": "a long enough password" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["id"], guest["user"]["id"]);
    let listed = app
        .get_json(field(&login, "access_token"), "/api/conversations")
        .await;
    assert_eq!(
        listed["items"][0]["id"],
        conv.to_string(),
        "the guest's conversation came along"
    );
}
