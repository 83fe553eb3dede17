//! Cancelling an answer: the provider call stops, the partial text is kept.

use std::time::Duration;

use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, sse::answer_text, wait, with_fake_openai};

#[tokio::test]
async fn cancel_stops_the_provider_call_and_stores_the_partial_text() {
    let fake = FakeOpenAi::start(200, Duration::from_millis(20)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "long answer please").await;
    let mut stream = app.sse(&token, &sent.stream_url, None).await;
    let mut events = stream.until_tokens(3).await;
    let id = sent.assistant_message.id;
    let r = app.cancel(&token, id).await;
    assert_eq!(r.status(), 202);
    events.extend(stream.collect().await);
    assert_eq!(events.last().unwrap().event, "cancelled");

    let stored = app.message(&token, id).await;
    assert_eq!(stored["status"], "cancelled");
    let partial = stored["content"].as_str().unwrap();
    assert_eq!(
        partial,
        answer_text(&events),
        "the stored text is what the client saw"
    );
    assert!(partial.len() < FakeOpenAi::reply(200).len() && partial.starts_with("tok0 tok1 tok2 "));
    fake.wait_for_disconnected(1).await;
    assert_eq!(fake.completed(), 0);

    let again = app.cancel(&token, id).await;
    assert_eq!(again.status(), 409, "a finished answer cannot be cancelled");
}

#[tokio::test]
async fn cancelling_a_queued_answer_ends_its_stream_and_no_worker_answers_it() {
    // No worker runs: the answer stays queued until cancelled.
    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "never mind").await;
    let id = sent.assistant_message.id;
    let stream = app.sse(&token, &sent.stream_url, None).await;
    let r = app.cancel(&token, id).await;
    assert_eq!(r.status(), 202);
    let events = stream.collect().await;
    assert_eq!(
        events.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["cancelled"]
    );

    // A worker that starts later takes the job (its row leaves the queue once it ran) and
    // leaves the answer alone.
    assert_eq!(app.queue_rows().await, 1, "the job waits for a worker");
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(sluice_worker::run(app.config.clone(), shutdown.clone()));
    wait::until(
        "the worker to run the job",
        Duration::from_secs(10),
        || app.queue_rows(),
        |rows| *rows == 0,
    )
    .await;
    let stored = app.message(&token, id).await;
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["content"], "");
    shutdown.cancel();
}
