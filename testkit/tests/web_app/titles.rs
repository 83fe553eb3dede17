//! A conversation's title in a real browser: the first message titles it at once, and when the
//! first answer is in, the model's title (the demo model's rule: the key words) replaces it in
//! the header, the browser tab and the sidebar, without a reload.

use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_title_replaces_the_first_messages_in_place() {
    let app = TestApp::spawn_configured(|c| c.worker.auto_titles = true).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "titles@example.com").await;
    page.send("how do I plan the quarter?").await;
    page.wait_answer_ends().await;
    chrome
        .wait_until("the header shows the model's title", || async {
            chrome.text(".chat-title").await == "Plan Quarter"
        })
        .await;
    chrome
        .wait_until("the sidebar shows it", || async {
            chrome.text("#conversations li.active a.title").await == "Plan Quarter"
        })
        .await;
    assert_eq!(
        chrome.js("return document.title;", vec![]).await,
        serde_json::json!("Plan Quarter · Sluice")
    );
    chrome.screenshot("model-title").await;
    chrome.quit().await;
}
