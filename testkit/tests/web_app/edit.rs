//! Edit and resend in the web app: an edited message is sent as a new version with a new
//! answer; the old version and the branch after it stay browsable with ‹ 1/2 ›, across a
//! reload, and only the current branch offers Edit.

use serde_json::json;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

/// The text of every message shown, in order.
async fn shown(chrome: &Chrome) -> serde_json::Value {
    chrome
        .js(
            "return [...document.querySelectorAll('.msg:not([hidden])')]
               .map(m => m.classList.contains('user') ? 'Q: ' + m.querySelector('.text').textContent : 'A');",
            vec![],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_message_is_a_new_version_and_the_old_branch_stays_browsable() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "edit@example.com").await;
    page.send("first question").await;
    page.wait_answer_ends().await;
    page.send("second question").await;
    page.wait_answer_ends().await;

    chrome.click(".msg.user .edit").await;
    chrome.wait_for_element(".edit-box").await;
    chrome
        .js("document.querySelector('.edit-box').value = '';", vec![])
        .await;
    chrome.type_into(".edit-box", "first, edited\u{E007}").await;
    chrome
        .wait_until("the edited version and its answer", || async {
            shown(&chrome).await == json!(["Q: first, edited", "A"])
        })
        .await;
    page.wait_answer_ends().await;
    assert_eq!(
        chrome.text(".msg.user:not([hidden]) .position").await,
        "2/2"
    );
    chrome.screenshot("edited-message").await;

    // Back to the first version: its whole branch, without Edit (it was replaced).
    chrome.click(".msg.user:not([hidden]) .previous").await;
    assert_eq!(
        shown(&chrome).await,
        json!(["Q: first question", "A", "Q: second question", "A"])
    );
    assert_eq!(
        chrome.text(".msg.user:not([hidden]) .position").await,
        "1/2"
    );
    assert_eq!(
        page.count(".msg:not([hidden]) .edit").await,
        0,
        "a branch left behind is read-only"
    );
    let focused = "return document.activeElement.className;";
    assert_eq!(
        chrome.js(focused, vec![]).await,
        json!("icon next"),
        "the focus stays on ‹ ›"
    );
    chrome.screenshot("edited-message-old-branch").await;
    chrome.click(".msg.user:not([hidden]) .next").await;
    assert_eq!(shown(&chrome).await, json!(["Q: first, edited", "A"]));

    // The same after a reload: the newest version shown, the old one a click away.
    chrome.reload().await;
    chrome
        .wait_for_element(".msg.user:not([hidden]) .position")
        .await;
    assert_eq!(shown(&chrome).await, json!(["Q: first, edited", "A"]));
    assert_eq!(
        chrome.text(".msg.user:not([hidden]) .position").await,
        "2/2"
    );
    chrome.click(".msg.user:not([hidden]) .previous").await;
    assert_eq!(
        shown(&chrome).await,
        json!(["Q: first question", "A", "Q: second question", "A"])
    );

    // A follow-up sent while the old branch is on screen goes on the current branch, which
    // the view returns to.
    page.send("third question").await;
    page.wait_answer_ends().await;
    assert_eq!(
        shown(&chrome).await,
        json!(["Q: first, edited", "A", "Q: third question", "A"])
    );
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_can_be_cancelled_and_keeps_the_message_as_it_was() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "edit-cancel@example.com").await;
    page.send("as it was").await;
    page.wait_answer_ends().await;
    chrome.click(".msg.user .edit").await;
    chrome.type_into(".edit-box", " and more").await;
    chrome.type_into(".edit-box", "\u{E00C}").await; // Escape
    chrome
        .wait_until("the editor closes", || async {
            page.count(".edit-box").await == 0
        })
        .await;
    assert_eq!(shown(&chrome).await, json!(["Q: as it was", "A"]));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 2, "nothing was sent");
    chrome.quit().await;
}
