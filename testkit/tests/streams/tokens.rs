//! Scoped stream tokens (`POST /api/stream-tokens`): a token reads the one stream it was minted
//! for, as `?token=` with no other credential, and nothing else — not another stream, not any
//! other route, not a new token — and only for its few minutes. And CORS: a page on a listed
//! origin streams an answer with one in a real browser; a page on an unlisted origin is refused
//! by the browser.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_testkit::{
    TestApp, other_site, sse::SseStream, sse::answer_text, urlencode, webdriver::Chrome,
};
use uuid::Uuid;

async fn mint(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(
        token,
        reqwest::Method::POST,
        "/api/stream-tokens",
        Some(body),
    )
    .await
}

/// `GET path?token=…` with no other credential.
async fn with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("{path}?token={token}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stream_token_reads_its_answer_and_nothing_else() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let conversation = app.create_conversation(&owner).await;
    let a = app
        .send_answered(&owner, conversation, "first question")
        .await;
    let b = app
        .send_answered(&owner, conversation, "second question")
        .await;
    let (a_id, b_id) = (a.assistant_message.id, b.assistant_message.id);
    let token = app
        .stream_token(&owner, json!({ "message_id": a_id }))
        .await;

    let read = with_token(&app, &format!("/api/messages/{a_id}/stream"), &token).await;
    assert_eq!(read.status(), 200);
    let text = answer_text(&SseStream::new(read).collect().await);
    let stored = app.message(&owner, a_id).await;
    assert_eq!(text, stored["content"].as_str().unwrap());

    // Another answer, even of the same conversation, and the conversation's own stream: no.
    let other = with_token(&app, &format!("/api/messages/{b_id}/stream"), &token).await;
    assert_eq!(other.status(), 403);
    let events = format!("/api/conversations/{conversation}/events");
    assert_eq!(with_token(&app, &events, &token).await.status(), 403);

    // It is no credential anywhere else: as a bearer token, or as ?token= on other routes.
    for (method, path) in [
        (reqwest::Method::GET, "/api/conversations".to_string()),
        (reqwest::Method::GET, format!("/api/messages/{a_id}")),
        (
            reqwest::Method::POST,
            format!("/api/messages/{a_id}/cancel"),
        ),
        (reqwest::Method::POST, "/api/stream-tokens".to_string()),
    ] {
        let body = json!({ "message_id": a_id });
        let bearer = app
            .call(&token, method.clone(), &path, Some(body.clone()))
            .await;
        assert_eq!(bearer.status(), 401, "{method} {path} as bearer");
        let query = app
            .http
            .request(method.clone(), app.url(&format!("{path}?token={token}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(query.status(), 401, "{method} {path}?token=");
    }
    let sent = app
        .call(
            &token,
            reqwest::Method::POST,
            &format!("/api/conversations/{conversation}/messages"),
            Some(json!({ "content": "sneaky" })),
        )
        .await;
    assert_eq!(sent.status(), 401, "it cannot send");
}

#[tokio::test]
async fn a_conversation_token_follows_the_conversation_and_only_its_owner_can_mint_one() {
    let app = TestApp::spawn().await;
    let owner = app.guest().await;
    let stranger = app.guest().await;
    let conversation = app.create_conversation(&owner).await;
    assert_eq!(
        mint(&app, &stranger, json!({ "conversation_id": conversation }))
            .await
            .status(),
        404,
        "another user's conversation does not exist for them"
    );
    assert_eq!(
        mint(
            &app,
            &owner,
            json!({ "conversation_id": Uuid::now_v7(), "message_id": Uuid::now_v7() })
        )
        .await
        .status(),
        400
    );
    let token = app
        .stream_token(&owner, json!({ "conversation_id": conversation }))
        .await;
    let events = format!("/api/conversations/{conversation}/events");
    let opened = with_token(&app, &events, &token).await;
    assert_eq!(opened.status(), 200);
    let mut live = SseStream::new(opened);
    let sent = app.send(&owner, conversation, "hello there").await;
    let mut got = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), live.next())
        .await
        .expect("events within 20 s")
    {
        let end = event.is_terminal();
        got.push(event);
        if end {
            break;
        }
    }
    let stored = app.message(&owner, sent.assistant_message.id).await;
    assert_eq!(answer_text(&got), stored["content"].as_str().unwrap());
}

#[tokio::test]
async fn a_stream_opened_with_a_token_ends_when_the_token_expires() {
    let app = TestApp::spawn_configured(|c| c.stream_token_ttl_secs = 2).await;
    let owner = app.guest().await;
    let conversation = app.create_conversation(&owner).await;
    let token = app
        .stream_token(&owner, json!({ "conversation_id": conversation }))
        .await;
    let events = format!("/api/conversations/{conversation}/events");
    let opened = with_token(&app, &events, &token).await;
    assert_eq!(opened.status(), 200);
    let started = std::time::Instant::now();
    let mut live = SseStream::new(opened);
    // A conversation's stream never ends by itself; this one ends with its token's 2 s.
    let end = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("the stream ended");
    assert!(end.is_none(), "{end:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_expired_stream_token_is_refused() {
    let app = TestApp::spawn_configured(|c| c.stream_token_ttl_secs = 1).await;
    let owner = app.guest().await;
    let conversation = app.create_conversation(&owner).await;
    let sent = app.send_answered(&owner, conversation, "short lived").await;
    let id = sent.assistant_message.id;
    let token = app.stream_token(&owner, json!({ "message_id": id })).await;
    // The token's whole life (1 s), and a second more: this is the scenario's own time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = with_token(&app, &format!("/api/messages/{id}/stream"), &token).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

/// A page of another site's: streams the answer at `src` with `EventSource`, no cookies.
const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>other site</title>
<pre id="text"></pre><p id="state">waiting</p>
<script>
  const src = new URLSearchParams(location.search).get("src");
  const events = new EventSource(src);
  let text = "";
  const show = () => { document.getElementById("text").textContent = text; };
  events.addEventListener("token", (e) => { text += JSON.parse(e.data).delta; show(); });
  events.addEventListener("reset", () => { text = ""; show(); });
  events.addEventListener("done", () => {
    document.getElementById("state").textContent = "done";
    events.close();
  });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      document.getElementById("state").textContent = "refused";
    }
  };
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_listed_origin_streams_with_a_token_and_an_unlisted_one_is_refused() {
    let site = other_site::serve(PAGE).await;
    let listed = format!("http://127.0.0.1:{site}");
    let allowed = listed.clone();
    let app = TestApp::spawn_configured(move |c| c.cors.allowed_origins = vec![allowed]).await;
    let owner = app.guest().await;
    let conversation = app.create_conversation(&owner).await;
    let sent = app
        .send_answered(&owner, conversation, "across origins")
        .await;
    let id = sent.assistant_message.id;
    let stored = app.message(&owner, id).await;
    let chrome = Chrome::start(900, 600).await;

    // The page's own backend minted the token and hands it to the page in the URL.
    let token = app.stream_token(&owner, json!({ "message_id": id })).await;
    let src = app.url(&format!("/api/messages/{id}/stream?token={token}"));
    let query = format!("?src={}", urlencode(&src));
    chrome.goto(&format!("{listed}/{query}")).await;
    chrome
        .wait_until("the answer streamed on the listed origin", || async {
            chrome.text("#state").await == "done"
        })
        .await;
    assert_eq!(
        chrome.text("#text").await,
        stored["content"].as_str().unwrap()
    );
    chrome.screenshot("cross_origin_listed").await;

    chrome
        .goto(&format!("http://localhost:{site}/{query}"))
        .await;
    chrome
        .wait_until("the browser refused the unlisted origin", || async {
            chrome.text("#state").await == "refused"
        })
        .await;
    assert_eq!(chrome.text("#text").await, "", "no text reached the page");
    chrome.screenshot("cross_origin_unlisted").await;
    // It was the browser's CORS check, not the API, that refused: the API answers the same
    // request, but grants that origin nothing.
    let asked = app
        .http
        .get(&src)
        .header("origin", format!("http://localhost:{site}"))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    assert!(asked.headers().get("access-control-allow-origin").is_none());
    chrome.quit().await;
}

#[tokio::test]
async fn preflights_are_answered_for_listed_origins_only_and_never_with_a_wildcard() {
    let app = TestApp::spawn_configured(|c| {
        c.cors.allowed_origins = vec!["https://app.example.com".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/conversations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let listed = preflight("https://app.example.com").await.unwrap();
    let headers = listed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "3600");
    let unlisted = preflight("https://evil.example.net").await.unwrap();
    assert!(
        unlisted
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
