//! Settings → Your data in a real browser: the account's zip is a link away, and an export
//! chosen in the file picker is imported with its progress shown — the sidebar lists the
//! imported conversations at once; a bad file says which record is wrong.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

fn chatgpt(title: &str, question: &str, answer: &str, at: f64) -> Value {
    json!({
        "title": title, "create_time": at, "update_time": at + 2.0, "current_node": "a",
        "mapping": {
            "root": { "id": "root", "message": null, "parent": null, "children": ["q"] },
            "q": { "id": "q", "parent": "root", "children": ["a"], "message": {
                "author": { "role": "user" }, "create_time": at + 1.0,
                "content": { "content_type": "text", "parts": [question] } } },
            "a": { "id": "a", "parent": "q", "children": [], "message": {
                "author": { "role": "assistant" },
                "content": { "content_type": "text", "parts": [answer] } } }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_chosen_in_settings_is_imported_into_the_sidebar() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "import@example.com").await;
    page.open_settings().await;
    let href = chrome
        .js(
            "return document.getElementById('export-all').getAttribute('href');",
            vec![],
        )
        .await;
    assert_eq!(href, json!("/api/export"));

    let dir = std::env::temp_dir().join(format!("sluice-import-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("conversations.json");
    let file = json!([
        chatgpt(
            "Lisbon weekend",
            "What to see in Lisbon?",
            "The tram 28.",
            1_700_000_000.0
        ),
        chatgpt(
            "Sourdough",
            "Why is my bread flat?",
            "Proof it longer.",
            1_700_100_000.0
        ),
    ]);
    std::fs::write(&good, serde_json::to_vec(&file).unwrap()).unwrap();
    chrome
        .type_into("#import-file", &good.display().to_string())
        .await;
    chrome.click("#import-button").await;
    chrome
        .wait_until("the import's report", || async {
            chrome.text("#import-done").await.starts_with("Imported")
        })
        .await;
    assert_eq!(
        chrome.text("#import-done").await,
        "Imported 2 conversations (4 messages)."
    );
    chrome
        .wait_until("the sidebar to list them", || async {
            let titles = chrome
                .js("return [...document.querySelectorAll('#sidebar li[data-id]')].map((li) => li.textContent);", vec![])
                .await;
            let titles = titles.to_string();
            titles.contains("Lisbon weekend") && titles.contains("Sourdough")
        })
        .await;
    chrome.screenshot("import-done").await;

    // A file whose second conversation is broken: the error names it, nothing is added.
    let mut broken = chatgpt("Broken", "?", "!", 1.0);
    broken["current_node"] = json!("nowhere");
    let bad = dir.join("bad.json");
    let file = json!([chatgpt("Fine", "q", "a", 1.0), broken]);
    std::fs::write(&bad, serde_json::to_vec(&file).unwrap()).unwrap();
    chrome
        .type_into("#import-file", &bad.display().to_string())
        .await;
    chrome.click("#import-button").await;
    chrome
        .wait_until("the import's error", || async {
            !chrome.text("#import-error").await.is_empty()
        })
        .await;
    let said = chrome.text("#import-error").await;
    assert!(
        said.starts_with("Bad.json, conversation 2 (\"Broken\")"),
        "{said}"
    );
    chrome.screenshot("import-refused").await;
    let listed = "return document.querySelectorAll('#sidebar li[data-id]').length;";
    assert_eq!(
        chrome.js(listed, vec![]).await,
        json!(2),
        "nothing of it imported"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
    std::fs::remove_dir_all(dir).unwrap();
}
