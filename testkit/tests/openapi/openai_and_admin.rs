//! The OpenAI door, the admin routes and signing out: real responses checked.

use reqwest::Method;
use serde_json::json;
use sluice_testkit::TestApp;

use crate::checker::{Checker, get};

/// The OpenAI door's models: listed, one found, one not.
pub(crate) async fn openai_models(app: &TestApp, c: &mut Checker, token: &str) {
    c.check("get", "/v1/models", get(app, "/v1/models", token).await)
        .await;
    let r = get(app, "/v1/models/demo", token).await;
    c.check("get", "/v1/models/{id}", r).await;
    let r = get(app, "/v1/models/nope", token).await;
    assert_eq!(c.check("get", "/v1/models/{id}", r).await.0, 404);
}

/// The OpenAI door's completions: whole, streamed, refused (`n`), a wrong key, and one stored.
pub(crate) async fn openai_completions(app: &TestApp, c: &mut Checker, token: &str) {
    let question = json!([{ "role": "user", "content": "hello" }]);
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(json!({ "model": "demo", "messages": question, "max_tokens": 5 })),
        )
        .await;
    let (_, completion) = c.check("post", "/v1/chat/completions", r).await;
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(
                json!({ "model": "demo", "messages": question, "stream": true,
                         "stream_options": { "include_usage": true } }),
            ),
        )
        .await;
    let (_, chunks) = c.check("post", "/v1/chat/completions", r).await;
    assert!(chunks.as_array().unwrap().len() > 3, "{chunks}");
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(json!({ "model": "demo", "messages": question, "n": 2 })),
        )
        .await;
    assert_eq!(c.check("post", "/v1/chat/completions", r).await.0, 400);
    let r = app
        .http
        .get(app.url("/v1/models"))
        .bearer_auth("sk-sluice-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("get", "/v1/models", r).await.0, 401);
    let stored = format!(
        "/v1/chat/completions/{}",
        completion["id"].as_str().unwrap()
    );
    let r = get(app, &stored, token).await;
    c.check("get", "/v1/chat/completions/{id}", r).await;
}

/// Admin: the users listed, the former guest's roles set, disabled and enabled again, and
/// another user refused.
pub(crate) async fn admin(app: &TestApp, c: &mut Checker, admin_token: &str) {
    let r = get(app, "/api/admin/users", admin_token).await;
    let (_, users) = c.check("get", "/api/admin/users", r).await;
    let guest_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "guest@example.com")
        .expect("the former guest is listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user_path = format!("/api/admin/users/{guest_id}");
    let r = app
        .call(
            admin_token,
            Method::PUT,
            &format!("{user_path}/roles"),
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    c.check("put", "/api/admin/users/{id}/roles", r).await;
    let r = app
        .call(
            admin_token,
            Method::POST,
            &format!("{user_path}/disable"),
            None,
        )
        .await;
    c.check("post", "/api/admin/users/{id}/disable", r).await;
    let r = app
        .call(
            admin_token,
            Method::POST,
            &format!("{user_path}/enable"),
            None,
        )
        .await;
    c.check("post", "/api/admin/users/{id}/enable", r).await;
    // (Disabling ended the former guest's sessions; another user is not an admin either.)
    let r = get(app, "/api/admin/users", &app.guest().await).await;
    assert_eq!(c.check("get", "/api/admin/users", r).await.0, 403);
}

/// Sign out last: the session list, one device, then this one.
pub(crate) async fn sign_out(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .call(
            token,
            Method::DELETE,
            &format!("/api/auth/sessions/{}", uuid::Uuid::nil()),
            None,
        )
        .await;
    assert_eq!(c.check("delete", "/api/auth/sessions/{id}", r).await.0, 404);
    let r = app
        .call(token, Method::POST, "/api/auth/logout", None)
        .await;
    assert_eq!(c.check("post", "/api/auth/logout", r).await.0, 204);
}
