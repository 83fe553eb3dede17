//! The stream contract (README, "Streams"), proven over generated cases: whatever the points at
//! which a client drops and reconnects — before `start`, mid-tokens, right at the end, after
//! it — and wherever the worker is between storing the answer, publishing its end and
//! recording the end's sequence, the client's text equals the stored answer, ids only
//! increase, and a reconnect after the end gets `204` and no text.
//!
//! The test plays the worker itself, step by step (NATS publishes and row writes in the real
//! worker's order and with its `Nats-Msg-Id`s), so every race window is hit deterministically
//! by where a connection falls between steps, not by timing.

use std::time::Duration;

use async_nats::jetstream;
use proptest::{prelude::*, sample::Index, test_runner::TestRunner};
use serde_json::Value;
use sluice_shared::{
    events::{Ending, StreamEvent, TERMINAL_KEY, Usage, nats_msg_id},
    subjects::Subjects,
};
use sluice_testkit::{
    TestApp,
    sse::{SseEvent, SseStream, answer_text},
};
use uuid::Uuid;

/// How the scenario's answer ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Done,
    Error { retryable: bool },
    Cancelled,
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Tokens of each attempt; attempts after the first begin with `reset`.
    attempts: Vec<Vec<String>>,
    end: End,
    /// Per connection: worker steps to take first, then events to read before dropping.
    connections: Vec<(usize, usize)>,
    /// Where the "inside the answer" Last-Event-ID probe lands.
    inside: Index,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(prop::collection::vec("[a-z ]{1,3}", 0..4), 1..=2),
        prop_oneof![
            Just(End::Done),
            any::<bool>().prop_map(|retryable| End::Error { retryable }),
            Just(End::Cancelled)
        ],
        prop::collection::vec((0usize..4, 0usize..4), 1..10),
        any::<Index>(),
    )
        .prop_map(|(attempts, end, connections, inside)| Scenario {
            attempts,
            end,
            connections,
            inside,
        })
}

/// One step of the worker, in the real worker's order.
#[derive(Debug, Clone)]
enum Step {
    Claim {
        attempt: i32,
    },
    Publish {
        attempt: i32,
        key: String,
        event: StreamEvent,
    },
    StoreAnswer,
    PublishEnd,
    RecordEnd,
}

struct FakeWorker {
    app_pool: sqlx::PgPool,
    js: jetstream::Context,
    subject: String,
    message_id: Uuid,
    final_attempt: i32,
    final_text: String,
    end: End,
    /// Sequences of every event on the subject, as the test knows them.
    published: Vec<u64>,
    end_seq: Option<u64>,
    stored: bool,
}

impl FakeWorker {
    /// The worker of `message_id`, whose answer ends in attempt `final_attempt` with
    /// `final_text`; nothing published or stored yet.
    fn new(
        app: &TestApp,
        conversation: Uuid,
        message_id: Uuid,
        final_attempt: i32,
        final_text: String,
        end: End,
    ) -> Self {
        Self {
            app_pool: app.pool.clone(),
            js: jetstream::new(app.nats.clone()),
            subject: Subjects::new(&app.config.nats_prefix).message(conversation, message_id),
            message_id,
            final_attempt,
            final_text,
            end,
            published: Vec::new(),
            end_seq: None,
            stored: false,
        }
    }

    /// The ending the worker stores, and builds its terminal event from, as the real one does.
    fn ending(&self) -> Ending {
        match self.end {
            End::Done => Ending::Done {
                finish_reason: "stop".into(),
                usage: Usage {
                    input_tokens: 3,
                    output_tokens: 5,
                },
            },
            End::Error { retryable } => Ending::Error {
                code: "upstream_failed".into(),
                message: "the provider failed".into(),
                retryable,
            },
            End::Cancelled => Ending::Cancelled,
        }
    }

    fn end_event(&self) -> StreamEvent {
        self.ending().event(self.message_id)
    }

