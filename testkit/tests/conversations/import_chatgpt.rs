//! ChatGPT's data export, generated here as its export writes it, imported as its app showed
//! it: the branch last shown of a tree with branches, messages without metadata or time, hidden
//! and tool messages left out, the newer zip of several conversation files beside files that
//! are not conversations, and the older conversations.json alone.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chatgpt_export::chatgpt_conversation, uploads::zip_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatgpt_export_imports_the_branch_its_app_showed() {
    let app = TestApp::spawn().await;
    let ada = app.guest().await;
    // The newer export: a zip of several conversation files beside files that are not ones.
    let first = json!([chatgpt_conversation("Travel", 1_700_000_000.0)]);
    let second = json!([
        chatgpt_conversation("Travel again", 1_700_100_000.0),
        chatgpt_conversation("Third", 1_700_200_000.0)
    ]);
    let zip = zip_of(&[
        (
            "conversations-000.json",
            serde_json::to_vec(&first).unwrap(),
        ),
        (
            "conversations-001.json",
            serde_json::to_vec(&second).unwrap(),
        ),
        (
            "user.json",
            br#"{"id": "user-1", "email": "ada@example.com"}"#.to_vec(),
        ),
        (
            "shared_conversations.json",
            br#"[{"id": "s1", "conversation_id": "c-1"}]"#.to_vec(),
        ),
        ("chat.html", b"<html></html>".to_vec()),
    ])
    .await;
    let r = app
        .post_form(&ada, "/api/import", "chatgpt.zip", &zip)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let out: Value = r.json().await.unwrap();
    let ids = out["conversation_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    let id = ids[0].as_str().unwrap();
    let doc = app
        .get_json(&ada, &format!("/api/conversations/{id}/export"))
        .await;
    assert_eq!(doc["conversation"]["title"], "Travel");
    assert_eq!(doc["conversation"]["created_at"], "2023-11-14T22:13:20Z");
    let shown: Vec<(&str, &str)> = doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("user", "Where should I travel?"),
            (
                "assistant",
                "Rome, in spring.\n\nFlights are cheap in April."
            ),
            ("user", "And this photo?"),
            ("assistant", "A lovely photo."),
        ],
        "the branch last shown; hidden, system, tool and code messages left out"
    );
    let answer = &doc["messages"][1];
    assert_eq!(
        (answer["model"].as_str(), answer["status"].as_str()),
        (Some("gpt-4o"), Some("done"))
    );
    assert_eq!(answer["reply_to"], doc["messages"][0]["id"]);
    // The message without a time takes the one before it: order holds.
    assert!(doc["messages"][2]["created_at"].as_str() >= answer["created_at"].as_str());
    // The conversation is on this server's model, and goes on.
    assert_eq!(doc["conversation"]["model"], "demo");
    let next = app.send_answered(&ada, id.parse().unwrap(), "thanks").await;
    assert_eq!(
        app.message(&ada, next.assistant_message.id).await["status"],
        "done"
    );

    // The older export: conversations.json alone.
    let bob = app.guest().await;
    let r = app
        .post_body(
            &bob,
            "/api/import",
            "application/json",
            serde_json::to_vec(&second).unwrap(),
        )
        .await;
    assert_eq!(r.status(), 201);
    let list = app.get_json(&bob, "/api/conversations").await;
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Third", "Travel again"],
        "newest first, by their own dates"
    );
}
