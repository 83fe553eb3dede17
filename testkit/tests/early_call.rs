//! The provider call opens while the worker's claim runs (`worker/src/chat_job/early.rs`):
//! with the claim held up, the upstream already has the request; once the claim goes through,
//! that one call serves the answer. When the claim finds the answer over, the early call is
//! aborted and nothing is published.

use std::time::Duration;

use sluice_testkit::{
    Options, TestApp,
    fake_openai::{FakeOpenAi, Fault},
    sse::answer_text,
    wait, with_fake_openai,
};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

/// A stack with the fake upstream and no worker yet: jobs wait in the queue.
async fn stack(fake: &FakeOpenAi) -> TestApp {
    TestApp::spawn_with(Options {
        in_process_worker: false,
        ..with_fake_openai(fake)
    })
    .await
}

/// Holds every write to `messages` (the claim is one) until the returned connection commits.
async fn hold_message_writes(app: &TestApp) -> sqlx::PgConnection {
    let url = secrecy::ExposeSecret::expose_secret(&app.config.database_url).to_string();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE messages IN SHARE MODE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn status(app: &TestApp, id: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_upstream_has_the_request_before_the_claim_and_one_call_serves_the_answer() {
    let fake = FakeOpenAi::start(8, Duration::from_millis(2)).await;
    let app = stack(&fake).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app.send(&token, conversation, "be quick").await;
    let answer = sent.assistant_message.id;

    let mut held = hold_message_writes(&app).await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(sluice_worker::run(app.config.clone(), shutdown.clone()));
    wait::until(
        "the upstream got the request",
        Duration::from_secs(15),
        || async { fake.requests() },
        |n| *n == 1,
    )
    .await;
    // The claim has not gone through: the answer is still queued.
    assert_eq!(status(&app, answer).await, "queued");

    sqlx::raw_sql("COMMIT").execute(&mut held).await.unwrap();
    let events = app.read_to_end(&token, &sent.stream_url).await;
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    assert!(!answer_text(&events).is_empty());
    assert_eq!(fake.requests(), 1, "the early call served the answer");
    assert_eq!(status(&app, answer).await, "done");
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_answer_over_before_its_claim_aborts_the_early_call_and_publishes_nothing() {
    // Headers, then silence: the early call is still open when the claim settles.
    let fake = FakeOpenAi::start(8, Duration::from_millis(2)).await;
    fake.push_fault(Fault::Stall);
    let app = stack(&fake).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app.send(&token, conversation, "never mind").await;
    let answer = sent.assistant_message.id;

    let mut held = hold_message_writes(&app).await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(sluice_worker::run(app.config.clone(), shutdown.clone()));
    wait::until(
        "the upstream got the request",
        Duration::from_secs(15),
        || async { fake.requests() },
        |n| *n == 1,
    )
    .await;
    // The answer ends (as a cancel of a queued answer does) before the claim gets to it.
    sqlx::query("UPDATE messages SET status = 'cancelled', completed_at = now() WHERE id = $1")
        .bind(answer)
        .execute(&mut held)
        .await
        .unwrap();
    sqlx::raw_sql("COMMIT").execute(&mut held).await.unwrap();

    fake.wait_for_disconnected(1).await;
    assert_eq!(fake.requests(), 1);
    assert_eq!(status(&app, answer).await, "cancelled");
    let subjects = sluice_shared::subjects::Subjects::new(&app.config.nats_prefix);
    let events = async_nats::jetstream::new(app.nats.clone())
        .get_stream(subjects.stream_name())
        .await
        .unwrap();
    let published = events
        .direct_get_last_for_subject(subjects.message(conversation, answer))
        .await;
    assert!(published.is_err(), "nothing was published for the answer");
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}
