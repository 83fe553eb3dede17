//! API keys: shown once, stored hashed, authenticate like an access token, and stop working
//! the moment they are disabled, rotated or deleted.

use serde_json::{Value, json};
use sluice_testkit::TestApp;

async fn status_with(app: &TestApp, key: &str) -> u16 {
    app.get(key, "/api/conversations").await.status().as_u16()
}

#[tokio::test]
async fn a_key_is_shown_once_and_authenticates_like_an_access_token() {
    let app = TestApp::spawn().await;
    let me = app.register("keys@example.com").await;
    let token = me["access_token"].as_str().unwrap();
    let created = app.create_key(token, "laptop script").await;
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-sluice-"), "{key}");
    assert_eq!(key.len(), "sk-sluice-".len() + 64);
    assert_eq!(created["name"], "laptop script");
    assert_eq!(created["prefix"], &key[..16]);

    // The list shows prefix and name, never the key.
    let list = app.get_json(token, "/api/keys").await;
    let listed = &list["items"][0];
    assert_eq!(listed["prefix"], &key[..16]);
    assert_eq!(listed["enabled"], true);
    assert!(listed.get("key").is_none());
    assert!(!list.to_string().contains(&key));

    // The key chats like the user it belongs to.
    let conversation = app.create_conversation(&key).await;
    let sent = app.send(&key, conversation, "hello from a script").await;
    let mine = app.get_json(token, "/api/conversations").await;
    assert_eq!(mine["items"][0]["id"], conversation.to_string());
    assert_eq!(
        app.message(&key, sent.assistant_message.id).await["role"],
        "assistant"
    );
    let used = app.get_json(token, "/api/keys").await;
    assert!(
        used["items"][0]["last_used_at"].is_string(),
        "last use is recorded"
    );

    // Only its hash is stored.
    let rows: String = sqlx::query_scalar("SELECT string_agg(k::text, ' ') FROM api_keys k")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!rows.contains(&key[16..]), "{rows}");
}

#[tokio::test]
async fn disabling_rotating_and_deleting_a_key_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let me = app.register("ops@example.com").await;
    let token = me["access_token"].as_str().unwrap();
    let created = app.create_key(token, "ci").await;
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    assert_eq!(status_with(&app, key).await, 200);

    let key_path = format!("/api/keys/{id}");
    let patch = |enabled: bool| {
        app.call(
            token,
            reqwest::Method::PATCH,
            &key_path,
            Some(json!({ "enabled": enabled })),
        )
    };
    let r = patch(false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["enabled"], false);
    assert_eq!(status_with(&app, key).await, 401);
    assert_eq!(patch(true).await.status(), 200);
    assert_eq!(status_with(&app, key).await, 200);

    let r = app
        .call(
            token,
            reqwest::Method::POST,
            &format!("/api/keys/{id}/rotate"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new_key = rotated["key"].as_str().unwrap();
    assert_ne!(new_key, key);
    assert_eq!(rotated["id"], id, "the same key, renewed");
    assert_eq!(status_with(&app, key).await, 401, "the old secret is dead");
    assert_eq!(status_with(&app, new_key).await, 200);

    let verify = |k: String| {
        let req = app
            .http
            .post(app.url("/api/keys/verify"))
            .json(&json!({ "key": k }));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let valid = verify(new_key.to_string()).await;
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["user_id"], me["user"]["id"]);
    assert_eq!(valid["key"]["name"], "ci");
    assert_eq!(verify(key.to_string()).await["valid"], false);
    assert_eq!(verify("sk-sluice-nonsense".into()).await["valid"], false);

    let r = app
        .call(
            token,
            reqwest::Method::DELETE,
            &format!("/api/keys/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(status_with(&app, new_key).await, 401);
    assert_eq!(app.get_json(token, "/api/keys").await["items"], json!([]));
}

#[tokio::test]
async fn a_key_cannot_manage_keys_or_sessions() {
    let app = TestApp::spawn().await;
    let me = app.register("limits@example.com").await;
    let token = me["access_token"].as_str().unwrap();
    let key = app.create_key(token, "robot").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(
            &key,
            reqwest::Method::POST,
            "/api/keys",
            Some(json!({ "name": "more" })),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "session_required"
    );
    assert_eq!(
        app.call(&key, reqwest::Method::GET, "/api/keys", None)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.call(&key, reqwest::Method::POST, "/api/auth/logout", None)
            .await
            .status(),
        403
    );
    // Bad names are refused with a reason.
    let r = app
        .call(
            token,
            reqwest::Method::POST,
            "/api/keys",
            Some(json!({ "name": "  " })),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_name"
    );
}
