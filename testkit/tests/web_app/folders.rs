//! Folders and favorites in a real browser: a folder made from the sidebar, a conversation
//! moved into it from the header menu (and shown there, not under Chats), another starred onto
//! the Favorites on top; all of it still so after a reload; the folder deleted and its
//! conversation back under Chats, kept.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

async fn shown_in(chrome: &Chrome, list: &str, id: uuid::Uuid) -> bool {
    let script = "return !!document.querySelector(arguments[0]);";
    let css = format!("{list} li[data-id='{id}']");
    chrome.js(script, vec![json!(css)]).await == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_is_filed_in_a_folder_another_starred_and_the_folder_deleted() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "folders@example.com").await;
    page.send("plan the quarter").await;
    page.wait_answer_ends().await;
    let plan = page.conversation_id().await;
    chrome.click("#new-chat").await;
    page.send("garden ideas").await;
    page.wait_answer_ends().await;
    let garden = page.conversation_id().await;
    assert!(shown_in(&chrome, "#conversations", plan).await);

    // A folder made from the sidebar.
    chrome.click("#new-folder").await;
    chrome.answer_prompt("Work").await;
    chrome.wait_for_element("#folders li.folder").await;
    assert!(chrome.text("#folders").await.contains("Work"));

    // The first conversation moved into it from the header menu.
    chrome.goto(&app.url(&format!("/c/{plan}"))).await;
    chrome
        .wait_for_element("#conversation-menu-button:not([hidden])")
        .await;
    chrome.click("#conversation-menu-button").await;
    chrome.click("#menu-move").await;
    chrome
        .wait_for_element("#move-folder:not([disabled])")
        .await;
    chrome
        .js(
            "const s = document.getElementById('move-folder');
             s.value = [...s.options].find((o) => o.text === 'Work').value;",
            vec![],
        )
        .await;
    chrome.click("#move-dialog button[type=submit]").await;
    chrome
        .wait_until("it leaves Chats", || async {
            !shown_in(&chrome, "#conversations", plan).await
        })
        .await;
    chrome
        .wait_until("the folder counts it", || async {
            chrome.text("#folders li.folder .count").await == "1"
        })
        .await;
    chrome.click("#folders li.folder summary").await;
    chrome
        .wait_for_element(&format!("#folders li.folder li[data-id='{plan}']"))
        .await;

    // The second starred from the sidebar (its buttons show on the open one): on top, under
    // Favorites.
    chrome
        .click(&format!("#conversations li[data-id='{garden}'] a"))
        .await;
    chrome
        .click(&format!(
            "#conversations li[data-id='{garden}'].active button.star"
        ))
        .await;
    chrome
        .wait_for_element(&format!("#favorites li[data-id='{garden}']"))
        .await;
    assert!(!shown_in(&chrome, "#conversations", garden).await);
    let hidden = "return document.getElementById('favorites-section').hidden;";
    assert_eq!(chrome.js(hidden, vec![]).await, json!(false));
    chrome.screenshot("folders-and-favorites").await;

    // Stored, so a reload shows the same.
    chrome.reload().await;
    chrome
        .wait_for_element(&format!("#favorites li[data-id='{garden}']"))
        .await;
    chrome.click("#folders li.folder summary").await;
    chrome
        .wait_for_element(&format!("#folders li.folder li[data-id='{plan}']"))
        .await;

    // The folder deleted: its conversation kept, back under Chats.
    chrome
        .click("#folders li.folder button[title='Delete folder']")
        .await;
    chrome.accept_dialog().await;
    chrome
        .wait_until("the folder goes", || async {
            chrome
                .js(
                    "return document.querySelectorAll('#folders li.folder').length;",
                    vec![],
                )
                .await
                == json!(0)
        })
        .await;
    assert!(shown_in(&chrome, "#conversations", plan).await);
    let stored: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT group_id FROM conversations WHERE id = $1")
            .bind(plan)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, None);
    assert_eq!(page.csp_violations().await, Value::Array(vec![]));
    assert_eq!(page.uncaught_errors().await, Value::Array(vec![]));
    chrome.quit().await;
}
