//! A durable stream read by Chromium's own `EventSource` on a page of another site: with a
//! stream token in the URL (no cookies, no headers), it shows every step of a JSON stream once
//! — after the response ends and the browser reconnects by itself (`Last-Event-ID`), too —
//! and closes when the stream is closed.

use reqwest::Method;
use serde_json::json;
use sluice_testkit::{TestApp, durable_streams::Streams, other_site, urlencode, webdriver::Chrome};

/// The README's example, as a page: each `data` event is a JSON array of steps.
const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>agent run</title>
<ol id="steps"></ol><p id="state">waiting</p><p>connections: <span id="opens">0</span></p>
<script>
  const src = new URLSearchParams(location.search).get("src");
  const steps = new EventSource(src);
  let opens = 0;
  steps.onopen = () => { document.getElementById("opens").textContent = ++opens; };
  steps.addEventListener("data", (e) => {
    for (const step of JSON.parse(e.data)) {
      const li = document.createElement("li");
      li.textContent = step.step;
      document.getElementById("steps").append(li);
    }
  });
  steps.addEventListener("control", (e) => {
    if (JSON.parse(e.data).streamClosed) {
      document.getElementById("state").textContent = "closed";
      steps.close();
    }
  });
</script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_follows_a_stream_once_through_reconnects() {
    // Responses end after a second: the browser reconnects on its own.
    let app = TestApp::spawn_configured(|c| c.durable_streams.sse_max_secs = 1).await;
    let owner = app.guest().await;
    let agent = Streams::new(&app.base, &owner);
    agent.create("runs/42", "application/json").await;
    let step = |name: &str| json!({ "step": name }).to_string();
    agent
        .append("runs/42", "application/json", step("plan"))
        .await;
    agent
        .append("runs/42", "application/json", step("search"))
        .await;

    let token = app
        .stream_token(&owner, json!({ "durable_stream": "runs/42" }))
        .await;
    let src = format!("{}?offset=-1&live=sse&token={token}", agent.url("runs/42"));
    let site = other_site::serve(PAGE).await;
    let chrome = Chrome::start(800, 500).await;
    chrome
        .goto(&format!("http://127.0.0.1:{site}/?src={}", urlencode(&src)))
        .await;
    let shown = || async {
        chrome
            .js(
                "return [...document.querySelectorAll('#steps li')].map(li => li.textContent)",
                vec![],
            )
            .await
    };
    chrome
        .wait_until("the steps so far are shown", || async {
            shown().await == json!(["plan", "search"])
        })
        .await;
    chrome
        .wait_until(
            "the browser reconnected after the response ended",
            || async { chrome.text("#opens").await.parse::<u32>().unwrap_or(0) >= 2 },
        )
        .await;
    agent
        .append("runs/42", "application/json", step("book"))
        .await;
    let closed = agent
        .request(Method::POST, "runs/42")
        .header("stream-closed", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 204);
    chrome
        .wait_until("the run's end is shown", || async {
            chrome.text("#state").await == "closed"
        })
        .await;
    assert_eq!(
        shown().await,
        json!(["plan", "search", "book"]),
        "each step once"
    );
    chrome.screenshot("durable_stream_event_source").await;
    // (The other site has no favicon: its 404 is the only message the console may hold.)
    let errors: Vec<String> = chrome.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("favicon.ico")),
        "{errors:?}"
    );
}
