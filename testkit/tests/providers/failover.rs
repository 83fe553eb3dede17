//! Routing a model across deployments (`[models.X] fallbacks`): the first that answers serves;
//! one that fails hands the answer to the next — before its first token quietly, after it with
//! a `reset` — and the client still sees exactly one answer. A deployment that keeps failing
//! rests, and is tried again after its cooldown.

use std::time::Duration;

use sluice_shared::config::{Deployment, ProviderKind};
use sluice_testkit::{
    SseEvent, TestApp,
    fake_openai::{FakeOpenAi, Fault},
    sse::answer_text,
    with_fake_openai,
};

/// `fake-gpt` served by `first`, falling back to `second`; a deployment rests after
/// `breaker_failures` failures in a row, for 1 s.
async fn stack(first: &FakeOpenAi, second: &FakeOpenAi, breaker_failures: u32) -> TestApp {
    let fallback = second.base_url.clone();
    let options = with_fake_openai(first).and(move |c| {
        c.models.get_mut("fake-gpt").unwrap().fallbacks = vec![Deployment {
            provider: ProviderKind::Openai,
            upstream_model: Some("gpt-fake-2".into()),
            base_url: Some(fallback),
            api_key_env: None,
        }];
        c.worker.breaker_failures = breaker_failures;
        c.worker.breaker_cooldown_secs = 1;
    });
    TestApp::spawn_with(options).await
}

/// One question to `fake-gpt`: its events and the stored answer.
async fn ask(app: &TestApp) -> (Vec<SseEvent>, serde_json::Value) {
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "route me").await;
    let events = app.read_to_end(&token, &sent.stream_url).await;
    (events, app.message(&token, sent.assistant_message.id).await)
}

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

fn count(events: &[SseEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.event == kind).count()
}

#[tokio::test]
async fn a_deployment_failing_before_its_first_token_hands_the_answer_to_the_next() {
    let (a, b) = (
        FakeOpenAi::start(4, Duration::ZERO).await,
        FakeOpenAi::start(4, Duration::ZERO).await,
    );
    b.set_reply("answered by the fallback");
    let app = stack(&a, &b, 3).await;
    for _ in 0..3 {
        a.push_fault(Fault::ServerError);
    }
    let (events, stored) = ask(&app).await;
    assert_eq!(answer_text(&events), "answered by the fallback");
    assert_eq!(
        count(&events, "reset"),
        0,
        "nothing to take back: {:?}",
        kinds(&events)
    );
    assert_eq!(stored["content"], "answered by the fallback");
    assert_eq!(
        (a.requests(), b.requests()),
        (3, 1),
        "A with its retries, then B"
    );
    assert_eq!(
        b.prompts()[0]["model"],
        "gpt-fake-2",
        "the fallback's own model name"
    );
}

#[tokio::test]
async fn a_deployment_failing_mid_answer_restarts_it_on_the_next_after_a_reset() {
    let (a, b) = (
        FakeOpenAi::start(20, Duration::from_millis(10)).await,
        FakeOpenAi::start(4, Duration::ZERO).await,
    );
    b.set_reply("the whole answer, from B");
    let app = stack(&a, &b, 3).await;
    a.push_fault(Fault::DropAfter(10));
    let (events, stored) = ask(&app).await;
    let kinds = kinds(&events);
    let reset = kinds.iter().position(|k| *k == "reset").expect("a reset");
    assert!(
        kinds[..reset].contains(&"token"),
        "A's text came first: {kinds:?}"
    );
    assert_eq!(count(&events, "reset"), 1);
    assert_eq!(count(&events, "done"), 1);
    assert_eq!(kinds.last(), Some(&"done"));
    assert_eq!(answer_text(&events), "the whole answer, from B");
    assert_eq!(
        stored["content"], "the whole answer, from B",
        "A's text is not kept"
    );
}

#[tokio::test]
async fn every_deployment_down_is_one_retryable_error() {
    let (a, b) = (
        FakeOpenAi::start(4, Duration::ZERO).await,
        FakeOpenAi::start(4, Duration::ZERO).await,
    );
    let app = stack(&a, &b, 3).await;
    for _ in 0..3 {
        a.push_fault(Fault::ServerError);
        b.push_fault(Fault::ServerError);
    }
    let (events, stored) = ask(&app).await;
    let terminal: Vec<&SseEvent> = events.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(terminal.len(), 1);
    assert_eq!(terminal[0].event, "error");
    assert_eq!(terminal[0].data["code"], "upstream_error");
    assert_eq!(terminal[0].data["retryable"], true);
    assert_eq!(stored["status"], "error");
}

#[tokio::test]
async fn a_deployment_that_keeps_failing_rests_and_is_tried_again_after_its_cooldown() {
    let (a, b) = (
        FakeOpenAi::start(4, Duration::ZERO).await,
        FakeOpenAi::start(4, Duration::ZERO).await,
    );
    let app = stack(&a, &b, 1).await;
    for _ in 0..3 {
        a.push_fault(Fault::ServerError);
    }
    let (events, _) = ask(&app).await;
    assert_eq!(kinds(&events).last(), Some(&"done"));
    assert_eq!((a.requests(), b.requests()), (3, 1));

    // Resting: B serves at once, A is not asked.
    let (events, _) = ask(&app).await;
    assert_eq!(kinds(&events).last(), Some(&"done"));
    assert_eq!((a.requests(), b.requests()), (3, 2), "A rests");

    // The cooldown (1 s) is the scenario's time, not a wait for something.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (events, _) = ask(&app).await;
    assert_eq!(kinds(&events).last(), Some(&"done"));
    assert_eq!((a.requests(), b.requests()), (4, 2), "A is back");
}
