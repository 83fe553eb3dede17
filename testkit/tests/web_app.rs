//! The web app in a real browser (headless Chromium over WebDriver) against the real stack:
//! what a person sees when they sign up, chat, reload mid-answer, stop an answer, or are sent
//! markup meant to run script. One screenshot per scenario lands in `target/screenshots/`.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, webdriver::Chrome};

const ENTER: &str = "\u{E007}";

/// The chat page, in a person's steps.
struct ChatPage<'a> {
    chrome: &'a Chrome,
}

impl ChatPage<'_> {
    async fn sign_up(&self, app: &TestApp, email: &str) {
        self.chrome.goto(&app.url("/")).await;
        self.chrome.click("#signin-toggle").await;
        self.chrome.type_into("#email", email).await;
        self.chrome
            .type_into("#password", "a long enough password")
            .await;
        self.chrome.click("#signin-submit").await;
        self.chrome.wait_for_element("#composer").await;
    }

    async fn send(&self, text: &str) {
        self.chrome
            .type_into("#composer", &format!("{text}{ENTER}"))
            .await;
        self.chrome.wait_for_element(".msg.assistant").await;
    }

    async fn answer_text(&self) -> String {
        let script = "const all = document.querySelectorAll('.msg.assistant .text'); \
                      return all.length ? all[all.length - 1].textContent : '';";
        self.chrome
            .js(script, vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn answer_status(&self) -> String {
        let script = "const all = document.querySelectorAll('.msg.assistant'); \
                      return all.length ? all[all.length - 1].dataset.status : '';";
        self.chrome
            .js(script, vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn wait_answer_ends(&self) {
        self.chrome
            .wait_until("the answer to end", || async {
                ["done", "cancelled", "error"].contains(&self.answer_status().await.as_str())
            })
            .await;
    }

    async fn conversation_id(&self) -> uuid::Uuid {
        let path = self.chrome.js("return location.pathname;", vec![]).await;
        path.as_str()
            .unwrap()
            .trim_start_matches("/c/")
            .parse()
            .expect("/c/{id}")
    }

    async fn csp_violations(&self) -> Value {
        self.chrome
            .js("return window.sluiceCspViolations;", vec![])
            .await
    }
}

/// The stored answers of a conversation, oldest first.
async fn stored_answers(app: &TestApp, conversation: uuid::Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT content, status FROM messages WHERE conversation_id = $1 AND role = 'assistant'
         ORDER BY created_at",
    )
    .bind(conversation)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_grows_on_screen_as_it_streams_and_ends_equal_to_the_stored_one() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 40).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "reader@example.com").await;
    page.send("Write a haiku about rivers").await;
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while page.answer_status().await != "done" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer ended within 30 s"
        );
        let text = page.answer_text().await;
        if !text.is_empty() && seen.last() != Some(&text) {
            seen.push(text);
        }
    }
    assert!(
        seen.len() >= 3,
        "the text grew over several observations: {seen:?}"
    );
    assert!(
        seen.windows(2)
            .all(|w| w[1].starts_with(&w[0]) || w[1].len() >= w[0].len())
    );
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        page.answer_text()
            .await
            .split_whitespace()
            .collect::<Vec<_>>(),
        stored[0].0.split_whitespace().collect::<Vec<_>>(),
        "screen text = stored text"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    chrome.screenshot("chat-answer").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_mid_answer_shows_the_answer_once_and_whole() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "reload@example.com").await;
    page.send("Tell me about durable streams").await;
    chrome
        .wait_until("some text on screen", || async {
            page.answer_text().await.len() > 5
        })
        .await;
    chrome.reload().await;
    chrome.wait_for_element(".msg.assistant").await;
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored[0].1, "done");
    assert_eq!(
        page.answer_text()
            .await
            .split_whitespace()
            .collect::<Vec<_>>(),
        stored[0].0.split_whitespace().collect::<Vec<_>>(),
        "no text lost or repeated"
    );
    chrome.screenshot("reload-mid-answer").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_the_answer_on_the_server_and_shows_it_stopped() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.pacing_ms = 100;
        c.demo.reply_tokens = 200;
    })
    .await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "stopper@example.com").await;
    page.send("Count slowly").await;
    chrome
        .wait_until("the answer to start", || async {
            !page.answer_text().await.is_empty()
        })
        .await;
    chrome.click("#stop").await;
    page.wait_answer_ends().await;
    assert_eq!(page.answer_status().await, "cancelled");
    assert!(
        chrome
            .text(".msg.assistant .status")
            .await
            .contains("Stopped")
    );
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored[0].1, "cancelled");
    let shown = page.answer_text().await;
    assert_eq!(
        shown.split_whitespace().collect::<Vec<_>>(),
        stored[0].0.split_whitespace().collect::<Vec<_>>(),
        "no more text arrived"
    );
    chrome.screenshot("stopped").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_messages_and_answers_renders_as_inert_text() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "xss@example.com").await;
    let attack = "<img src=x onerror=alert(1)> <script>alert(2)</script> \
                  [click](javascript:alert(3)) ![pic](javascript:alert(4)) **bold**";
    page.send(attack).await;
    page.wait_answer_ends().await;
    assert_eq!(chrome.dialog().await, None, "no dialog opened");
    let counts = chrome
        .js(
            "const m = document.getElementById('messages'); return [
               m.querySelectorAll('img, script, iframe').length,
               [...m.querySelectorAll('a')].filter(a => !/^https?:|^mailto:/.test(a.href)).length,
               m.querySelectorAll('.msg.user strong').length];",
            vec![],
        )
        .await;
    assert_eq!(counts, json!([0, 0, 0]), "no element came from the text");
    let user_text = chrome.text(".msg.user .text").await;
    assert!(
        user_text.contains("<img src=x onerror=alert(1)>"),
        "shown as typed: {user_text}"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    chrome.screenshot("xss-inert").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_conversation_url_shows_an_in_app_not_found() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(360, 740).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "lost@example.com").await;
    chrome
        .goto(&app.url(&format!("/c/{}", uuid::Uuid::now_v7())))
        .await;
    chrome.wait_for_element("#not-found").await;
    let overflow = chrome
        .js(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!(0), "no horizontal scroll at 360 px");
    chrome.screenshot("not-found-360px").await;
    chrome.quit().await;
}
