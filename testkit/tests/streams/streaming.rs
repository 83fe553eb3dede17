//! The spine end to end: a message goes into the queue, a worker streams it through NATS
//! JetStream, clients read it as resumable SSE.

use serde_json::json;
use sluice_shared::message_status::MessageStatus;
use sluice_testkit::{TestApp, sse::answer_text};
use sluice_worker::providers::demo::demo_reply;

/// The statuses the code knows are exactly those the `messages.status` CHECK allows.
#[tokio::test]
async fn the_database_allows_exactly_the_message_statuses_the_code_knows() {
    let app = TestApp::spawn_without_worker().await;
    let check: String = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = 'messages'::regclass AND contype = 'c'
           AND pg_get_constraintdef(oid) LIKE '%status%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut allowed: Vec<&str> = check.split('\'').skip(1).step_by(2).collect();
    allowed.sort_unstable();
    let mut known: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
    known.sort_unstable();
    assert_eq!(allowed, known, "{check}");
}

#[tokio::test]
async fn the_streamed_answer_equals_the_stored_message() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "hello sluice").await;
    assert_eq!(sent.assistant_message.status, MessageStatus::Queued);

    let events = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"start"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"), "{kinds:?}");
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e.id.expect("every event has an id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let seqs: Vec<u64> = events
        .iter()
        .filter(|e| e.event == "token")
        .map(|e| e.data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..24).collect::<Vec<_>>());

    let text = answer_text(&events);
    assert_eq!(text, demo_reply("hello sluice", 24).concat());
    let stored = app.message(&token, sent.assistant_message.id).await;
    assert_eq!(stored["status"], "done");
    assert_eq!(stored["content"], text);
    assert_eq!(stored["usage"]["output_tokens"], 24);
    assert!(stored["ttft_ms"].is_number());
    // The conversation moved to "recently active".
    let c = app
        .get_json(&token, &format!("/api/conversations/{conv}"))
        .await;
    assert!(
        c["updated_at"].as_str().unwrap() > c["created_at"].as_str().unwrap(),
        "{c}"
    );
}

#[tokio::test]
async fn resuming_with_last_event_id_mid_stream_has_no_gap_and_no_duplicate() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 20).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "resume me").await;

    // Read a few tokens, then drop the connection mid-answer.
    let mut first = app.sse(&token, &sent.stream_url, None).await;
    let mut seen = first.until_tokens(5).await;
    drop(first);
    let last_id = seen.last().unwrap().id.unwrap();

    let rest = app
        .sse(&token, &sent.stream_url, Some(last_id))
        .await
        .collect()
        .await;
    assert!(
        rest.iter().all(|e| e.id.unwrap() > last_id),
        "nothing at or before Last-Event-ID is repeated"
    );
    seen.extend(rest);
    let seqs: Vec<u64> = seen
        .iter()
        .filter(|e| e.event == "token")
        .map(|e| e.data["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (0..24).collect::<Vec<_>>(),
        "every token exactly once, in order"
    );
    assert_eq!(seen.last().unwrap().event, "done");
    assert_eq!(answer_text(&seen), demo_reply("resume me", 24).concat());
}

#[tokio::test]
async fn two_subscribers_see_identical_streams() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 10).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    // A second tab follows the whole conversation before the message is sent.
    let tab = app
        .sse(&token, &format!("/api/conversations/{conv}/events"), None)
        .await;
    let sent = app.send(&token, conv, "two tabs").await;
    let a = app.sse(&token, &sent.stream_url, None).await;
    let b = app.sse(&token, &sent.stream_url, None).await;
    let (a, b) = tokio::join!(a.collect(), b.collect());
    assert_eq!(a, b);
    let mut tab = tab;
    let mut tab_events = Vec::new();
    loop {
        let e = tab.next().await.expect("conversation stream stays open");
        let end = e.is_terminal();
        tab_events.push(e);
        if end {
            break;
        }
    }
    assert_eq!(
        tab_events, a,
        "the conversation stream carries the same events"
    );
}

#[tokio::test]
async fn a_subscriber_arriving_after_completion_gets_the_whole_answer() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "late reader").await;
    let live = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let late = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    assert_eq!(late, live);
    // Reconnecting after the terminal event gets 204: nothing more, ever.
    let after_end = app
        .http
        .get(app.url(&sent.stream_url))
        .bearer_auth(&token)
        .header(
            "Last-Event-ID",
            live.last().unwrap().id.unwrap().to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(after_end.status(), 204);
}

#[tokio::test]
async fn an_answer_older_than_the_stream_retention_is_served_from_the_database() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "old news").await;
    let live = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    // The stream forgets it (as max age would).
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js
        .get_stream(format!("{}_EVENTS", app.config.nats_prefix.to_uppercase()))
        .await
        .unwrap();
    stream.purge().await.unwrap();
    let replay = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let kinds: Vec<&str> = replay.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["token", "done"]);
    assert_eq!(answer_text(&replay), answer_text(&live));
}

#[tokio::test]
async fn post_chat_streams_meta_first_then_the_answer() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let response = app
        .http
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .json(&json!({ "message": "one shot" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = sluice_testkit::sse::SseStream::new(response)
        .collect()
        .await;
    assert_eq!(events[0].event, "meta");
    let message_id = events[0].data["message_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(events.last().unwrap().event, "done");
    let stored = app.message(&token, message_id).await;
    assert_eq!(stored["content"], answer_text(&events));
    // The conversation was created with the message as its title.
    let conv = events[0].data["conversation_id"].as_str().unwrap();
    let c: serde_json::Value = app
        .get_json(&token, &format!("/api/conversations/{conv}"))
        .await;
    assert_eq!(c["title"], "one shot");
}
