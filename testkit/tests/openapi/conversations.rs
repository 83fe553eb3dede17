//! Conversations, messages and their streams, edits, chat and deletion: real responses checked.

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::TestApp;

use crate::checker::{Checker, get};

/// The models, then a conversation created (and one refused), renamed and read; returns its
/// path.
pub(crate) async fn conversations(app: &TestApp, c: &mut Checker, token: &str) -> String {
    c.check("get", "/api/models", get(app, "/api/models", token).await)
        .await;
    let r = app
        .call(
            token,
            Method::POST,
            "/api/conversations",
            Some(json!({ "title": "t" })),
        )
        .await;
    let (_, conversation) = c.check("post", "/api/conversations", r).await;
    let conversation = conversation["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            token,
            Method::POST,
            "/api/conversations",
            Some(json!({ "model": "nope" })),
        )
        .await;
    assert_eq!(c.check("post", "/api/conversations", r).await.0, 422);
    let one = format!("/api/conversations/{conversation}");
    let r = app
        .call(
            token,
            Method::PATCH,
            &one,
            Some(json!({ "title": "renamed" })),
        )
        .await;
    c.check("patch", "/api/conversations/{id}", r).await;
    let r = get(app, &one, token).await;
    c.check("get", "/api/conversations/{id}", r).await;
    folders(app, c, token, &one).await;
    one
}