    async fn publish(&mut self, attempt: i32, key: &str, event: &StreamEvent) -> u64 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            nats_msg_id(self.message_id, attempt, key).as_str(),
        );
        let payload = serde_json::to_vec(event).unwrap().into();
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, payload)
            .await
            .unwrap()
            .await
            .unwrap();
        if !self.published.contains(&ack.sequence) {
            self.published.push(ack.sequence);
        }
        ack.sequence
    }

    async fn take(&mut self, step: Step) {
        match step {
            Step::Claim { attempt } => {
                sqlx::query("UPDATE messages SET status = 'streaming', attempt = $2 WHERE id = $1")
                    .bind(self.message_id)
                    .bind(attempt)
                    .execute(&self.app_pool)
                    .await
                    .unwrap();
            }
            Step::Publish {
                attempt,
                key,
                event,
            } => {
                self.publish(attempt, &key, &event).await;
            }
            Step::StoreAnswer => {
                let ending = self.ending();
                let (code, message, retryable) = match &ending {
                    Ending::Error {
                        code,
                        message,
                        retryable,
                    } => (Some(code.clone()), Some(message.clone()), *retryable),
                    _ => (None, None, false),
                };
                sqlx::query(
                    "UPDATE messages SET status = $2, content = $3, completed_at = now(),
                         finish_reason = 'stop', input_tokens = 3, output_tokens = 5,
                         error_code = $4, error_message = $5, error_retryable = $6
                     WHERE id = $1",
                )
                .bind(self.message_id)
                .bind(ending.status())
                .bind(&self.final_text)
                .bind(code)
                .bind(message)
                .bind(retryable)
                .execute(&self.app_pool)
                .await
                .unwrap();
                self.stored = true;
            }
            Step::PublishEnd => {
                let event = self.end_event();
                // If the API already published the end for us, this is a duplicate: JetStream
                // answers with the first one's sequence and stores nothing.
                let seq = self.publish(self.final_attempt, TERMINAL_KEY, &event).await;
                if let Some(known) = self.end_seq {
                    assert_eq!(seq, known, "a second terminal event reached the stream");
                }
                self.end_seq = Some(seq);
            }
            Step::RecordEnd => {
                sqlx::query("UPDATE messages SET last_seq = $2 WHERE id = $1 AND last_seq IS NULL")
                    .bind(self.message_id)
                    .bind(self.end_seq.expect("published before recorded") as i64)
                    .execute(&self.app_pool)
                    .await
                    .unwrap();
            }
        }
    }
}

fn steps(s: &Scenario, message_id: Uuid, conversation_id: Uuid) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, tokens) in s.attempts.iter().enumerate() {
        let attempt = i as i32 + 1;
        steps.push(Step::Claim { attempt });
        let mut publish = |key: String, event| {
            steps.push(Step::Publish {
                attempt,
                key,
                event,
            })
        };
        if attempt > 1 {
            publish(
                "reset".into(),
                StreamEvent::Reset {
                    message_id,
                    attempt,
                },
            );
        }
        publish(
            "start".into(),
            StreamEvent::Start {
                message_id,
                conversation_id,
                model: "demo".into(),
                provider: "demo".into(),
                attempt,
            },
        );
        for (seq, delta) in tokens.iter().enumerate() {
            let event = StreamEvent::Token {
                message_id,
                seq: seq as u32,
                delta: delta.clone(),
            };
            publish(seq.to_string(), event);
        }
    }
    steps.extend([Step::StoreAnswer, Step::PublishEnd, Step::RecordEnd]);
    steps
}

/// Opens the answer's stream as a client holding events up to `last_event_id`.
async fn open(
    app: &TestApp,
    token: &str,
    id: Uuid,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url(&format!("/api/messages/{id}/stream")))
        .bearer_auth(token);
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last);
    }
    request.send().await.unwrap()
}

async fn read(response: reqwest::Response, n: usize) -> Vec<SseEvent> {
    assert_eq!(response.status(), 200);
    let mut stream = SseStream::new(response);
    let mut events = Vec::new();
    while events.len() < n {
        events.push(
            stream
                .next()
                .await
                .expect("the server sends the events it has"),
        );
    }
    events
}

