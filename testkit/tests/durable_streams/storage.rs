//! Durable streams (`/v1/stream/…`) as Sluice adds to the protocol (the protocol itself is
//! `conformance.rs`; who may use a stream, `access.rs`):
//! every API node serves every stream live, bad input is refused with nothing stored, a
//! runaway writer is slowed down, deleted and expired streams' data leaves JetStream, and an
//! append whose API died before committing is stored once.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sluice_testkit::{
    SecondApi, TestApp,
    durable_streams::{Streams, header},
    wait,
};
use uuid::Uuid;

async fn stream_id(app: &TestApp, path: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM durable_streams WHERE path = $1")
        .bind(path)
        .fetch_one(&app.pool)
        .await
        .expect("the stream's row")
}

/// Whether JetStream still holds anything of stream `id`.
async fn has_data(app: &TestApp, id: Uuid) -> bool {
    let js = async_nats::jetstream::new(app.nats.clone());
    let subjects = sluice_shared::subjects::Subjects::new(&app.config.nats_prefix);
    let stream = js
        .get_stream(subjects.durable_stream_name())
        .await
        .expect("the durable stream");
    stream
        .direct_get_last_for_subject(subjects.durable(id))
        .await
        .is_ok()
}

#[tokio::test]
async fn every_api_node_serves_every_stream_live() {
    let app = TestApp::spawn_configured(|c| c.durable_streams.long_poll_timeout_ms = 20_000).await;
    let second = SecondApi::start(&app).await;
    let token = app.guest().await;
    let (one, two) = (
        Streams::new(&app.base, &token),
        Streams::new(&second.base, &token),
    );
    one.create("progress", "text/plain").await;

    // A reader on the second API, live by SSE from now; a long-poll there too.
    let sse = two
        .http
        .get(format!("{}?offset=now&live=sse", two.url("progress")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let mut events = sse.bytes_stream();
    let tail = header(
        &two.request(Method::HEAD, "progress").send().await.unwrap(),
        "stream-next-offset",
    )
    .unwrap();
    let poll = {
        let two = two.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = two
                .http
                .get(format!(
                    "{}?offset={tail}&live=long-poll",
                    two.url("progress")
                ))
                .bearer_auth(&two.credential)
                .send()
                .await
                .unwrap();
            (r.status(), started.elapsed(), r.text().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for step in ["10%", "50%", "100%"] {
        assert_eq!(
            one.append("progress", "text/plain", step).await.status(),
            204
        );
    }
    let (status, waited, body) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("10%"), "{body}");
    assert!(
        waited < Duration::from_secs(5),
        "the long-poll was woken, not timed out: {waited:?}"
    );
    let mut seen = String::new();
    while !seen.contains("data:100%") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the SSE reader on the other API gets every append")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter(|l| !l.starts_with('{'))
        .collect();
    assert_eq!(data.concat(), "10%50%100%", "{seen}");
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn_configured(|c| c.durable_streams.max_append_bytes = 1000).await;
    let token = app.guest().await;
    let s = Streams::new(&app.base, &token);
    s.create("events", "application/json").await;
    s.append("events", "application/json", r#"{"ok":true}"#)
        .await;
    let refusals: Vec<(reqwest::RequestBuilder, StatusCode)> = vec![
        (
            s.request(Method::POST, "events")
                .header("content-type", "application/json")
                .body(vec![b'1'; 1001]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            s.request(Method::POST, "events")
                .header("content-type", "application/json")
                .body("{nope"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::POST, "events")
                .header("content-type", "application/json")
                .body("[]"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::POST, "events")
                .header("content-type", "text/plain")
                .body("x"),
            StatusCode::CONFLICT,
        ),
        (
            s.request(Method::POST, "events").body("no type"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::POST, "events")
                .header("content-type", "application/json")
                .header("producer-id", "p")
                .header("producer-epoch", "abc")
                .header("producer-seq", "0")
                .body("1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::PUT, "events").header("stream-ttl", "-5"),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::GET, "events")
                .query(&[("offset", "yesterday")]),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::GET, &"x".repeat(1025)),
            StatusCode::BAD_REQUEST,
        ),
        (
            s.request(Method::PUT, "__ds/subscriptions"),
            StatusCode::NOT_FOUND,
        ),
        (
            s.request(Method::PATCH, "events"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (request, status) in refusals {
        let r = request.send().await.unwrap();
        let what = format!("{} → {}", r.url(), r.status());
        assert_eq!(r.status(), status, "{what}");
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|_| panic!("a JSON error: {what}"));
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
    }
    // JSON with NUL characters is data like any other (it goes to JetStream, not Postgres).
    assert_eq!(
        s.append("events", "application/json", r#"{"nul":"\u0000"}"#)
            .await
            .status(),
        204
    );
    assert_eq!(
        s.read_all("events").await,
        br#"[{"ok":true},{"nul":"\u0000"}]"#
    );
}

#[tokio::test]
async fn a_runaway_writer_is_slowed_down_and_nothing_refused_is_stored() {
    let app = TestApp::spawn_configured(|c| {
        c.durable_streams.appends_per_second = 1;
        // The create and three appends.
        c.durable_streams.append_burst = 4;
    })
    .await;
    let token = app.guest().await;
    let s = Streams::new(&app.base, &token);
    s.create("log", "text/plain").await;
    for line in ["a;", "b;", "c;"] {
        assert_eq!(s.append("log", "text/plain", line).await.status(), 204);
    }
    let refused = s.append("log", "text/plain", "d;").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("1"));
    assert_eq!(s.read_all("log").await, b"a;b;c;");
    // Another user is not slowed down by this one.
    let other = Streams::new(&app.base, &app.guest().await);
    other.create("log", "text/plain").await;
    assert_eq!(other.append("log", "text/plain", "x").await.status(), 204);
}

#[tokio::test]
async fn deleted_and_expired_streams_leave_jetstream() {
    let app = TestApp::spawn_configured(|c| c.durable_streams.sweep_secs = 1).await;
    let token = app.guest().await;
    let s = Streams::new(&app.base, &token);
    s.create("deleted", "text/plain").await;
    s.append("deleted", "text/plain", "bytes").await;
    let deleted = stream_id(&app, "deleted").await;
    let short = s
        .request(Method::PUT, "short-lived")
        .header("content-type", "text/plain")
        .header("stream-ttl", "1")
        .body("soon gone")
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 201);
    let expiring = stream_id(&app, "short-lived").await;
    assert!(has_data(&app, deleted).await && has_data(&app, expiring).await);

    assert_eq!(
        s.request(Method::DELETE, "deleted")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // Nobody reads the expiring one: the sweeper finds it.
    wait::until(
        "both streams' data is purged",
        Duration::from_secs(10),
        || async {
            (
                has_data(&app, deleted).await,
                has_data(&app, expiring).await,
            )
        },
        |held| *held == (false, false),
    )
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM durable_streams")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn an_append_whose_api_died_before_committing_is_stored_once() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let s = Streams::new(&app.base, &token);
    s.create("steps", "text/plain").await;
    let produce = |seq: u64, body: &'static str| {
        s.request(Method::POST, "steps")
            .header("content-type", "text/plain")
            .header("producer-id", "agent")
            .header("producer-epoch", "0")
            .header("producer-seq", seq.to_string())
            .body(body)
    };
    assert_eq!(produce(0, "one;").send().await.unwrap().status(), 200);
    // An API published the producer's next append to JetStream, then died before its row
    // said so (and before answering the producer).
    let subjects = sluice_shared::subjects::Subjects::new(&app.config.nats_prefix);
    let subject = subjects.durable(stream_id(&app, "steps").await);
    let js = async_nats::jetstream::new(app.nats.clone());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Sluice-Producer", "0 1 agent");
    js.publish_with_headers(subject, headers, "two;".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        s.read_all("steps").await,
        b"one;",
        "nothing uncommitted is read"
    );
    // The producer, never answered, sends it again: it was stored, once.
    let retried = produce(1, "two;").send().await.unwrap();
    assert_eq!(retried.status(), 204, "a duplicate");
    assert_eq!(header(&retried, "producer-seq").as_deref(), Some("1"));
    assert_eq!(produce(2, "three;").send().await.unwrap().status(), 200);
    assert_eq!(s.read_all("steps").await, b"one;two;three;");
}