/// A folder made, renamed and listed; the conversation at `one` filed in it, starred, then
/// out again; the folder deleted.
async fn folders(app: &TestApp, c: &mut Checker, token: &str, one: &str) {
    let r = app
        .call(
            token,
            Method::POST,
            "/api/groups",
            Some(json!({ "name": "Work" })),
        )
        .await;
    let (status, folder) = c.check("post", "/api/groups", r).await;
    assert_eq!(status, 201);
    let path = format!("/api/groups/{}", folder["id"].as_str().unwrap());
    let r = app
        .call(
            token,
            Method::PATCH,
            &path,
            Some(json!({ "name": "Projects" })),
        )
        .await;
    c.check("patch", "/api/groups/{id}", r).await;
    let body = json!({ "group_id": folder["id"], "favorite": true });
    let r = app.call(token, Method::PATCH, one, Some(body)).await;
    let (_, filed) = c.check("patch", "/api/conversations/{id}", r).await;
    assert_eq!(
        (&filed["group_id"], &filed["favorite"]),
        (&folder["id"], &json!(true))
    );
    let (_, listed) = c
        .check("get", "/api/groups", get(app, "/api/groups", token).await)
        .await;
    assert_eq!(listed["items"][0]["conversations"], 1);
    let body = json!({ "group_id": null, "favorite": false });
    let r = app.call(token, Method::PATCH, one, Some(body)).await;
    c.check("patch", "/api/conversations/{id}", r).await;
    let r = app.call(token, Method::DELETE, &path, None).await;
    assert_eq!(c.check("delete", "/api/groups/{id}", r).await.0, 204);
    let r = get(app, &format!("{one}/export"), token).await;
    let (_, exported) = c.check("get", "/api/conversations/{id}/export", r).await;
    assert_eq!(exported["conversation"]["title"], "renamed");
    let doc = serde_json::to_vec(&exported).unwrap();
    let r = app
        .http
        .post(app.url("/api/import"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(doc)
        .send()
        .await
        .unwrap();
    let (_, imported) = c.check("post", "/api/import", r).await;
    assert_eq!(imported["conversation_ids"].as_array().unwrap().len(), 1);
    let r = app
        .http
        .post(app.url("/api/import"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"hello": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/import", r).await.0, 422);
    let r = app
        .http
        .post(app.url("/api/files"))
        .bearer_auth(token)
        .header("content-disposition", "attachment; filename=\"notes.txt\"")
        .body("some notes")
        .send()
        .await
        .unwrap();
    let (_, file) = c.check("post", "/api/files", r).await;
    assert_eq!(file["content_type"], "text/plain; charset=utf-8");
    let r = app
        .http
        .post(app.url("/api/files"))
        .bearer_auth(token)
        .body(vec![0x7f_u8, b'E', b'L', b'F', 2, 1])
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/files", r).await.0, 415);
    let (_, files) = c
        .check("get", "/api/files", get(app, "/api/files", token).await)
        .await;
    assert_eq!(files["items"][0]["id"], file["id"]);
    let path = format!("/api/files/{}", file["id"].as_str().unwrap());
    let r = app.call(token, Method::DELETE, &path, None).await;
    assert_eq!(c.check("delete", "/api/files/{id}", r).await.0, 204);
    let r = get(app, "/api/search?q=renamed", token).await;
    let (_, found) = c.check("get", "/api/search", r).await;
    assert_eq!(found["items"][0]["conversation_title"], "renamed");
}

/// A message sent to the conversation at `one`, its answer streamed, a stream token, the
/// answer read, a refused cancel, and a regenerated answer streamed; returns what sending
/// answered.
pub(crate) async fn messages_and_streams(
    app: &TestApp,
    c: &mut Checker,
    token: &str,
    one: &str,
) -> Value {
    let r = app
        .call(
            token,
            Method::POST,
            &format!("{one}/messages"),
            Some(json!({ "content": "hello" })),
        )
        .await;
    let (_, sent) = c.check("post", "/api/conversations/{id}/messages", r).await;
    let answer = sent["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{answer}/stream"), token).await;
    let (_, events) = c.check("get", "/api/messages/{id}/stream", stream).await;
    assert_eq!(events.as_array().unwrap().last().unwrap()["type"], "done");
    let r = app
        .call(
            token,
            Method::POST,
            "/api/stream-tokens",
            Some(json!({ "message_id": answer })),
        )
        .await;
    assert_eq!(c.check("post", "/api/stream-tokens", r).await.0, 201);
    let r = app
        .call(token, Method::POST, "/api/stream-tokens", Some(json!({})))
        .await;
    assert_eq!(c.check("post", "/api/stream-tokens", r).await.0, 400);
    let r = get(app, &format!("/api/messages/{answer}"), token).await;
    c.check("get", "/api/messages/{id}", r).await;
    let r = app
        .call(
            token,
            Method::POST,
            &format!("/api/messages/{answer}/cancel"),
            None,
        )
        .await;
    assert_eq!(c.check("post", "/api/messages/{id}/cancel", r).await.0, 409);
    let r = app
        .call(
            token,
            Method::POST,
            &format!("/api/messages/{answer}/regenerate"),
            None,
        )
        .await;
    let (_, regenerated) = c.check("post", "/api/messages/{id}/regenerate", r).await;
    let again = regenerated["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{again}/stream"), token).await;
    c.check("get", "/api/messages/{id}/stream", stream).await;
    sent
}

/// The question of `sent` edited (its new answer streamed) and refused a second edit; then the
/// messages of the conversation at `one`, and the conversations.
pub(crate) async fn edits_and_lists(
    app: &TestApp,
    c: &mut Checker,
    token: &str,
    one: &str,
    sent: &Value,
) {
    let question = sent["user_message"]["id"].as_str().unwrap();
    let edit_path = format!("/api/messages/{question}/edit");
    let edit = |content: &'static str| {
        app.call(
            token,
            Method::POST,
            &edit_path,
            Some(json!({ "content": content })),
        )
    };
    let (status, edited) = c
        .check("post", "/api/messages/{id}/edit", edit("hello again").await)
        .await;
    assert_eq!(status, 202);
    let edited_answer = edited["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{edited_answer}/stream"), token).await;
    c.check("get", "/api/messages/{id}/stream", stream).await;
    let again = c
        .check("post", "/api/messages/{id}/edit", edit("once more").await)
        .await;
    assert_eq!(again.0, 409, "replaced already");
    let r = get(app, &format!("{one}/messages?order=newest"), token).await;
    c.check("get", "/api/conversations/{id}/messages", r).await;
    let r = get(app, "/api/conversations", token).await;
    c.check("get", "/api/conversations", r).await;
}

/// A chat (streamed) and a message that starts a conversation; then the conversation at `one`
/// deleted and gone.
pub(crate) async fn chat_and_deletion(app: &TestApp, c: &mut Checker, token: &str, one: &str) {
    let r = app
        .call(
            token,
            Method::POST,
            "/api/chat",
            Some(json!({ "message": "hi there" })),
        )
        .await;
    let (_, chat) = c.check("post", "/api/chat", r).await;
    assert_eq!(chat[0]["type"], "meta");
    let r = app
        .call(
            token,
            Method::POST,
            "/api/messages",
            Some(json!({ "message": "a new conversation" })),
        )
        .await;
    let (status, sent) = c.check("post", "/api/messages", r).await;
    assert_eq!(status, 202);
    assert_ne!(sent["assistant_message"]["conversation_id"], json!(null));
    let r = app.call(token, Method::DELETE, one, None).await;
    assert_eq!(c.check("delete", "/api/conversations/{id}", r).await.0, 204);
    let r = get(app, one, token).await;
    assert_eq!(c.check("get", "/api/conversations/{id}", r).await.0, 404);
}
