//! Titles: after a conversation's first answer, its model names it (the demo model by a rule:
//! the question's key words), every open tab hears a `title` event on the conversation's
//! stream, and a name the user gave is never overwritten.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{
    TestApp,
    fake_openai::FakeOpenAi,
    sse::{SseEvent, SseStream},
    with_fake_openai,
};

async fn next_named(feed: &mut SseStream, name: &str) -> SseEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = feed.next().await.expect("the stream stays open");
            if event.event == name {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event within 10 s"))
}

async fn title_of(app: &TestApp, token: &str, id: uuid::Uuid) -> Value {
    app.get_json(token, &format!("/api/conversations/{id}"))
        .await["title"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_answer_names_the_conversation_and_every_tab_hears_it() {
    let app = TestApp::spawn_configured(|c| c.worker.auto_titles = true).await;
    let token = app.guest().await;
    let id = app.create_conversation(&token).await;
    assert_eq!(title_of(&app, &token, id).await, Value::Null);
    let mut tab = app
        .sse(&token, &format!("/api/conversations/{id}/events"), None)
        .await;
    let mut account = app.sse(&token, "/api/events", None).await;
    app.send_answered(&token, id, "how do I plan the quarter?")
        .await;

    let heard = next_named(&mut tab, "title").await;
    assert_eq!(heard.data["title"], "Plan Quarter");
    assert_eq!(heard.data["conversation_id"], json!(id));
    let updated = next_named(&mut account, "conversation_updated").await;
    assert_eq!(updated.data["conversation"]["title"], "Plan Quarter");
    assert_eq!(title_of(&app, &token, id).await, "Plan Quarter");

    // Named once: a second answer leaves it (and a rename by the user is theirs to keep).
    app.send_answered(&token, id, "and the budget?").await;
    let r = app
        .call(
            &token,
            Method::PATCH,
            &format!("/api/conversations/{id}"),
            Some(json!({ "title": "Q3" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.send_answered(&token, id, "what about hiring?").await;
    assert_eq!(title_of(&app, &token, id).await, "Q3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_names_it_from_the_exchange_unless_the_user_already_did() {
    let fake = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let app =
        TestApp::spawn_with(with_fake_openai(&fake).and(|c| c.worker.auto_titles = true)).await;
    let token = app.guest().await;
    let id = app.create_conversation(&token).await;
    let mut tab = app
        .sse(&token, &format!("/api/conversations/{id}/events"), None)
        .await;
    app.send_answered(&token, id, "garden ideas for a small yard")
        .await;
    let heard = next_named(&mut tab, "title").await;
    // The fake answers every request with the same tokens: the title is its reply, cleaned.
    assert_eq!(heard.data["title"], "tok0 tok1 tok2");
    let asked = fake.prompts();
    let title_request = asked.last().unwrap();
    let system = title_request["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("You name conversations"), "{system}");
    let exchange = title_request["messages"][1]["content"].as_str().unwrap();
    assert!(
        exchange.contains("garden ideas for a small yard") && exchange.contains("tok0 tok1 tok2"),
        "question and answer both: {exchange}"
    );

    // Named by the user before the first answer ended: the model is never asked.
    let asked_before = fake.requests();
    let named = app
        .call(
            &token,
            Method::POST,
            "/api/conversations",
            Some(json!({ "title": "My garden" })),
        )
        .await;
    let named: Value = named.json().await.unwrap();
    let named_id: uuid::Uuid = named["id"].as_str().unwrap().parse().unwrap();
    app.send_answered(&token, named_id, "what grows in shade?")
        .await;
    // One request (the answer); no title job was queued for it.
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'title' AND idempotency_key = $1",
    )
    .bind(format!("title-{named_id}"))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(queued, 0);
    assert_eq!(fake.requests(), asked_before + 1);
    assert_eq!(title_of(&app, &token, named_id).await, "My garden");

    // A user with their own key for the provider: their exchange goes on no key of the
    // server's for a title; the first message's title stays, and no later answer asks again.
    let ada = app.register("own-key@example.com").await;
    let ada = ada["access_token"].as_str().unwrap();
    let key = json!({ "provider": "openai", "api_key": "sk-ada-own-key-0123456789" });
    let r = app
        .call(ada, Method::POST, "/api/provider-keys", Some(key))
        .await;
    assert_eq!(r.status(), 201);
    let sent = app
        .call(
            ada,
            Method::POST,
            "/api/messages",
            Some(json!({ "message": "soil for tomatoes" })),
        )
        .await;
    let sent: Value = sent.json().await.unwrap();
    let own: uuid::Uuid = sent["user_message"]["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let stream = sent["stream_url"].as_str().unwrap().to_string();
    app.read_to_end(ada, &stream).await;
    let asked_before = fake.requests();
    sluice_testkit::wait::until(
        "the title job to have run",
        Duration::from_secs(10),
        || async {
            sqlx::query_scalar::<_, String>("SELECT title_set_by FROM conversations WHERE id = $1")
                .bind(own)
                .fetch_one(&app.pool)
                .await
                .unwrap()
        },
        |by| by == "model",
    )
    .await;
    assert_eq!(fake.requests(), asked_before, "no title request");
    assert_eq!(title_of(&app, ada, own).await, "soil for tomatoes");
}
