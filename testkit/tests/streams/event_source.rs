//! Clients that behave as a browser's `EventSource` (reconnect when a response ends, with the
//! last id seen; honour `retry:`; stop on 204) get every answer exactly once: no text after
//! the end, nothing twice, nothing missing — with many answers at once, with a flaky network,
//! and through an API restart mid-answer.

use std::time::Duration;

use futures::future::join_all;
use sluice_testkit::{
    TestApp,
    event_source::{EventSource, Received},
    sse::SseEvent,
};
use uuid::Uuid;

/// What every answer's client must have seen, compared with the stored answer.
async fn assert_exactly_once(app: &TestApp, token: &str, answer: Uuid, got: &Received) {
    assert!(
        got.closed_by_204,
        "the server ended the reconnects with 204: {got:?}"
    );
    assert_eq!(got.after_terminal(), 0, "no event after the end");
    assert_eq!(got.retry, Some(Duration::from_secs(1)), "the retry hint");
    let ids = got.ids();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    assert_eq!(ids.len(), got.events.len(), "every event has an id");
    let stored = app.message(token, answer).await;
    assert_eq!(stored["status"], "done");
    assert_eq!(got.text(), stored["content"].as_str().unwrap(), "{answer}");
}

fn stream_url(app: &TestApp, answer: Uuid) -> String {
    app.url(&format!("/api/messages/{answer}/stream"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_answers_reach_reconnecting_clients_exactly_once() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.pacing_ms = 10;
        c.worker.concurrency = 100;
        c.auth_rate_per_minute = 1000;
        c.auth_burst = 100;
    })
    .await;
    let mut answers = Vec::new();
    for _ in 0..10 {
        let token = app.guest().await;
        for _ in 0..10 {
            let conversation = app.create_conversation(&token).await;
            let sent = app.send(&token, conversation, "count to twenty").await;
            answers.push((token.clone(), sent.assistant_message.id));
        }
    }
    let clients = answers.iter().enumerate().map(|(i, (token, answer))| {
        let mut client = EventSource::new(stream_url(&app, *answer), token);
        // Every other client is on a flaky network that drops every few events.
        if i % 2 == 1 {
            client.drop_after = Some(3 + i % 5);
        }
        client.run()
    });
    let received = join_all(clients).await;
    for ((token, answer), got) in answers.iter().zip(&received) {
        assert_exactly_once(&app, token, *answer, got).await;
    }
    // The drops happened: a steady client opens its stream and then the 204 that ends it; a
    // flaky one was cut mid-answer at least once more, and got what it missed on reconnect.
    for (i, got) in received.iter().enumerate() {
        if i % 2 == 1 {
            assert!(
                got.connections >= 3,
                "client {i} was cut mid-answer: {got:?}"
            );
        } else {
            assert_eq!(got.connections, 2, "client {i} was never cut: {got:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_restart_mid_answer_costs_reconnecting_clients_nothing() {
    let mut app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send(&token, conversation, "tell me a story")
        .await
        .assistant_message
        .id;
    let clients: Vec<_> = (0..4)
        .map(|_| tokio::spawn(EventSource::new(stream_url(&app, answer), &token).run()))
        .collect();
    // Restart once the answer is under way (tokens are flowing to the clients).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.message(&token, answer).await["status"] != "streaming" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.restart_api().await;
    assert_eq!(
        app.message(&token, answer).await["status"],
        "streaming",
        "the restart fell mid-answer"
    );
    for client in clients {
        let got = client.await.unwrap();
        assert!(
            got.connections >= 3,
            "connect, reconnect after the restart, 204: {got:?}"
        );
        assert_exactly_once(&app, &token, answer, &got).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_stream_resumed_on_a_flaky_network_repeats_no_text() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 5).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let url = app.url(&format!("/api/conversations/{conversation}/events"));
    let mut client = EventSource::new(url, &token);
    client.drop_after = Some(10);
    client.close_after_terminals = Some(3);
    client.max_connections = 100;
    let listening = tokio::spawn(client.run());
    // Whether the client subscribes before or after a send, the catch-up covers it.
    let mut answers = Vec::new();
    for question in ["one", "two", "three"] {
        let sent = app.send(&token, conversation, question).await;
        answers.push(sent.assistant_message.id);
    }
    let got = tokio::time::timeout(Duration::from_secs(60), listening)
        .await
        .expect("three answers end within a minute")
        .unwrap();
    let ids = got.ids();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    assert!(
        got.connections > 3,
        "the network dropped the stream: {got:?}"
    );
    for answer in answers {
        let events: Vec<SseEvent> = got
            .events
            .iter()
            .filter(|e| e.data["message_id"] == answer.to_string())
            .cloned()
            .collect();
        let stored = app.message(&token, answer).await;
        assert_eq!(
            sluice_testkit::sse::answer_text(&events),
            stored["content"].as_str().unwrap(),
            "answer {answer}: each token once"
        );
        assert_eq!(events.iter().filter(|e| e.is_terminal()).count(), 1);
    }
}
