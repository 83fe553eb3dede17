//! Operations: readiness names the dependency that is down, request ids travel into jobs and
//! NATS headers, SSE keeps idle connections alive and ends cleanly on shutdown.

use std::time::Duration;

use serde_json::Value;
use sluice_testkit::{Options, TestApp, services};

#[tokio::test]
async fn readyz_names_nats_when_it_is_down() {
    let (port, store) = services::private_nats();
    let app =
        TestApp::spawn_configured(move |c| c.nats_url = format!("nats://127.0.0.1:{port}")).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    services::stop_nats(&store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "unavailable: nats");
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process itself is fine"
    );
}

#[tokio::test]
async fn readyz_names_postgres_when_it_is_down() {
    let (port, data) = services::private_postgres();
    let app = TestApp::spawn_configured(move |c| {
        c.database_url = format!("postgres://postgres@127.0.0.1:{port}/postgres").into();
    })
    .await;
    services::stop_postgres(&data);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "unavailable: postgres");
    // Requests that need the database say so too, instead of a bare 500.
    let r = app
        .http
        .post(app.url("/api/auth/guest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "dependency_down");
}

#[tokio::test]
async fn the_worker_takes_jobs_again_after_a_postgres_restart() {
    let (port, data) = services::private_postgres();
    let app = TestApp::spawn_configured(move |c| {
        c.database_url = format!("postgres://postgres@127.0.0.1:{port}/postgres").into();
        c.worker.heartbeat_ms = 200;
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    // The test server runs with fsync off: write everything out so the crash loses nothing.
    sqlx::query("CHECKPOINT").execute(&app.pool).await.unwrap();
    // Down longer than the pool waits for a connection (5 s), so the worker's heartbeat fails.
    services::stop_postgres(&data);
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    services::restart_postgres(&data, port);

    let mut sent = None;
    for _ in 0..100 {
        let path = format!("/api/conversations/{conv}/messages");
        let body = serde_json::json!({"content": "still there?"});
        let r = app
            .call(&token, reqwest::Method::POST, &path, Some(body))
            .await;
        if r.status() == 202 {
            sent = Some(r.json::<sluice_shared::dto::SentOut>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sent = sent.expect("the API answers again once Postgres is back");
    let events = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.sse(&token, &sent.stream_url, None).await.collect(),
    )
    .await
    .expect("the answer is generated: the worker came back with Postgres");
    assert_eq!(events.last().unwrap().event, "done");
}

#[tokio::test]
async fn the_request_id_travels_into_the_job_and_the_nats_headers() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let r = app
        .http
        .post(app.url(&format!("/api/conversations/{conv}/messages")))
        .bearer_auth(&token)
        .header("x-request-id", "req-trace-42")
        .json(&serde_json::json!({"content": "trace me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "req-trace-42",
        "echoed to the client"
    );
    let sent: Value = r.json().await.unwrap();
    let id: uuid::Uuid = sent["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Read now: once the answer is done, the job row is swept from the queue table.
    let job: String = sqlx::query_scalar("SELECT convert_from(job, 'UTF8') FROM apalis.jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(job.contains("req-trace-42"), "{job}");
    app.sse(&token, sent["stream_url"].as_str().unwrap(), None)
        .await
        .collect()
        .await;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT request_id FROM messages WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("req-trace-42"));
    let js = async_nats::jetstream::new(app.nats.clone());
    let stream = js
        .get_stream(format!("{}_EVENTS", app.config.nats_prefix.to_uppercase()))
        .await
        .unwrap();
    let subject = format!("{}.conv.{conv}.msg.{id}", app.config.nats_prefix);
    let first = stream
        .direct_get_next_for_subject(subject, None)
        .await
        .unwrap();
    assert_eq!(
        first.headers.get("x-request-id").map(|v| v.as_str()),
        Some("req-trace-42")
    );
    assert!(first.headers.get("Nats-Msg-Id").is_some());
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let app = TestApp::spawn_configured(|c| c.keepalive_secs = 1).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let mut r = app
        .get(&token, &format!("/api/conversations/{conv}/events"))
        .await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains(": keep-alive\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(3), r.chunk())
            .await
            .expect("a keep-alive within 3 s");
        text.push_str(std::str::from_utf8(&chunk.unwrap().unwrap()).unwrap());
    }
    // The reconnect hint comes first, then only keep-alives while nothing happens.
    assert_eq!(text, "retry: 1000\n\n: keep-alive\n\n");
}

#[tokio::test]
async fn shutting_the_api_down_ends_open_streams_cleanly() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 200).await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "long one").await;
    let mut stream = app.sse(&token, &sent.stream_url, None).await;
    assert_eq!(stream.next().await.unwrap().event, "start");
    let reader = tokio::spawn(async move { stream.collect().await });
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.stop_api()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "the API stopped gracefully: {stopped:?}"
    );
    let rest = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ended")
        .unwrap();
    assert!(
        rest.iter().all(|e| !e.is_terminal()),
        "ended by shutdown, not by the answer"
    );
}

#[tokio::test]
async fn our_migrations_and_the_queue_s_keep_separate_histories_and_rerun_cleanly() {
    let app = TestApp::spawn().await;
    let ours: i64 = sqlx::query_scalar("SELECT count(*) FROM public._sqlx_migrations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let queue: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis._sqlx_migrations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ours as usize, sluice_shared::db::MIGRATOR.iter().count());
    assert!(queue > 10, "apalis's history is its own: {queue}");
    sluice_shared::db::migrate(&app.pool)
        .await
        .expect("migrating again is a no-op");
}

#[tokio::test]
async fn an_answer_survives_a_nats_restart_mid_stream() {
    let (port, store) = services::private_nats();
    let app = TestApp::spawn_configured(move |c| {
        c.nats_url = format!("nats://127.0.0.1:{port}");
        c.demo.pacing_ms = 50;
        c.demo.reply_tokens = 40;
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "outage").await;
    let mut stream = app.sse(&token, &sent.stream_url, None).await;
    let mut events = stream.until_tokens(3).await;
    services::stop_nats(&store);
    tokio::time::sleep(Duration::from_millis(700)).await;
    services::restart_nats(port, &store);
    // The same connection carries on: the worker retries (reset) and the feed reopens.
    while let Some(e) = stream.next().await {
        let end = e.is_terminal();
        events.push(e);
        if end {
            break;
        }
    }
    assert_eq!(events.last().unwrap().event, "done", "{events:#?}");
    let expected = sluice_worker::providers::demo::demo_reply("outage", 40).concat();
    assert_eq!(sluice_testkit::sse::answer_text(&events), expected);
    assert_eq!(
        app.message(&token, sent.assistant_message.id).await["content"],
        expected
    );
}

#[tokio::test]
async fn processes_starting_together_share_one_events_stream() {
    let config = sluice_testkit::test_config().await;
    let client = sluice_shared::nats::connect(&config).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let subjects = sluice_shared::subjects::Subjects::new(&config.nats_prefix);
    let age = Duration::from_secs(3600);
    let starts = (0..8).map(|_| sluice_shared::nats::ensure_stream(&js, &subjects, age));
    for result in futures::future::join_all(starts).await {
        assert!(result.is_ok(), "{:?}", result.err());
    }
}

#[tokio::test]
async fn finished_jobs_leave_the_queue_table_and_dead_ones_stay_a_week() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "sweep me").await;
    app.sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.queue_rows().await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the done job is still in the queue table"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.message(&token, sent.assistant_message.id).await["status"],
        "done"
    );

    // Dead jobs are kept for inspection, for a week; live ones are never touched.
    for (id, status, age_days) in [
        ("dead-old", "Killed", 8),
        ("dead-new", "Killed", 1),
        ("running", "Running", 8),
    ] {
        sqlx::query(
            "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, done_at)
             VALUES ('\\x00', $1, 'chat', $2, 3, 3, now() - make_interval(days => $3))",
        )
        .bind(id)
        .bind(status)
        .bind(age_days)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sluice_worker::finished_jobs::sweep(&app.pool, "chat")
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM apalis.jobs ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, ["dead-new", "running"]);
}

/// Two runs of one job (a worker presumed dead, its job handed out again) each get their own
/// attempt, even when their claims share a statement; the stale one finishing late changes
/// nothing: not the answer, and not the queue row its successor runs under (losing that row
/// would leave the answer unfinished if the successor crashed too). The successor's answer is
/// stored and its queue row goes with it.
#[tokio::test]
async fn a_stale_attempt_finishing_late_leaves_the_answer_and_queue_row_to_its_successor() {
    use sluice_shared::events::Usage;
    use sluice_worker::store::{Finish, Outcome, Store, Timing};

    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "who owns this answer?").await;
    let id = sent.assistant_message.id;
    let store = Store::new(&app.pool);

    let (a, b) = tokio::join!(store.claim(id), store.claim(id));
    let mut attempts = [a.unwrap().unwrap().attempt, b.unwrap().unwrap().attempt];
    attempts.sort();
    assert_eq!(attempts, [1, 2]);

    let finish = |attempt, text: &str| Finish {
        message_id: id,
        attempt,
        content: text.into(),
        outcome: Outcome::Done {
            finish_reason: "stop".into(),
            usage: Usage {
                input_tokens: 3,
                output_tokens: 1,
            },
        },
        provider: Some("demo"),
        timing: Timing {
            latency_ms: 5,
            ttft_ms: Some(1),
            start_seq: None,
        },
    };
    let queue_rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM apalis.jobs WHERE idempotency_key = $1")
            .bind(id.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert!(!store.finish(finish(1, "stale")).await.unwrap());
    assert_eq!(queue_rows().await, 1, "the successor's queue row is kept");
    let answer = app.message(&token, id).await;
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("streaming"), Some(""))
    );

    assert!(store.finish(finish(2, "fresh")).await.unwrap());
    assert_eq!(
        queue_rows().await,
        0,
        "a stored answer's queue row is spent"
    );
    let answer = app.message(&token, id).await;
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("done"), Some("fresh"))
    );
}

