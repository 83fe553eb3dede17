//! Anthropic's and Gemini's streaming formats, each against the fake upstream speaking the
//! vendor's real wire format: the request as the vendor expects it, the answer and the
//! provider's own usage, and the failures each vendor has (rate limits, overload, a stream that
//! drops, stalls or breaks its format).

use std::time::Duration;

use serde_json::{Value, json};
use sluice_shared::config::ProviderKind;
use sluice_testkit::{
    TestApp,
    fake_openai::{FakeOpenAi, Fault},
    sse::answer_text,
    with_fake_provider,
};

/// A stack whose default model is served by `vendor` through the fake, retrying up to 3 times.
async fn stack(vendor: ProviderKind, tokens: u32) -> (TestApp, FakeOpenAi) {
    let fake = FakeOpenAi::start(tokens, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_provider(&fake, vendor).and(|c| {
        c.system_prompt = "Be kind.".into();
        c.anthropic.max_retries = 3;
        c.gemini.max_retries = 3;
    }))
    .await;
    (app, fake)
}

/// Two turns, so the request carries history: (events of the second answer, its stored row).
async fn converse(app: &TestApp) -> (Vec<sluice_testkit::SseEvent>, Value) {
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    app.send_answered(&token, conv, "first question").await;
    let sent = app.send(&token, conv, "second question").await;
    let events = app.read_to_end(&token, &sent.stream_url).await;
    (events, app.message(&token, sent.assistant_message.id).await)
}

#[tokio::test]
async fn anthropic_messages_are_asked_and_read_in_anthropic_s_format() {
    let (app, fake) = stack(ProviderKind::Anthropic, 7).await;
    let (events, stored) = converse(&app).await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(7));
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(stored["provider"], "anthropic");
    assert_eq!(
        stored["usage"]["output_tokens"], 7,
        "the provider's own count"
    );
    assert!(stored["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        stored["finish_reason"], "stop",
        "end_turn, in OpenAI's words"
    );

    let asked = fake.prompts().pop().unwrap();
    assert_eq!(asked["model"], "gpt-fake-1");
    assert_eq!(
        asked["system"], "Be kind.",
        "the system prompt is its own field"
    );
    assert_eq!(asked["stream"], true);
    assert_eq!(asked["max_tokens"], 256);
    let roles: Vec<&str> = asked["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    let headers = fake.headers().pop().unwrap();
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(headers["x-api-key"], "fake-key");
}

#[tokio::test]
async fn gemini_content_is_asked_and_read_in_gemini_s_format() {
    let (app, fake) = stack(ProviderKind::Gemini, 6).await;
    let (events, stored) = converse(&app).await;
    assert_eq!(answer_text(&events), FakeOpenAi::reply(6));
    assert_eq!(stored["provider"], "gemini");
    assert_eq!(stored["usage"]["output_tokens"], 6);
    assert!(stored["usage"]["input_tokens"].as_u64().unwrap() > 0);

    let asked = fake.prompts().pop().unwrap();
    assert_eq!(asked["model"], "gpt-fake-1", "the model is in the path");
    assert_eq!(
        asked["systemInstruction"],
        json!({"parts": [{"text": "Be kind."}]})
    );
    let roles: Vec<&str> = asked["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    assert_eq!(asked["generationConfig"]["maxOutputTokens"], 256);
    assert_eq!(fake.headers().pop().unwrap()["x-goog-api-key"], "fake-key");
}

/// Failures before the first token are retried (429 honouring Retry-After, overload in the
/// vendor's own words); the client sees one clean answer.
#[tokio::test]
async fn rate_limits_and_overload_before_the_first_token_are_retried() {
    for vendor in [ProviderKind::Anthropic, ProviderKind::Gemini] {
        let (app, fake) = stack(vendor, 5).await;
        fake.push_fault(Fault::RateLimit {
            retry_after_secs: 1,
        });
        fake.push_fault(Fault::Overloaded);
        fake.push_fault(Fault::ErrorEventAfter(0));
        let token = app.guest().await;
        let conv = app.create_conversation(&token).await;
        let sent = app.send(&token, conv, "eventually").await;
        let events = app.read_to_end(&token, &sent.stream_url).await;
        let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds.last(), Some(&"done"), "{vendor:?}: {kinds:?}");
        assert_eq!(answer_text(&events), FakeOpenAi::reply(5), "{vendor:?}");
        assert_eq!(
            fake.requests(),
            4,
            "{vendor:?}: three failures, then the answer"
        );
    }
}

/// After the first token a failure ends the answer with an error naming what broke.
#[tokio::test]
async fn a_stream_that_breaks_after_text_ends_the_answer_with_the_reason() {
    let cases = [
        (Fault::DropAfter(3), "upstream_disconnected"),
        (Fault::MalformedAfter(3), "upstream_protocol"),
        (Fault::ErrorEventAfter(3), "upstream_overloaded"),
    ];
    for vendor in [ProviderKind::Anthropic, ProviderKind::Gemini] {
        for (fault, code) in cases.clone() {
            let (app, fake) = stack(vendor, 10).await;
            // Paced, so the text before the break reaches the worker before the break does.
            fake.set_pacing(Duration::from_millis(20));
            fake.push_fault(fault.clone());
            let token = app.guest().await;
            let conv = app.create_conversation(&token).await;
            let sent = app.send(&token, conv, "break").await;
            let events = app.read_to_end(&token, &sent.stream_url).await;
            let last = events.last().unwrap();
            assert_eq!(last.event, "error", "{vendor:?} {fault:?}: {events:?}");
            let expected = match (vendor, code) {
                // Gemini reports overload as an error object, not a type of its own.
                (ProviderKind::Gemini, "upstream_overloaded") => "upstream_error",
                _ => code,
            };
            assert_eq!(last.data["code"], expected, "{vendor:?} {fault:?}");
            assert!(
                answer_text(&events).starts_with("tok0 tok1 tok2 "),
                "the text so far stays: {vendor:?} {fault:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let (app, fake) = stack(ProviderKind::Anthropic, 5).await;
    for _ in 0..4 {
        fake.push_fault(Fault::Stall);
    }
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "anyone?").await;
    let events = app.read_to_end(&token, &sent.stream_url).await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["code"], "upstream_timeout");
    assert_eq!(last.data["retryable"], true);
}

/// A request whose response does not even begin is given up after `first_byte_timeout_secs`
/// and retried.
#[tokio::test]
async fn a_response_that_never_begins_is_retried_after_the_first_byte_timeout() {
    let fake = FakeOpenAi::start(4, Duration::ZERO).await;
    let options = with_fake_provider(&fake, ProviderKind::Anthropic)
        .and(|c| c.anthropic.first_byte_timeout_secs = 1);
    let app = TestApp::spawn_with(options).await;
    fake.push_fault(Fault::NoResponse);
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "hello?").await;
    let events = app.read_to_end(&token, &sent.stream_url).await;
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(answer_text(&events), FakeOpenAi::reply(4));
    assert_eq!(fake.requests(), 2);
}
