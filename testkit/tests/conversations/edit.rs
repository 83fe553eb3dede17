//! Edit and resend: an edited question is a new question with a new answer, through the same
//! queue and stream; the question it replaced and everything after it stay readable (a branch
//! left behind) but leave the prompt; only questions of the current branch can be edited, and
//! not while an answer is being written.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, sse::answer_text, with_fake_openai};

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

fn turn(role: &str, content: &str) -> (String, String) {
    (role.into(), content.into())
}

async fn edit(
    app: &TestApp,
    token: &str,
    id: impl std::fmt::Display,
    content: &str,
) -> reqwest::Response {
    app.call(
        token,
        Method::POST,
        &format!("/api/messages/{id}/edit"),
        Some(json!({ "content": content })),
    )
    .await
}

#[tokio::test]
async fn an_edited_question_is_answered_from_the_history_before_it_and_the_old_branch_stays() {
    let fake = FakeOpenAi::start(4, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let first = app.send_answered(&token, conv, "first question").await;
    let second = app.send_answered(&token, conv, "second question").await;
    let third = app.send_answered(&token, conv, "third question").await;

    // Edit the second question: the third exchange goes with the old branch.
    let r = edit(&app, &token, second.user_message.id, "second, better").await;
    assert_eq!(r.status(), 202);
    let sent: Value = r.json().await.unwrap();
    assert_eq!(sent["user_message"]["content"], "second, better");
    assert_eq!(
        sent["user_message"]["edit_of"],
        json!(second.user_message.id)
    );
    let answer = &sent["assistant_message"];
    assert_eq!(answer["reply_to"], sent["user_message"]["id"]);
    let events = app
        .read_to_end(&token, sent["stream_url"].as_str().unwrap())
        .await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(4));
    // The new answer's prompt: the history before the edited question, then the new one.
    assert_eq!(
        turns(&fake, 3),
        [
            turn("user", "first question"),
            turn("assistant", &FakeOpenAi::reply(4)),
            turn("user", "second, better"),
        ]
    );

    // The old branch is still there, in order, marked superseded; the first exchange is not.
    let page = app
        .get_json(&token, &format!("/api/conversations/{conv}/messages"))
        .await;
    let listed: Vec<(String, bool)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_string(),
                m["superseded"] == true,
            )
        })
        .collect();
    let reply = FakeOpenAi::reply(4);
    assert_eq!(
        listed,
        [
            ("first question".to_string(), false),
            (reply.clone(), false),
            ("second question".to_string(), true),
            (reply.clone(), true),
            ("third question".to_string(), true),
            (reply.clone(), true),
            ("second, better".to_string(), false),
            (reply.clone(), false),
        ]
    );

    // A later send builds on the new branch only.
    app.send_answered(&token, conv, "fourth question").await;
    assert_eq!(
        turns(&fake, 4),
        [
            turn("user", "first question"),
            turn("assistant", &reply),
            turn("user", "second, better"),
            turn("assistant", &reply),
            turn("user", "fourth question"),
        ]
    );

    // A question of the branch left behind cannot be edited; nor can an answer.
    let r = edit(&app, &token, third.user_message.id, "again").await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_editable");
    let r = edit(&app, &token, first.assistant_message.id, "an answer").await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_a_question");
}

#[tokio::test]
async fn nothing_is_edited_while_an_answer_is_written_or_when_the_edit_is_bad() {
    let fake = FakeOpenAi::start(50, Duration::from_millis(40)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "a slow one").await;
    let r = edit(&app, &token, sent.user_message.id, "changed my mind").await;
    assert_eq!(r.status(), 409, "the answer is still being written");

    for (content, status, code) in [
        ("   ", 400, "empty_content"),
        (
            &"x".repeat(app.config.max_message_chars + 1) as &str,
            413,
            "content_too_large",
        ),
    ] {
        let r = edit(&app, &token, sent.user_message.id, content).await;
        assert_eq!(r.status(), status);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code);
    }
    let other = app.guest().await;
    let r = edit(&app, &other, sent.user_message.id, "not mine").await;
    assert_eq!(r.status(), 404, "another user's message is not found");
    // Nothing changed: two messages, neither superseded.
    let page = app
        .get_json(&token, &format!("/api/conversations/{conv}/messages"))
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|m| m["superseded"] == false));
}