fn assert_ids_increase(events: &[SseEvent], after: u64) {
    let mut last = after;
    for e in events {
        let id = e.id.unwrap_or_else(|| panic!("event without id: {e:?}"));
        assert!(id > last, "id {id} after {last}: {events:?}");
        last = id;
    }
}

async fn run_case(app: &TestApp, token: &str, conversation: Uuid, s: Scenario) {
    let sent = app.send(token, conversation, "question").await;
    let message_id = sent.assistant_message.id;
    let mut worker = FakeWorker::new(
        app,
        conversation,
        message_id,
        s.attempts.len() as i32,
        s.attempts.last().unwrap().concat(),
        s.end,
    );
    let mut steps = steps(&s, message_id, conversation).into_iter();
    let mut received: Vec<SseEvent> = Vec::new();
    let mut plan = s.connections.iter().copied().cycle();
    for round in 0..100 {
        let (advance, chunk) = plan.next().unwrap();
        // Once the plan has been played through, the worker always moves on.
        let advance = if round >= s.connections.len() {
            advance.max(1)
        } else {
            advance
        };
        for step in steps.by_ref().take(advance) {
            worker.take(step).await;
        }
        let last_id = received.last().and_then(|e| e.id);
        let seen_end = received.iter().any(SseEvent::is_terminal);
        let last_text = last_id.map(|id| id.to_string());
        let response = open(app, token, message_id, last_text.as_deref()).await;
        if seen_end {
            assert_eq!(response.status(), 204, "a reconnect after the end");
            assert!(response.bytes().await.unwrap().is_empty());
            break;
        }
        // What the server has for this client: the test's events after its id, and the end
        // the API publishes itself once the answer is stored.
        let mut available = worker
            .published
            .iter()
            .filter(|seq| **seq > last_id.unwrap_or(0))
            .count();
        if worker.stored && worker.end_seq.is_none() {
            available += 1;
        }
        let all_steps_taken = steps.len() == 0;
        let chunk = if all_steps_taken { chunk.max(1) } else { chunk };
        let events = read(response, chunk.min(available)).await;
        assert_ids_increase(&events, last_id.unwrap_or(0));
        if let Some(end) = events.iter().find(|e| e.is_terminal()) {
            // The API published the end for a worker still between its steps.
            worker.end_seq.get_or_insert(end.id.unwrap());
            if !worker.published.contains(&end.id.unwrap()) {
                worker.published.push(end.id.unwrap());
            }
        }
        received.extend(events);
    }
    // The worker finishes whatever steps remain (its end may be a duplicate by now).
    for step in steps {
        worker.take(step).await;
    }
    let ends: Vec<&SseEvent> = received.iter().filter(|e| e.is_terminal()).collect();
    assert_eq!(ends.len(), 1, "exactly one end: {received:?}");
    // The same end whoever published it, the worker or the API on its behalf.
    let expected = worker.end_event();
    assert_eq!(ends[0].event, expected.kind());
    assert_eq!(ends[0].data, serde_json::to_value(&expected).unwrap());
    assert_eq!(ends[0].id, worker.end_seq);
    assert_ids_increase(&received, 0);
    let stored = app.message(token, message_id).await;
    assert_eq!(answer_text(&received), stored["content"].as_str().unwrap());
    assert_eq!(answer_text(&received), worker.final_text);

    probe_last_event_ids(app, token, message_id, &worker, &s).await;
}

