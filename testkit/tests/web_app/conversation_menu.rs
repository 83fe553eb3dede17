//! The chat header's menu (⋯): the conversation's system prompt — edited in a dialog, sent to
//! the model with the next answer, cleared back to the server's default — and rename and
//! delete, by mouse or keyboard.

use serde_json::json;
use sluice_testkit::{
    TestApp, chat_page::ChatPage, fake_openai::FakeOpenAi, webdriver::Chrome, with_fake_openai,
};

/// The system message of the provider request `n` (0 = the first).
fn system_prompt_sent(fake: &FakeOpenAi, n: usize) -> String {
    let prompts = fake.prompts();
    let messages = &prompts[n]["messages"];
    assert_eq!(messages[0]["role"], "system", "{messages}");
    messages[0]["content"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_prompt_is_edited_from_the_header_menu_and_reaches_the_model() {
    let fake = FakeOpenAi::start(4, std::time::Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let default = app.config.system_prompt.clone();
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "menu@example.com").await;
    assert!(
        chrome
            .js(
                "return document.getElementById('conversation-menu-button').hidden;",
                vec![]
            )
            .await
            == json!(true),
        "no menu before there is a conversation"
    );
    page.send("first").await;
    page.wait_answer_ends().await;
    assert_eq!(system_prompt_sent(&fake, 0), default);

    chrome.click("#conversation-menu-button").await;
    chrome
        .wait_for_element("#conversation-menu:not([hidden])")
        .await;
    chrome.screenshot("conversation-menu").await;
    chrome.click("#menu-system-prompt").await;
    chrome.wait_for_element("#system-prompt-dialog[open]").await;
    chrome
        .type_into("#system-prompt", "Answer like a pirate.")
        .await;
    chrome.screenshot("system-prompt-dialog").await;
    chrome
        .click("#system-prompt-dialog button[type='submit']")
        .await;
    chrome
        .wait_until("the dialog closes", || async {
            page.count("#system-prompt-dialog").await == 0
        })
        .await;
    let conversation = page.conversation_id().await;
    let stored: Option<String> =
        sqlx::query_scalar("SELECT system_prompt FROM conversations WHERE id = $1")
            .bind(conversation)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("Answer like a pirate."));
    page.send("second").await;
    page.wait_answer_ends().await;
    assert_eq!(system_prompt_sent(&fake, 1), "Answer like a pirate.");

    // Reopened, the dialog shows it; emptied, the server's default applies again.
    chrome.click("#conversation-menu-button").await;
    chrome.click("#menu-system-prompt").await;
    chrome
        .wait_until("the saved prompt is shown", || async {
            chrome
                .js(
                    "return document.getElementById('system-prompt')?.value;",
                    vec![],
                )
                .await
                == json!("Answer like a pirate.")
        })
        .await;
    chrome
        .js(
            "document.getElementById('system-prompt').value = '';",
            vec![],
        )
        .await;
    chrome
        .click("#system-prompt-dialog button[type='submit']")
        .await;
    chrome
        .wait_until("the dialog closes", || async {
            page.count("#system-prompt-dialog").await == 0
        })
        .await;
    page.send("third").await;
    page.wait_answer_ends().await;
    assert_eq!(system_prompt_sent(&fake, 2), default);
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_menu_works_from_the_keyboard_and_renames() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "menu-keys@example.com").await;
    page.send("first").await;
    page.wait_answer_ends().await;
    chrome.click("#conversation-menu-button").await;
    let focused = "return document.activeElement.id;";
    assert_eq!(
        chrome.js(focused, vec![]).await,
        json!("menu-system-prompt")
    );
    let key = |k: &'static str| {
        format!(
            "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {{ key: '{k}', bubbles: true }}));"
        )
    };
    chrome.js(&key("ArrowDown"), vec![]).await;
    assert_eq!(chrome.js(focused, vec![]).await, json!("menu-rename"));
    chrome.js(&key("ArrowUp"), vec![]).await;
    chrome.js(&key("ArrowUp"), vec![]).await;
    assert_eq!(
        chrome.js(focused, vec![]).await,
        json!("menu-delete"),
        "wraps around"
    );
    chrome.js(&key("Escape"), vec![]).await;
    assert_eq!(
        chrome.js(focused, vec![]).await,
        json!("conversation-menu-button")
    );
    assert_eq!(page.count("#conversation-menu:not([hidden])").await, 0);

    chrome.click("#conversation-menu-button").await;
    chrome.click("#menu-rename").await;
    chrome.answer_prompt("Named from the menu").await;
    chrome
        .wait_until("the header shows the new title", || async {
            chrome.text(".chat-title").await == "Named from the menu"
        })
        .await;
    assert_eq!(
        chrome.text("#conversations li.active a.title").await,
        "Named from the menu"
    );
    chrome.quit().await;
}
