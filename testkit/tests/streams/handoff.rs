//! The hand-off (`sluice_shared::handoff`): jobs offered straight to a worker over NATS, and
//! the queue taking every job no worker takes.

use std::time::Duration;

use futures::future::join_all;
use sluice_testkit::{
    TestApp, fake_openai::FakeOpenAi, handoff_watch::HandoffWatch, sse::answer_text, wait,
    with_fake_openai,
};
use uuid::Uuid;

/// Sends one message in a new conversation and reads its whole stream.
async fn ask(app: &TestApp, token: &str) -> (Uuid, Vec<sluice_testkit::sse::SseEvent>) {
    let conv = app.create_conversation(token).await;
    let sent = app.send(token, conv, "hello").await;
    let events = app.sse(token, &sent.stream_url, None).await.collect().await;
    (sent.assistant_message.id, events)
}

/// Waits until `n` offers have each been answered, or for 10 s; returns (taken, declined).
async fn answered_offers(watch: &HandoffWatch, n: usize) -> (usize, usize) {
    let probe = || async { (watch.offers(), watch.taken(), watch.declined()) };
    let (_, taken, declined) = wait::until(
        &format!("{n} offers answered (offers, taken, declined)"),
        Duration::from_secs(10),
        probe,
        |(offers, taken, declined)| *offers == n && taken + declined == n,
    )
    .await;
    (taken, declined)
}

#[tokio::test]
async fn a_handed_off_job_is_leased_to_the_registered_worker_running_it() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 40).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let watch = app.watch_handoff().await;
    let sent = app.send(&token, conv, "lease me").await;
    let mut stream = app.sse(&token, &sent.stream_url, None).await;
    let mut events = stream.until_tokens(1).await;

    // While it streams, its queue row is held exactly as a queue fetch holds one: so if this
    // worker died, apalis would re-enqueue it once the worker's heartbeat stopped.
    let (status, lock_by, registered): (String, Option<String>, bool) = sqlx::query_as(
        "SELECT j.status, j.lock_by,
                EXISTS (SELECT 1 FROM apalis.workers w WHERE w.id = j.lock_by)
         FROM apalis.jobs j WHERE j.idempotency_key = $1",
    )
    .bind(sent.assistant_message.id.to_string())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "Running");
    assert!(lock_by.is_some() && registered, "leased to {lock_by:?}");
    assert_eq!(
        answered_offers(&watch, 1).await,
        (1, 0),
        "taken from the offer"
    );

    events.extend(stream.collect().await);
    assert_eq!(events.last().unwrap().event, "done");
    let starts = events.iter().filter(|e| e.event == "start").count();
    assert_eq!(starts, 1, "one attempt");
    assert_eq!(
        app.queue_rows().await,
        0,
        "the stored answer's row is spent"
    );
}

#[tokio::test]
async fn a_job_offered_while_no_worker_runs_waits_in_the_queue_for_the_next_worker() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let watch = app.watch_handoff().await;
    let sent = app.send(&token, conv, "anyone there?").await;

    // Nobody takes the offer, so the API makes the row due in the queue at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let due: bool = sqlx::query_scalar(
            "SELECT run_at <= now() AND status = 'Pending' FROM apalis.jobs
             WHERE idempotency_key = $1",
        )
        .bind(sent.assistant_message.id.to_string())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if due {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the untaken job was never made due"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut worker = app.worker_process(env!("CARGO_BIN_EXE_sluice-test-worker"));
    let events = app
        .sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(
        (watch.offers(), watch.taken(), watch.declined()),
        (1, 0, 0),
        "offered once, answered by nobody: the queue delivered it"
    );
    let answer = app.message(&token, sent.assistant_message.id).await;
    assert_eq!(answer["status"], "done");
    assert_eq!(answer["attempt"], 1);
    assert_eq!(answer["content"].as_str().unwrap(), answer_text(&events));
}

#[tokio::test]
async fn offers_a_worker_cannot_start_go_to_the_queue_and_each_answer_comes_once() {
    // Two slots, one of them held by the idle queue poll (it reserves its slot before it
    // fetches): one offer is taken, the rest of the burst is declined and goes through the
    // queue, under the same limit.
    let app = TestApp::spawn_configured(|c| {
        c.worker.concurrency = 2;
        c.demo.pacing_ms = 10;
    })
    .await;
    let token = app.guest().await;
    // The demo provider's reply to `ask`'s prompt, read through the normal path first.
    let expected = answer_text(&ask(&app, &token).await.1);
    assert!(expected.starts_with("hello#0 "), "{expected}");
    let watch = app.watch_handoff().await;
    let answers = join_all((0..5).map(|_| ask(&app, &token))).await;
    for (id, events) in answers {
        let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds.first(), Some(&"start"), "{kinds:?}");
        assert_eq!(kinds.last(), Some(&"done"), "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "start").count(), 1);
        assert_eq!(answer_text(&events), expected);
        let stored = app.message(&token, id).await;
        assert_eq!(
            (stored["status"].as_str(), stored["attempt"].as_i64()),
            (Some("done"), Some(1))
        );
        assert_eq!(stored["content"].as_str().unwrap(), expected);
    }
    // Every offer is answered (`answered_offers` waits for that). Most are declined (one slot is the queue poll's, one takes the
    // first offer); that first one may be declined too: offers can arrive out of their jobs'
    // order, and a claim declines while an older job waits in the queue (arrival order, see
    // `shared/src/queue/lease.rs`). Either way each answer came once, above.
    let (_, declined) = answered_offers(&watch, 5).await;
    assert!(
        declined >= 1,
        "some were declined, and the queue delivered them: {declined}"
    );
    wait::until(
        "every job to leave the queue",
        Duration::from_secs(10),
        || app.queue_rows(),
        |rows| *rows == 0,
    )
    .await;
}

#[tokio::test]
async fn with_offers_off_every_job_goes_through_the_queue() {
    let app = TestApp::spawn_configured(|c| c.worker.handoff_ms = 0).await;
    let token = app.guest().await;
    let watch = app.watch_handoff().await;
    let (id, events) = ask(&app, &token).await;
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(watch.offers(), 0, "nothing was offered");
    let stored = app.message(&token, id).await;
    assert_eq!(
        (stored["status"].as_str(), stored["attempt"].as_i64()),
        (Some("done"), Some(1))
    );
    assert_eq!(stored["content"].as_str().unwrap(), answer_text(&events));
}

#[tokio::test]
async fn one_limit_covers_offered_and_queued_jobs_alike() {
    // A provider slow enough that a burst overlaps: 20 jobs at once, some taken from offers,
    // the rest declined and fetched from the queue.
    let fake = FakeOpenAi::start(6, Duration::from_millis(30)).await;
    let options = with_fake_openai(&fake).and(|c| c.worker.concurrency = 2);
    let app = TestApp::spawn_with(options).await;
    let token = app.guest().await;
    let watch = app.watch_handoff().await;
    let answers = join_all((0..20).map(|_| ask(&app, &token))).await;
    for (id, events) in &answers {
        assert_eq!(
            events.last().map(|e| e.event.as_str()),
            Some("done"),
            "{id}"
        );
        assert_eq!(answer_text(events), FakeOpenAi::reply(6));
    }
    assert_eq!(fake.completed(), 20, "every answer asked the provider once");
    assert_eq!(
        fake.max_in_flight(),
        2,
        "never more than worker.concurrency provider streams at once"
    );
    let (taken, declined) = answered_offers(&watch, 20).await;
    assert!(
        taken >= 1 && declined >= 1,
        "jobs came both ways: {taken} taken from offers, {declined} declined to the queue"
    );
}