/// Fresh clients with chosen `Last-Event-ID`s, after the answer ended.
async fn probe_last_event_ids(
    app: &TestApp,
    token: &str,
    id: Uuid,
    worker: &FakeWorker,
    s: &Scenario,
) {
    let end = worker.end_seq.unwrap();
    let first = *worker.published.iter().min().unwrap();
    // Before the first event (0, or just below it): the whole answer, once.
    for below in [0, first - 1] {
        let events = read_all(open(app, token, id, Some(&below.to_string())).await).await;
        assert_ids_increase(&events, below);
        assert_eq!(answer_text(&events), worker.final_text);
        assert!(events.last().unwrap().is_terminal());
    }
    // Inside: only later events, ending with the end.
    let mut inside: Vec<u64> = worker
        .published
        .iter()
        .copied()
        .filter(|q| *q < end)
        .collect();
    inside.sort_unstable();
    if !inside.is_empty() {
        let at = inside[s.inside.index(inside.len())];
        let events = read_all(open(app, token, id, Some(&at.to_string())).await).await;
        assert_ids_increase(&events, at);
        assert_eq!(events.last().unwrap().id, Some(end));
    }
    // At or past the end, however far: 204, no text, no panic.
    for past in [
        end.to_string(),
        (end + 1).to_string(),
        u64::MAX.to_string(),
        "99999999999999999999999999".to_string(),
    ] {
        let response = open(app, token, id, Some(&past)).await;
        assert_eq!(response.status(), 204, "Last-Event-ID {past}");
    }
    // Not an id at all: a clear 400.
    let response = open(app, token, id, Some("abc")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_last_event_id");
}

async fn read_all(response: reqwest::Response) -> Vec<SseEvent> {
    assert_eq!(response.status(), 200);
    SseStream::new(response).collect().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_reconnect_pattern_gets_the_stored_answer_once_with_increasing_ids() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(ProptestConfig {
        // PROPTEST_CASES=1000 for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(40),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&scenario(), |s| {
            handle.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(60),
                    run_case(&app, &token, conversation, s),
                )
                .await
                .expect("a case finishes within a minute");
            });
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A worker presumed dead (its lease lapsed while it stalled) may still publish tokens after
/// the next attempt's `reset`. A client never sees them in the new attempt's text: reading
/// the answer from its start, resuming after the `reset` with `Last-Event-ID`, or following
/// the conversation's feed.
#[tokio::test]
async fn tokens_of_an_attempt_presumed_dead_never_mix_into_the_next() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app.send(&token, conversation, "stale tokens").await;
    let message_id = sent.assistant_message.id;
    let mut worker = FakeWorker::new(
        &app,
        conversation,
        message_id,
        2,
        "new text".into(),
        End::Done,
    );
    let token_event = |seq: u32, delta: &str| StreamEvent::Token {
        message_id,
        seq,
        delta: delta.into(),
    };
    worker.take(Step::Claim { attempt: 1 }).await;
    worker.publish(1, "0", &token_event(0, "old ")).await;
    worker.take(Step::Claim { attempt: 2 }).await;
    let reset = StreamEvent::Reset {
        message_id,
        attempt: 2,
    };
    worker.publish(2, "reset", &reset).await;
    let new = worker.publish(2, "0", &token_event(0, "new ")).await;
    // The first attempt's worker wakes up and goes on.
    worker.publish(1, "1", &token_event(1, "stale ")).await;
    worker.publish(2, "1", &token_event(1, "text")).await;
    worker.take(Step::StoreAnswer).await;
    worker.take(Step::PublishEnd).await;
    worker.take(Step::RecordEnd).await;

    let from_start = app.read_to_end(&token, &sent.stream_url).await;
    assert_eq!(answer_text(&from_start), "new text", "{from_start:?}");
    // A client that had "new " when its connection dropped, so its response never saw the
    // `reset`: it gets the rest of the new attempt only.
    let resumed = app.sse(&token, &sent.stream_url, Some(new)).await;
    let resumed = resumed.collect().await;
    assert_eq!(answer_text(&resumed), "text", "{resumed:?}");

    // The conversation's feed, from the start and resumed alike.
    let feed = format!("/api/conversations/{conversation}/events");
    for (after, expected) in [(None, "new text"), (Some(new), "text")] {
        let mut events = app.sse(&token, &feed, after).await;
        let mut seen = Vec::new();
        while let Some(e) = events.next().await {
            let end = e.is_terminal();
            seen.push(e);
            if end {
                break;
            }
        }
        assert_eq!(answer_text(&seen), expected, "after {after:?}: {seen:?}");
    }
}
