//! A worker process SIGKILLed mid-answer: another worker takes the job once the lease lapses,
//! clients see `reset` and then the whole answer, the conversation holds exactly one answer,
//! and the user's budget is charged for it once.

use std::time::Duration;

use sluice_testkit::{
    Options, TestApp, fake_openai::FakeOpenAi, sse::answer_text, with_fake_openai,
};
use sluice_worker::providers::demo::demo_reply;

const WORKER: &str = env!("CARGO_BIN_EXE_sluice-test-worker");

#[tokio::test]
async fn a_killed_worker_s_job_is_finished_by_another_with_one_answer() {
    let app = TestApp::spawn_with(Options {
        in_process_worker: false,
        configure: Box::new(|c| {
            c.demo.pacing_ms = 40;
            c.demo.reply_tokens = 30;
        }),
    })
    .await;
    let mut doomed = app.worker_process(WORKER);
    let token = app.guest().await;
    // A limit of the user's: the answer is reserved against a budget, and settled once.
    let me = app.get_json(&token, "/api/auth/me").await;
    sqlx::query("INSERT INTO limits (user_id, tokens_per_day) VALUES ($1::uuid, 1000000)")
        .bind(me["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "survive a crash").await;
    let mut stream = app.sse(&token, &sent.stream_url, None).await;
    // Tokens flow from the first worker.
    let mut events = stream.until_tokens(5).await;
    doomed.kill().expect("SIGKILL the worker");
    doomed.wait().expect("reap it");

    let mut rescuer = app.worker_process(WORKER);
    // The same client connection carries on: reset, then the new attempt's whole answer.
    events.extend(stream.collect().await);
    rescuer.kill().ok();
    rescuer.wait().ok();

    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let reset_at = kinds
        .iter()
        .position(|k| *k == "reset")
        .expect("a reset event");
    assert_eq!(events[reset_at].data["attempt"], 2);
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(kinds.iter().filter(|k| **k == "done").count(), 1);
    let expected = demo_reply("survive a crash", 30).concat();
    assert_eq!(answer_text(&events), expected);

    let stored = app.message(&token, sent.assistant_message.id).await;
    assert_eq!(stored["status"], "done");
    assert_eq!(stored["attempt"], 2);
    assert_eq!(stored["content"], expected);
    let listed: serde_json::Value = app
        .get_json(&token, &format!("/api/conversations/{conv}/messages"))
        .await;
    let roles: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"], "exactly one answer");

    // Charged once: the retry settled the one reservation to the answer's real usage.
    let (tokens, in_flight): (i64, i32) =
        sqlx::query_as("SELECT day_tokens, in_flight FROM budgets WHERE subject = $1::uuid")
            .bind(me["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let used = stored["usage"]["input_tokens"].as_i64().unwrap()
        + stored["usage"]["output_tokens"].as_i64().unwrap();
    assert_eq!(
        (tokens, in_flight),
        (used, 0),
        "one answer's usage, nothing in flight"
    );

    // A late reader replays the same story from the stream: first attempt, reset, second attempt.
    let replay = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let kinds: Vec<&str> = replay.iter().map(|e| e.event.as_str()).collect();
    let reset_at = kinds
        .iter()
        .position(|k| *k == "reset")
        .expect("the reset replayed");
    assert!(
        kinds[..reset_at].contains(&"token"),
        "the first attempt's tokens come before the reset: {kinds:?}"
    );
    assert_eq!(replay[reset_at].data["attempt"], 2);
    assert!(
        kinds[reset_at..].contains(&"token") && kinds.last() == Some(&"done"),
        "then the second attempt's, to its end: {kinds:?}"
    );
    assert_eq!(answer_text(&replay), expected);
}

/// A worker process runs with the test's whole configuration, secrets included: here a model
/// and a provider (with its key) that exist only in the test's config.
#[tokio::test]
async fn a_worker_process_gets_the_whole_test_configuration() {
    let fake = FakeOpenAi::start(6, Duration::ZERO).await;
    let app = TestApp::spawn_with(Options {
        in_process_worker: false,
        ..with_fake_openai(&fake)
    })
    .await;
    let mut worker = app.worker_process(WORKER);
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "configured?").await;
    let events = app.read_to_end(&token, &sent.stream_url).await;
    worker.kill().ok();
    worker.wait().ok();
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    assert_eq!(answer_text(&events), FakeOpenAi::reply(6));
    assert_eq!(fake.headers()[0]["authorization"], "Bearer fake-key");
}
