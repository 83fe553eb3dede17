//! Operations: readiness names the dependency that is down, request ids travel into jobs and
//! NATS headers, SSE keeps idle connections alive and ends cleanly on shutdown.

use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_testkit::{TestApp, services, wait};

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
    let readyz = || async {
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap_or_default())
    };
    let (_, body) = wait::until(
        "/readyz to say NATS is down",
        Duration::from_secs(10),
        readyz,
        |(status, _)| *status == 503,
    )
    .await;
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

/// A Postgres outage longer than the pool's 5 s wait for a connection: every request that
/// needs the database is refused with 503 `dependency_down` within a second or two (not after
/// that wait, nor one wait per batched item), nothing piles up or is half stored, and once
/// Postgres is back the API takes messages again and the worker (whose queue fetch failed
/// meanwhile) answers them.
#[tokio::test]
async fn a_postgres_outage_is_refused_fast_and_everything_works_again_after_it() {
    let (port, data) = services::private_postgres();
    let app = TestApp::spawn_configured(move |c| {
        c.database_url = format!("postgres://postgres@127.0.0.1:{port}/postgres").into();
        c.worker.heartbeat_ms = 250;
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let path = format!("/api/conversations/{conv}/messages");
    let send = || async {
        let body = serde_json::json!({"content": "still there?"});
        app.call(&token, reqwest::Method::POST, &path, Some(body))
            .await
    };
    // The test server runs with fsync off: write everything out so the crash loses nothing.
    sqlx::query("CHECKPOINT").execute(&app.pool).await.unwrap();
    services::stop_postgres(&data);

    // The outage's length is the scenario: longer than the pool's connection wait, so the
    // worker's queue fetch fails too. Meanwhile clients keep sending, 20 at a time.
    let outage = Instant::now();
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(6) {
        let wave = Instant::now();
        for r in futures::future::join_all((0..20).map(|_| send())).await {
            assert_eq!(r.status(), 503);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "dependency_down");
            refused += 1;
        }
        assert!(
            wave.elapsed() < Duration::from_secs(3),
            "20 sends refused in {:?}",
            wave.elapsed()
        );
    }
    assert!(refused >= 40, "{refused}");
    services::restart_postgres(&data, port);

    let accepted = wait::until(
        "the API to take messages again",
        Duration::from_secs(30),
        || async { send().await },
        |r| r.status() == 202,
    )
    .await;
    let sent: sluice_shared::dto::SentOut = accepted.json().await.unwrap();
    let events = tokio::time::timeout(
        Duration::from_secs(30),
        app.sse(&token, &sent.stream_url, None).await.collect(),
    )
    .await
    .expect("the answer is generated: the worker came back with Postgres");
    assert_eq!(events.last().unwrap().event, "done");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE conversation_id = $1")
            .bind(conv)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        stored, 2,
        "only the accepted question and its answer were stored"
    );
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
    // The outage's length (the scenario, not a wait for something).
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
    // One stream, made once, with the configuration every process asked for.
    use futures::StreamExt;
    let mut names: Vec<String> = js.stream_names().map(|n| n.unwrap()).collect().await;
    names.retain(|n| *n == subjects.stream_name());
    assert_eq!(names.len(), 1, "one events stream");
    let stream = js.get_stream(subjects.stream_name()).await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.config.subjects, [subjects.stream_filter()]);
    assert_eq!(info.config.max_age, age);
}
