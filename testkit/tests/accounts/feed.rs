//! The account feed (`GET /api/events`): every open tab and device of a user hears at once
//! that a conversation was started, renamed or deleted — and only its owner does. Deleting a
//! conversation also stops the answer it had under way: its stream ends with `cancelled`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sluice_testkit::{
    TestApp,
    sse::{SseEvent, SseStream},
};

/// The next named event within `within` (`None` if there is none by then).
async fn next_event(feed: &mut SseStream, within: Duration) -> Option<SseEvent> {
    tokio::time::timeout(within, async {
        loop {
            let event = feed.next().await?;
            if !event.event.is_empty() && event.event != "message" {
                return Some(event);
            }
        }
    })
    .await
    .ok()
    .flatten()
}

const SOON: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_feed_hears_a_conversation_started_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let owner = app.register("feed@example.com").await;
    let token = owner["access_token"].as_str().unwrap();
    let other = app.register("someone-else@example.com").await;
    let other_token = other["access_token"].as_str().unwrap();
    let mut tab_a = app.sse(token, "/api/events", None).await;
    let mut tab_b = app.sse(token, "/api/events", None).await;
    let mut stranger = app.sse(other_token, "/api/events", None).await;

    // Started by a first message (`POST /api/messages`): titled by it.
    let sent = app
        .call(
            token,
            Method::POST,
            "/api/messages",
            Some(json!({ "message": "Plan a **garden** for a small yard" })),
        )
        .await;
    assert_eq!(sent.status(), 202);
    let sent: serde_json::Value = sent.json().await.unwrap();
    let id = sent["user_message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    for feed in [&mut tab_a, &mut tab_b] {
        let event = next_event(feed, SOON).await.expect("conversation_created");
        assert_eq!(event.event, "conversation_created");
        assert_eq!(event.data["conversation"]["id"], json!(id));
        assert_eq!(
            event.data["conversation"]["title"],
            "Plan a garden for a small yard"
        );
    }

    let renamed = app
        .call(
            token,
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(json!({ "title": "Garden plans" })),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    for feed in [&mut tab_a, &mut tab_b] {
        let event = next_event(feed, SOON).await.expect("conversation_updated");
        assert_eq!(event.event, "conversation_updated");
        assert_eq!(event.data["conversation"]["title"], "Garden plans");
    }

    let deleted = app
        .call(
            token,
            Method::DELETE,
            &format!("/api/conversations/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    for feed in [&mut tab_a, &mut tab_b] {
        let event = next_event(feed, SOON).await.expect("conversation_deleted");
        assert_eq!(event.event, "conversation_deleted");
        assert_eq!(event.data["conversation_id"], json!(id));
    }
    assert_eq!(
        next_event(&mut stranger, Duration::from_millis(500)).await,
        None,
        "another user hears nothing of it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_conversation_ends_its_running_answer_with_cancelled_at_once() {
    // A long answer: about 60 ms a token.
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let owner = app.register("delete-running@example.com").await;
    let token = owner["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(token).await;
    let sent = app.send(token, conversation, "a long answer please").await;
    let mut answer = app.sse(token, &sent.stream_url, None).await;
    answer.until_tokens(3).await;

    let deleted = app
        .call(
            token,
            Method::DELETE,
            &format!("/api/conversations/{conversation}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let end = tokio::time::timeout(SOON, async {
        loop {
            let event = answer.next().await.expect("the stream ends with an event");
            if event.is_terminal() {
                return event;
            }
        }
    })
    .await
    .expect("the answer's stream ends within 2 s");
    assert_eq!(end.event, "cancelled");
    assert_eq!(answer.next().await, None, "and nothing after it");
    let gone = app
        .get(
            token,
            &format!("/api/messages/{}", sent.assistant_message.id),
        )
        .await;
    assert_eq!(gone.status(), 404, "the answer went with its conversation");
}

#[tokio::test]
async fn the_feed_needs_a_credential() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(app.url("/api/events")).await.unwrap();
    assert_eq!(response.status(), 401);
}

/// A lost device stops hearing of the account: the feed ends with its credential (here the
/// access token's expiry; a revoked session is found at the next check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_ends_when_its_access_token_expires() {
    let app = TestApp::spawn_configured(|c| c.access_token_ttl_secs = 2).await;
    let owner = app.register("expiring@example.com").await;
    let token = owner["access_token"].as_str().unwrap();
    let mut feed = app.sse(token, "/api/events", None).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while feed.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the feed ended after the token's 2 s");
}

#[tokio::test]
async fn a_stream_token_cannot_read_the_account_feed() {
    let app = TestApp::spawn().await;
    let owner = app.register("scoped@example.com").await;
    let token = owner["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(token).await;
    let scoped = app
        .stream_token(token, json!({ "conversation_id": conversation }))
        .await;
    let response = reqwest::get(app.url(&format!("/api/events?token={scoped}")))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
