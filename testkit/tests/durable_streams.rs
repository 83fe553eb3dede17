//! Durable streams (`/v1/stream/…`) as Sluice adds to the protocol (the protocol itself is
//! `durable_streams_conformance.rs`): streams are their owners', read-only sharing by stream
//! token, any origin may use them, every API node serves every stream live, bad input is
//! refused with nothing stored, deleted and expired streams' data leaves JetStream, and an
//! append whose API died before committing is never seen.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_testkit::{
    SecondApi, TestApp,
    durable_streams::{Streams, header, read_all},
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
async fn streams_are_their_owners() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.guest().await, app.guest().await);
    let anonymous = reqwest::Client::new()
        .put(app.url("/v1/stream/jobs/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        header(&anonymous, "www-authenticate").as_deref(),
        Some("Bearer")
    );

    let a = Streams::new(&app.base, &alice);
    a.create("jobs/1", "text/plain").await;
    assert_eq!(
        a.append("jobs/1", "text/plain", "alice's step")
            .await
            .status(),
        204
    );
    // Bob has a /v1/stream/jobs/1 of his own: Alice's is not his to read, write or delete.
    let b = Streams::new(&app.base, &bob);
    assert_eq!(
        b.request(Method::GET, "jobs/1")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    b.create("jobs/1", "text/plain").await;
    assert_eq!(
        b.append("jobs/1", "text/plain", "bob's").await.status(),
        204
    );
    let deleted = b.request(Method::DELETE, "jobs/1").send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(a.read_all("jobs/1").await, b"alice's step");
    // An API key acts for its user.
    let key = app.create_key(&alice, "agent").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        Streams::new(&app.base, &key).read_all("jobs/1").await,
        b"alice's step"
    );
}

#[tokio::test]
async fn a_stream_token_reads_one_stream_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let owner = Streams::new(&app.base, &token);
    owner.create("shared", "application/json").await;
    owner.create("private", "text/plain").await;
    owner
        .append("shared", "application/json", r#"{"step":1}"#)
        .await;
    owner.append("private", "text/plain", "secret").await;

    let read = app
        .stream_token(&token, json!({ "durable_stream": "/v1/stream/shared" }))
        .await;
    let anyone = reqwest::Client::new();
    let shared = format!("{}?token={read}", owner.url("shared"));
    assert_eq!(read_all(&anyone, &shared, None).await, br#"[{"step":1}]"#);
    let head = anyone.head(&shared).send().await.unwrap();
    assert_eq!(head.status(), 200);
    // Live too, as an EventSource would read it.
    let sse = anyone
        .get(format!("{shared}&offset=-1&live=sse"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&sse, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let first = sse.bytes_stream().next().await.unwrap().unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.starts_with("event: data\ndata:[{\"step\":1}]\n\n"),
        "{first}"
    );

    // Another stream: not there, as far as the token knows.
    let other = format!("{}?token={read}", owner.url("private"));
    assert_eq!(anyone.get(&other).send().await.unwrap().status(), 404);
    // Writing, creating, deleting need the owner's credentials.
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let r = anyone
            .request(method.clone(), &shared)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method}");
    }
    assert_eq!(owner.read_all("shared").await, br#"[{"step":1}]"#);
    // A chat stream's token reads no durable stream.
    let conversation = app.create_conversation(&token).await;
    let chat = app
        .stream_token(&token, json!({ "conversation_id": conversation }))
        .await;
    let r = anyone
        .get(format!("{}?token={chat}", owner.url("shared")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Deleted and created again: another stream, which the old token does not read.
    owner
        .request(Method::DELETE, "shared")
        .send()
        .await
        .unwrap();
    owner.create("shared", "application/json").await;
    assert_eq!(anyone.get(&shared).send().await.unwrap().status(), 404);
    // Tokens are minted only for streams that exist.
    let missing = app
        .call(
            &token,
            Method::POST,
            "/api/stream-tokens",
            Some(json!({ "durable_stream": "nope" })),
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn any_origin_may_use_streams_without_credentials_of_the_browser() {
    let app = TestApp::spawn_configured(|c| {
        // The API-wide CORS list (credentialed) must not stand in the way.
        c.cors.allowed_origins = vec!["https://console.example".into()];
    })
    .await;
    let token = app.guest().await;
    let owner = Streams::new(&app.base, &token);
    owner.create("steps", "text/plain").await;
    let preflight = app
        .http
        .request(Method::OPTIONS, owner.url("steps"))
        .header("origin", "https://agent-ui.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, producer-id, if-none-match",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&preflight, "access-control-allow-headers").unwrap();
    for h in [
        "authorization",
        "producer-id",
        "if-none-match",
        "stream-seq",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert!(
        preflight
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let read = owner
        .request(Method::GET, "steps")
        .header("origin", "https://console.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&read, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(
        read.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let exposed = header(&read, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("stream-next-offset") && exposed.contains("stream-sse-data-encoding"));
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
