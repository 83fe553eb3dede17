//! Regenerate: a new answer to the same question as a new message, through the same queue and
//! stream; the earlier answer stays readable but leaves the prompt; only the latest, ended
//! answer can be regenerated.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, sse::answer_text, with_fake_openai};
use uuid::Uuid;

/// The (role, content) turns of the `n`th prompt the provider received, system prompt dropped.
fn turns(fake: &FakeOpenAi, n: usize) -> Vec<(String, String)> {
    fake.prompts()[n]["messages"].as_array().unwrap()[1..]
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().into(),
                m["content"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn regenerating_streams_a_second_answer_and_keeps_the_first_out_of_the_prompt() {
    let fake = FakeOpenAi::start(4, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let first = app.send_answered(&token, conv, "first question").await;

    let r = app
        .call(
            &token,
            Method::POST,
            &format!("/api/messages/{}/regenerate", first.assistant_message.id),
            None,
        )
        .await;
    assert_eq!(r.status(), 202);
    let regenerated: Value = r.json().await.unwrap();
    let second_id = regenerated["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second_id, first.assistant_message.id.to_string());
    assert_eq!(
        regenerated["assistant_message"]["reply_to"],
        first.user_message.id.to_string(),
        "the same question"
    );
    let stream_url = regenerated["stream_url"].as_str().unwrap();
    let events = app.read_to_end(&token, stream_url).await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(4));
    // The regenerated answer's prompt ends with the question, without the first answer.
    assert_eq!(
        turns(&fake, 1),
        [("user".to_string(), "first question".to_string())]
    );

    // Both answers are listed; the first is marked superseded.
    let page = app
        .get_json(&token, &format!("/api/conversations/{conv}/messages"))
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["superseded"], true);
    assert_eq!(items[2]["superseded"], false);
    assert_eq!(items[2]["status"], "done");

    // The next turn's history holds the question once, with the newer answer only.
    app.send_answered(&token, conv, "second question").await;
    let reply = FakeOpenAi::reply(4);
    assert_eq!(
        turns(&fake, 2),
        [
            ("user".to_string(), "first question".to_string()),
            ("assistant".to_string(), reply),
            ("user".to_string(), "second question".to_string()),
        ]
    );
}

#[tokio::test]
async fn only_the_latest_ended_answer_can_be_regenerated() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 50).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let first = app.send(&token, conv, "one").await;
    // The status a regenerate request for `id` by `who` gets.
    let regenerate = |who: String, id: Uuid| {
        let app = &app;
        async move {
            let path = format!("/api/messages/{id}/regenerate");
            app.call(&who, Method::POST, &path, None).await.status()
        }
    };
    assert_eq!(
        regenerate(token.clone(), first.assistant_message.id).await,
        409,
        "still running"
    );
    app.read_to_end(&token, &first.stream_url).await;
    let second = app.send_answered(&token, conv, "two").await;
    assert_eq!(
        regenerate(token.clone(), first.assistant_message.id).await,
        409,
        "not the latest any more"
    );
    assert_eq!(
        regenerate(token.clone(), second.user_message.id).await,
        422,
        "a question is not an answer"
    );
    let stranger = app.guest().await;
    assert_eq!(
        regenerate(stranger, second.assistant_message.id).await,
        404,
        "another user's"
    );
    let answers: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'assistant'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(answers, 2, "no answer was added");
    assert_eq!(app.queue_rows().await, 0, "no job was queued");
}

/// A regenerate or an edit racing the deletion of its conversation is either done first (202)
/// or finds the message gone (404): never "not regenerable", which would send a client
/// looking for a reason that is not there.
#[tokio::test]
async fn regenerating_or_editing_while_the_conversation_is_deleted_is_202_or_404() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    for round in 0..12 {
        let conv = app.create_conversation(&token).await;
        let sent = app.send_answered(&token, conv, "race me").await;
        let (path, body) = if round % 2 == 0 {
            let id = sent.assistant_message.id;
            (format!("/api/messages/{id}/regenerate"), None)
        } else {
            let id = sent.user_message.id;
            let body = serde_json::json!({ "content": "race me, edited" });
            (format!("/api/messages/{id}/edit"), Some(body))
        };
        let conversation = format!("/api/conversations/{conv}");
        let delete = app.call(&token, Method::DELETE, &conversation, None);
        let again = app.call(&token, Method::POST, &path, body);
        let (deleted, again) = tokio::join!(delete, again);
        assert_eq!(deleted.status(), 204);
        let status = again.status().as_u16();
        let body = again.text().await.unwrap();
        assert!(
            status == 202 || status == 404,
            "round {round}: {path} answered {status} {body}"
        );
    }
}
