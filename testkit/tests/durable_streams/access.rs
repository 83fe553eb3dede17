//! Who may use a durable stream (`/v1/stream/…`): streams are their owners', a stream token
//! shares one stream read-only, and pages of any origin may use them without the browser's
//! credentials.

use futures::StreamExt;
use reqwest::Method;
use serde_json::json;
use sluice_testkit::{
    TestApp,
    durable_streams::{Streams, header, read_all},
};

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
