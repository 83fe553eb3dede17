//! The web app at its edges, in a real browser: long conversations load older pages on scroll
//! up, a double-click sends once, a send into a conversation deleted elsewhere keeps the typed
//! text and says what happened.

use serde_json::json;
use sluice_testkit::{TestApp, webdriver::Chrome};

async fn sign_up(chrome: &Chrome, app: &TestApp, email: &str) {
    chrome.goto(&app.url("/")).await;
    chrome.click("#signin-toggle").await;
    chrome.type_into("#email", email).await;
    chrome
        .type_into("#password", "a long enough password")
        .await;
    chrome.click("#signin-submit").await;
    chrome.wait_for_element("#composer").await;
}

async fn count(chrome: &Chrome, css: &str) -> u64 {
    let script = "return document.querySelectorAll(arguments[0]).length;";
    chrome.js(script, vec![json!(css)]).await.as_u64().unwrap()
}

/// The conversation this page shows.
async fn conversation_id(chrome: &Chrome) -> uuid::Uuid {
    let path = chrome.js("return location.pathname;", vec![]).await;
    path.as_str()
        .unwrap()
        .trim_start_matches("/c/")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_shows_its_end_first_and_older_pages_on_scroll_up() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    sign_up(&chrome, &app, "long@example.com").await;
    chrome.type_into("#composer", "message 0\u{E007}").await;
    chrome
        .wait_until("the first answer", || async {
            count(&chrome, ".msg.assistant[data-status='done']").await == 1
        })
        .await;
    let conversation = conversation_id(&chrome).await;
    // 39 more exchanges, written straight to the database (the worker is not what is tested).
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, status, created_at, reply_to)
         SELECT gen_random_uuid(), c.id, c.user_id, r.role, r.content, r.status,
                now() + (n * 2 + r.k) * interval '1 millisecond', NULL
         FROM conversations c, generate_series(1, 39) n,
              LATERAL (VALUES ('user', 'message ' || n, 'complete', 0),
                              ('assistant', 'answer ' || n, 'done', 1)) AS r(role, content, status, k)
         WHERE c.id = $1",
    )
    .bind(conversation)
    .execute(&app.pool)
    .await
    .unwrap();
    chrome.reload().await;
    chrome.wait_for_element(".msg").await;
    assert_eq!(count(&chrome, ".msg").await, 30, "the latest page first");
    assert!(chrome.text(".msg:last-of-type").await.contains("answer 39"));
    chrome
        .wait_until("every page, scrolling up", || async {
            chrome
                .js("document.getElementById('messages').scrollTop = 0;", vec![])
                .await;
            count(&chrome, ".msg").await == 80
        })
        .await;
    let order = chrome
        .js(
            "return [...document.querySelectorAll('.msg.user .text')].map(e => e.textContent);",
            vec![],
        )
        .await;
    let expected: Vec<String> = (0..40).map(|n| format!("message {n}")).collect();
    assert_eq!(order, json!(expected), "in order, each once");
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_on_send_sends_once() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    sign_up(&chrome, &app, "double@example.com").await;
    chrome.type_into("#composer", "only once").await;
    chrome
        .js(
            "const b = document.getElementById('send'); b.click(); b.click();",
            vec![],
        )
        .await;
    chrome
        .wait_until("the answer", || async {
            count(&chrome, ".msg.assistant[data-status='done']").await == 1
        })
        .await;
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'user'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    assert_eq!(count(&chrome, ".msg.user").await, 1);
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_into_a_conversation_deleted_elsewhere_keeps_the_text_and_says_why() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    sign_up(&chrome, &app, "deleted@example.com").await;
    chrome.type_into("#composer", "first\u{E007}").await;
    chrome.wait_for_element(".msg.assistant").await;
    let conversation = conversation_id(&chrome).await;
    // Another tab deletes it.
    sqlx::query("DELETE FROM conversations WHERE id = $1")
        .bind(conversation)
        .execute(&app.pool)
        .await
        .unwrap();
    chrome
        .type_into("#composer", "are you there?\u{E007}")
        .await;
    chrome
        .wait_until("the notice", || async {
            chrome.text("#composer-error").await.contains("deleted")
        })
        .await;
    let typed = chrome
        .js("return document.getElementById('composer').value;", vec![])
        .await;
    assert_eq!(typed, json!("are you there?"), "the typed text is kept");
    chrome.screenshot("deleted-elsewhere").await;
    chrome.quit().await;
}
