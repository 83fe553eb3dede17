//! Scale-out for real, on one box: two APIs and three worker processes on one Postgres and one
//! NATS. Any API serves any answer's stream, both relay the same events in the same order, and a
//! cancel sent to one API stops the answer another API enqueued, wherever it runs.

use std::process::Child;

use sluice_testkit::{
    Options, SecondApi, TestApp,
    sse::{SseEvent, SseStream, answer_text},
};
use uuid::Uuid;

const WORKER: &str = env!("CARGO_BIN_EXE_sluice-test-worker");

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Two APIs, three worker processes, answers of 60 tokens 25 ms apart (1.5 s).
async fn two_apis_three_workers() -> (TestApp, SecondApi, Workers) {
    let app = TestApp::spawn_with(
        Options {
            in_process_worker: false,
            ..Options::default()
        }
        .and(|c| {
            c.demo.pacing_ms = 25;
            c.demo.reply_tokens = 60;
        }),
    )
    .await;
    let second = SecondApi::start(&app).await;
    let workers = Workers((0..3).map(|_| app.worker_process(WORKER)).collect());
    (app, second, workers)
}

async fn stream_at(app: &TestApp, base: &str, token: &str, answer: Uuid) -> SseStream {
    let r = app
        .http
        .get(format!("{base}/api/messages/{answer}/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    SseStream::new(r)
}

fn ids_and_kinds(events: &[SseEvent]) -> Vec<(Option<u64>, String)> {
    events.iter().map(|e| (e.id, e.event.clone())).collect()
}

#[tokio::test]
async fn either_api_relays_any_answer_with_the_same_events_in_the_same_order() {
    let (app, second, _workers) = two_apis_three_workers().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    for n in 0..3 {
        // Sent through the first API, read through both at once.
        let sent = app
            .send(&token, conversation, &format!("question {n}"))
            .await;
        let answer = sent.assistant_message.id;
        let (on_first, on_second) = tokio::join!(
            async {
                stream_at(&app, &app.base, &token, answer)
                    .await
                    .collect()
                    .await
            },
            async {
                stream_at(&app, &second.base, &token, answer)
                    .await
                    .collect()
                    .await
            },
        );
        assert_eq!(on_first.last().unwrap().event, "done", "{on_first:?}");
        assert_eq!(ids_and_kinds(&on_first), ids_and_kinds(&on_second));
        assert_eq!(answer_text(&on_first), answer_text(&on_second));
        let stored = app.message(&token, answer).await;
        assert_eq!(stored["content"].as_str().unwrap(), answer_text(&on_first));
        assert_eq!(stored["attempt"], 1, "answered once");
    }
}

#[tokio::test]
async fn a_cancel_sent_to_one_api_stops_an_answer_the_other_enqueued() {
    let (app, second, _workers) = two_apis_three_workers().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app
        .send(&token, conversation, "a long answer, please")
        .await;
    let answer = sent.assistant_message.id;
    // Read on the first API until the answer is under way, then cancel on the second.
    let mut first = stream_at(&app, &app.base, &token, answer).await;
    let mut seen = first.until_tokens(3).await;
    let r = app
        .http
        .post(format!("{}/api/messages/{answer}/cancel", second.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    seen.extend(first.collect().await);
    assert_eq!(seen.last().unwrap().event, "cancelled", "{seen:?}");
    let tokens = seen.iter().filter(|e| e.event == "token").count();
    assert!(tokens < 60, "the worker stopped: {tokens} of 60 tokens");
    let stored = app.message(&token, answer).await;
    assert_eq!(stored["status"], "cancelled");
    // The second API replays the same end.
    let replay = stream_at(&app, &second.base, &token, answer)
        .await
        .collect()
        .await;
    assert_eq!(ids_and_kinds(&replay), ids_and_kinds(&seen));
}
