//! Settings → Provider keys in a real browser: a user saves their own OpenAI key, sees only its
//! last 4 characters (after a reload too), their next answer is made with it, and they can let
//! the server's key stand in, disable and remove it; a malformed key is refused in a sentence.

use std::time::Duration;

use serde_json::Value;
use sluice_testkit::{
    TestApp, chat_page::ChatPage, fake_openai::FakeOpenAi, webdriver::Chrome, with_fake_openai,
};

const OWN_KEY: &str = "sk-web-own-key-5550123456789-QRST";

async fn stored_row(app: &TestApp) -> Option<(bool, bool)> {
    sqlx::query_as("SELECT enabled, allow_server_fallback FROM provider_keys")
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_saves_their_own_key_sees_only_its_end_and_their_answers_use_it() {
    let fake = FakeOpenAi::start(4, Duration::from_millis(1)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "byok@example.com").await;
    page.open_settings().await;

    // A key with a space is refused in a sentence, and nothing is stored.
    chrome
        .type_into("#provider-key-value", "sk-has a-space-0000")
        .await;
    chrome.click("#add-provider-key button").await;
    let problem =
        "return document.querySelector('#provider-keys-section .form-error').textContent;";
    chrome
        .wait_until("the refusal is said", || async {
            chrome
                .js(problem, vec![])
                .await
                .as_str()
                .unwrap_or("")
                .contains("visible ASCII")
        })
        .await;
    assert_eq!(stored_row(&app).await, None);

    chrome
        .js(
            "document.querySelector('#provider-key-value').value = '';",
            vec![],
        )
        .await;
    chrome.type_into("#provider-key-value", OWN_KEY).await;
    chrome.click("#add-provider-key button").await;
    chrome
        .wait_for_element("#provider-keys li[data-provider='openai']")
        .await;
    let listed = chrome.text("#provider-keys").await;
    assert!(
        listed.contains("…QRST") && listed.contains("OpenAI"),
        "{listed}"
    );
    assert!(chrome.text("#provider-key-saved").await.contains("…QRST"));
    let field = "return document.querySelector('#provider-key-value').value;";
    assert_eq!(
        chrome.js(field, vec![]).await,
        Value::from(""),
        "the field is cleared"
    );
    chrome.screenshot("provider-keys").await;
    chrome.reload().await;
    chrome
        .wait_for_element("#provider-keys li[data-provider='openai']")
        .await;
    let page_text = chrome.js("return document.body.innerText;", vec![]).await;
    assert!(!page_text.as_str().unwrap().contains("5550123456789"));

    // Let the server's key stand in, then disable the key: both stored as shown.
    chrome.click("#fallback-openai").await;
    chrome
        .wait_until("the fallback saved", || async {
            stored_row(&app).await == Some((true, true))
        })
        .await;
    chrome
        .wait_for_element("#provider-keys li[data-provider='openai'] button")
        .await;
    chrome
        .click("#provider-keys li[data-provider='openai'] button")
        .await;
    chrome
        .wait_until("disabled", || async {
            chrome.text("#provider-keys").await.contains("disabled")
        })
        .await;
    assert_eq!(stored_row(&app).await, Some((false, true)));
    chrome
        .click("#provider-keys li[data-provider='openai'] button")
        .await;
    chrome
        .wait_until("in use again", || async {
            chrome.text("#provider-keys").await.contains("in use")
        })
        .await;

    // The next answer is made with it.
    chrome.goto(&app.url("/")).await;
    chrome.wait_for_element("#composer").await;
    page.send("answer with my key").await;
    page.wait_answer_ends().await;
    assert_eq!(page.answer_status().await, "done");
    let headers = fake.headers();
    let used = headers.last().unwrap()["authorization"].to_str().unwrap();
    assert_eq!(used, format!("Bearer {OWN_KEY}"));

    // Removed (after asking): gone from the page and the table.
    page.open_settings().await;
    let remove = "#provider-keys button[aria-label='Remove OpenAI key']";
    chrome.wait_for_element(remove).await;
    chrome.click(remove).await;
    chrome.accept_dialog().await;
    chrome
        .wait_until("the key is gone", || async {
            page.count("#provider-keys li").await == 0
        })
        .await;
    assert_eq!(stored_row(&app).await, None);
    assert!(page.uncaught_errors().await.as_array().unwrap().is_empty());
    chrome.quit().await;
}
