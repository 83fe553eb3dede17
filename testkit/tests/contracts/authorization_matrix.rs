//! Nobody gets into what is not theirs: every endpoint that takes an id answers another
//! user's id with 404 (its existence is not revealed), admin routes answer non-admins with
//! 403, and the owner's data is untouched afterwards. A user with no role left can do nothing
//! but manage their own account: every other route of the document answers 403.

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
    let folder = app
        .call(
            owner_token,
            Method::POST,
            "/api/groups",
            Some(json!({ "name": "owner's folder" })),
        )
        .await;
    assert_eq!(folder.status(), 201);
    let folder: Value = folder.json().await.unwrap();
    let folder_id = folder["id"].as_str().unwrap();
    let file = app
        .upload_file(owner_token, "owner.txt", "the owner's notes")
        .await;
    let file_id = file["id"].as_str().unwrap();

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
        (
            Method::PATCH,
            format!("/api/conversations/{conversation}"),
            Some(json!({ "favorite": true })),
        ),
        (
            Method::PATCH,
            format!("/api/groups/{folder_id}"),
            Some(json!({ "name": "taken over" })),
        ),
        (Method::DELETE, format!("/api/groups/{folder_id}"), None),
        (
            Method::GET,
            format!("/api/conversations/{conversation}/export"),
            None,
        ),
        (Method::GET, format!("/api/files/{file_id}"), None),
        (Method::DELETE, format!("/api/files/{file_id}"), None),
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
    let folders = app.get_json(owner_token, "/api/groups").await;
    assert_eq!(folders["items"][0]["name"], "owner's folder");
    let files = app.get_json(owner_token, "/api/files").await;
    assert_eq!(files["items"][0]["name"], "owner.txt");
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

/// The routes a user whose roles were all removed may still use: their own account.
const WITHOUT_A_ROLE: &[(&str, &str)] = &[
    ("get", "/api/auth/me"),
    ("delete", "/api/auth/me"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/password"),
    ("put", "/api/auth/password"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("get", "/api/auth/session"),
    ("post", "/api/auth/device/{decision}"),
    ("get", "/device"),
    ("post", "/device"),
];

#[tokio::test]
async fn a_user_without_a_role_is_refused_every_route_but_their_account() {
    let app = TestApp::spawn_configured(|c| c.admin_emails = vec!["root@example.com".into()]).await;
    let root = app.register("root@example.com").await;
    let root_token = root["access_token"].as_str().unwrap();
    let ada = app.register("ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(token).await;
    let key = app.create_key(token, "ada's key").await;
    let key = key["key"].as_str().unwrap();
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let r = app
        .call(
            root_token,
            Method::PUT,
            &format!("/api/admin/users/{ada_id}/roles"),
            Some(json!({ "roles": [] })),
        )
        .await;
    assert_eq!(r.status(), 200);

    // Every operation the document lists that needs a credential, but the account's own.
    let document = app.get_json(token, "/openapi.json").await;
    let mut refused = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let public = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|r| r.is_empty()))
            });
            if public || WITHOUT_A_ROLE.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            // The refusal comes before any lookup: any id will do.
            let concrete = path.replace("{id}", &conversation.to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = (method != Method::GET).then(|| json!({}));
            let r = app.call(token, method.clone(), &concrete, body).await;
            assert_eq!(r.status(), 403, "{method} {path}");
            refused += 1;
            if method == Method::HEAD {
                continue; // No body to say why.
            }
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
        }
    }
    assert!(refused >= 25, "only {refused} routes were tried");

    // The API key acts for the same user: /v1 says so in OpenAI's shape.
    let r = app
        .call(
            key,
            Method::POST,
            "/v1/chat/completions",
            Some(json!({ "model": "demo", "messages": [{ "role": "user", "content": "hi" }] })),
        )
        .await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("chat"),
        "{body}"
    );
    // A stream token in the query changes nothing for a credential that works.
    for path in ["/v1/chat/completions?token=x", "/api/messages?token=x"] {
        let body = json!({ "model": "demo", "messages": [{ "role": "user", "content": "hi" }],
                           "message": "hi" });
        let r = app.call(key, Method::POST, path, Some(body)).await;
        assert_eq!(r.status(), 403, "{path}");
    }

    // Their account is still theirs.
    assert_eq!(app.get(token, "/api/auth/me").await.status(), 200);
    assert_eq!(app.get(token, "/api/auth/sessions").await.status(), 200);

    // Given the role back, everything works again at once.
    let r = app
        .call(
            root_token,
            Method::PUT,
            &format!("/api/admin/users/{ada_id}/roles"),
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let sent = app.send_answered(token, conversation, "back again").await;
    let answer = app.message(token, sent.assistant_message.id).await;
    assert_eq!(answer["status"], "done", "{answer}");
}
