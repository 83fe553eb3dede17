//! The OpenAI-compatible provider against a fake upstream that streams real chunks and can be
//! told to rate-limit, fail, stall or drop the connection.

use std::time::{Duration, Instant};

use sluice_testkit::{
    TestApp,
    fake_openai::{FakeOpenAi, Fault},
    sse::answer_text,
    with_fake_openai,
};

async fn ask(app: &TestApp, prompt: &str) -> (Vec<sluice_testkit::SseEvent>, serde_json::Value) {
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, prompt).await;
    let events = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let stored = app.message(&token, sent.assistant_message.id).await;
    (events, stored)
}

#[tokio::test]
async fn an_openai_compatible_stream_is_relayed_with_its_usage() {
    let fake = FakeOpenAi::start(16, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (events, stored) = ask(&app, "hi upstream").await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(16));
    assert_eq!(stored["content"], FakeOpenAi::reply(16));
    assert_eq!(
        stored["usage"]["output_tokens"], 16,
        "usage comes from the provider"
    );
    let start = events.iter().find(|e| e.event == "start").unwrap();
    assert_eq!(start.data["provider"], "openai");
    assert_eq!(
        stored["provider"], "openai",
        "the stored answer names its provider"
    );
    // The prompt carried the system prompt and the user's message, with the upstream model name.
    let prompt = &fake.prompts()[0];
    assert_eq!(prompt["model"], "gpt-fake-1");
    assert_eq!(prompt["stream"], true);
    assert_eq!(prompt["messages"][0]["role"], "system");
    assert_eq!(prompt["messages"][1]["content"], "hi upstream");
}

#[tokio::test]
async fn history_is_sent_with_the_next_message() {
    let fake = FakeOpenAi::start(4, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let first = app.send(&token, conv, "first question").await;
    app.sse(&token, &first.stream_url, None)
        .await
        .collect()
        .await;
    let second = app.send(&token, conv, "second question").await;
    app.sse(&token, &second.stream_url, None)
        .await
        .collect()
        .await;
    let messages = fake.prompts()[1]["messages"].as_array().unwrap().clone();
    let turns: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        turns[1..],
        [
            ("user", "first question"),
            ("assistant", FakeOpenAi::reply(4).as_str()),
            ("user", "second question")
        ]
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    fake.push_fault(Fault::RateLimit {
        retry_after_secs: 1,
    });
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let started = Instant::now();
    let (events, stored) = ask(&app, "busy?").await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(fake.requests(), 2);
    assert_eq!(answer_text(&events), FakeOpenAi::reply(8));
    assert_eq!(stored["status"], "done");
}

#[tokio::test]
async fn server_errors_before_the_first_token_are_retried_until_the_limit() {
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    fake.push_fault(Fault::ServerError);
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (events, _) = ask(&app, "once flaky").await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(8));

    for _ in 0..3 {
        fake.push_fault(Fault::ServerError);
    }
    let (events, stored) = ask(&app, "always down").await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "upstream_error");
    assert_eq!(stored["status"], "error");
    assert_eq!(
        fake.requests(),
        2 + 3,
        "one retry for the first, max_retries + 1 tries for the second"
    );
}

#[tokio::test]
async fn a_stalled_upstream_ends_in_a_timeout_error() {
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    for _ in 0..3 {
        fake.push_fault(Fault::Stall);
    }
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (events, stored) = ask(&app, "anyone there?").await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "upstream_timeout");
    assert_eq!(stored["status"], "error");
    assert_eq!(fake.disconnected(), 3, "each stalled call was hung up on");
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_keeps_the_partial_text_and_reports_an_error() {
    // Paced, so the three tokens reach the worker before the connection breaks.
    let fake = FakeOpenAi::start(8, Duration::from_millis(30)).await;
    fake.push_fault(Fault::DropAfter(3));
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (events, stored) = ask(&app, "drop me").await;
    assert_eq!(
        answer_text(&events),
        "tok0 tok1 tok2 ",
        "{events:#?} requests={}",
        fake.requests()
    );
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "upstream_disconnected");
    assert_eq!(stored["status"], "error");
    assert_eq!(stored["content"], "tok0 tok1 tok2 ");
    assert_eq!(
        fake.requests(),
        1,
        "tokens were shown: no silent retry that would repeat them"
    );
}

#[tokio::test]
async fn an_answer_over_the_time_limit_ends_with_a_timeout_and_frees_the_upstream() {
    let fake = FakeOpenAi::start(100, Duration::from_millis(50)).await;
    let mut options = with_fake_openai(&fake);
    let configure = options.configure;
    options.configure = Box::new(move |c| {
        configure(c);
        c.worker.job_timeout_secs = 1;
    });
    let app = TestApp::spawn_with(options).await;
    let (events, stored) = ask(&app, "take your time").await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "timeout");
    assert_eq!(stored["status"], "error");
    assert!(
        !stored["content"].as_str().unwrap().is_empty(),
        "the partial answer is kept"
    );
    fake.wait_for_disconnected(1).await;
}

#[tokio::test]
async fn a_burst_shares_events_and_a_paced_provider_gets_one_event_per_token() {
    let token_events = |events: &[sluice_testkit::SseEvent]| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e.event == "token")
            .map(|e| e.data["seq"].as_u64().unwrap())
            .collect()
    };
    // 400 tokens with no pause: deltas that arrive while earlier events await their acks go
    // out together. Nothing is lost or reordered, and seq still counts events from 0.
    let fast = FakeOpenAi::start(400, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fast)).await;
    let (events, stored) = ask(&app, "burst").await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(400));
    assert_eq!(stored["content"], FakeOpenAi::reply(400));
    let seqs = token_events(&events);
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(seqs.len() < 400, "a burst shares events: {}", seqs.len());

    // A provider slower than NATS (every real model) gets each delta as its own event. 50 ms
    // apart, while an ack takes ~0.2 ms: two deltas share an event only if an ack took 250
    // times longer than measured, which even a stalled CI machine does not.
    let paced = FakeOpenAi::start(10, Duration::from_millis(50)).await;
    let app = TestApp::spawn_with(with_fake_openai(&paced)).await;
    let (events, _) = ask(&app, "paced").await;
    assert_eq!(token_events(&events), (0..10).collect::<Vec<_>>());
    assert_eq!(answer_text(&events), FakeOpenAi::reply(10));
}

/// Usage is the provider's own count, priced by the model's price in config; where the
/// provider sends none, Sluice estimates it and says so.
#[tokio::test]
async fn usage_is_the_provider_s_or_an_estimate_marked_as_one_and_priced() {
    let fake = FakeOpenAi::start(10, Duration::ZERO).await;
    let price = sluice_shared::config::ModelPrice {
        input_per_mtok: 2.0,
        output_per_mtok: 8.0,
    };
    let options = with_fake_openai(&fake).and(move |c| {
        c.models.get_mut("fake-gpt").unwrap().price = Some(price);
    });
    let app = TestApp::spawn_with(options).await;
    let (_, stored) = ask(&app, "price me").await;
    assert_eq!(stored["usage_estimated"], false);
    let input = stored["usage"]["input_tokens"].as_u64().unwrap();
    assert_eq!(stored["usage"]["output_tokens"], 10);
    let cost = stored["cost_usd"].as_f64().unwrap();
    assert!((cost - price.cost(input as u32, 10)).abs() < 1e-6, "{cost}");

    fake.omit_usage();
    let (events, stored) = ask(&app, "no usage here").await;
    assert_eq!(stored["usage_estimated"], true);
    assert!(stored["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(stored["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(stored["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(events.last().unwrap().event, "done");
}
