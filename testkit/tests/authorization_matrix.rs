//! Nobody gets into what is not theirs: every endpoint that takes an id answers another
//! user's id with 404 (its existence is not revealed), admin routes answer non-admins with
//! 403, and the owner's data is untouched afterwards.

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::TestApp;

#[tokio::test]
async fn another_users_ids_are_not_found_on_every_endpoint_that_takes_an_id() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@example.com").await;
    let owner_token = owner["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(owner_token).await;
    let sent = app.send(owner_token, conversation, "mine").await;
    let message = sent.assistant_message.id;
    let key = app.create_key(owner_token, "owner's key").await;
    let key_id = key["id"].as_str().unwrap();
    let sessions = app.get_json(owner_token, "/api/auth/sessions").await;
    let session_id = sessions["items"][0]["id"].as_str().unwrap().to_string();
    let owner_id = owner["user"]["id"].as_str().unwrap();

    let intruder = app.register("intruder@example.com").await;
    let token = intruder["access_token"].as_str().unwrap();
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/conversations/{conversation}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/conversations/{conversation}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/conversations/{conversation}/messages"),
            None,
        ),
        (
            Method::POST,
            format!("/api/conversations/{conversation}/messages"),
            Some(json!({ "content": "hi" })),
        ),
        (
            Method::GET,
            format!("/api/conversations/{conversation}/events"),
            None,
        ),
        (
            Method::POST,
            "/api/chat".into(),
            Some(json!({ "message": "hi", "conversation_id": conversation })),
        ),
        (
            Method::POST,
            "/api/messages".into(),
            Some(json!({ "message": "hi", "conversation_id": conversation })),
        ),
        (Method::GET, format!("/api/messages/{message}"), None),
        (Method::GET, format!("/api/messages/{message}/stream"), None),
        (
            Method::POST,
            "/api/stream-tokens".into(),
            Some(json!({ "message_id": message })),
        ),
        (
            Method::POST,
            "/api/stream-tokens".into(),
            Some(json!({ "conversation_id": conversation })),
        ),
        (
            Method::POST,
            format!("/api/messages/{message}/cancel"),
            None,
        ),
        (
            Method::POST,
            format!("/api/messages/{}/edit", sent.user_message.id),
            Some(json!({ "content": "edited by someone else" })),
        ),
        (
            Method::DELETE,
            format!("/api/auth/sessions/{session_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/keys/{key_id}"),
            Some(json!({ "enabled": false })),
        ),
        (Method::POST, format!("/api/keys/{key_id}/rotate"), None),
        (Method::DELETE, format!("/api/keys/{key_id}"), None),
    ];
    for (method, path, body) in cases {
        let r = app.call(token, method.clone(), &path, body).await;
        assert_eq!(r.status(), 404, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
    }
    for (method, path) in [
        (Method::GET, "/api/admin/users".to_string()),
        (Method::PUT, format!("/api/admin/users/{owner_id}/roles")),
        (Method::POST, format!("/api/admin/users/{owner_id}/disable")),
        (Method::POST, format!("/api/admin/users/{owner_id}/enable")),
    ] {
        let body = (method == Method::PUT).then(|| json!({ "roles": ["user"] }));
        let r = app.call(token, method.clone(), &path, body).await;
        assert_eq!(r.status(), 403, "{method} {path}");
    }

    // The owner's things are all still there and working.
    assert_eq!(
        app.get(owner_token, &format!("/api/conversations/{conversation}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(owner_token, "/api/auth/me").await.status(),
        200,
        "session not revoked"
    );
    let keys = app.get_json(owner_token, "/api/keys").await;
    assert_eq!(keys["items"][0]["enabled"], true);
    assert_eq!(
        app.get(key["key"].as_str().unwrap(), "/api/auth/me")
            .await
            .status(),
        200
    );
    let messages = app
        .get_json(
            owner_token,
            &format!("/api/conversations/{conversation}/messages"),
        )
        .await;
    assert_eq!(
        messages["items"].as_array().unwrap().len(),
        2,
        "no message was added"
    );
}