/// The API writes the answer's job into apalis's table itself, in the statement that stores the
/// messages. This pins that row to the one apalis's own `push_tasks` writes for the same task,
/// so an apalis upgrade that changes its table shows up here.
#[tokio::test]
async fn the_enqueue_statement_writes_the_row_apalis_itself_would() {
    use apalis::prelude::TaskBuilder;

    // No worker and no offer: with an offer nobody takes, the API makes the row due at once
    // (`handoff::make_due` rewrites `run_at`), and this test pins the row the INSERT wrote.
    let app = TestApp::spawn_with(Options {
        in_process_worker: false,
        configure: Box::new(|c| c.worker.handoff_ms = 0),
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "queue me").await;

    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct JobRow {
        id: String,
        job_type: String,
        job: Vec<u8>,
        status: String,
        attempts: i32,
        max_attempts: i32,
        run_at: chrono::DateTime<chrono::Utc>,
        priority: Option<i32>,
        metadata: Option<String>,
        idempotency_key: Option<String>,
    }
    let read = |queue: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, JobRow>(
                "SELECT id, job_type, job, status, attempts, max_attempts, run_at, priority,
                        metadata::text AS metadata, idempotency_key
                 FROM apalis.jobs WHERE job_type = $1",
            )
            .bind(queue)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let ours = read("chat").await;
    let job: serde_json::Value = serde_json::from_slice(&ours.job).unwrap();
    assert_eq!(job["message_id"], sent.assistant_message.id.to_string());
    assert_eq!(job["conversation_id"], conv.to_string());
    assert!(ours.id.parse::<ulid::Ulid>().is_ok(), "{}", ours.id);

    // The same task through apalis's own code path, into another queue.
    let task = TaskBuilder::new(ours.job.clone())
        .run_at_timestamp(ours.run_at.timestamp() as u64)
        .max_attempts(ours.max_attempts as usize)
        .idempotency_key(ours.idempotency_key.clone().unwrap())
        .build();
    let mut conn = app.pool.acquire().await.unwrap();
    apalis_postgres::queries::push_tasks(&mut *conn, "reference", vec![task])
        .await
        .unwrap();
    let reference = read("reference").await;
    assert_eq!(
        JobRow {
            id: reference.id.clone(),
            job_type: "reference".into(),
            ..ours
        },
        reference
    );
}
