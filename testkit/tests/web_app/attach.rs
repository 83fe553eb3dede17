//! Attachments in a real browser: a file picked with the composer's attach button and one
//! dropped onto the chat upload with their chips; sent with the question, they reach the model
//! (the demo says what it was shown), the question lists them as downloads, and a chip removed
//! before sending deletes its file.

use serde_json::json;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_picked_or_dropped_go_with_the_question() {
    // The guide reply: the demo model starts it by naming what it was shown.
    let app =
        TestApp::spawn_configured(|c| c.demo.reply = sluice_shared::config::DemoReply::Guide).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "attach@example.com").await;

    // Picked with the button's file chooser (WebDriver types the path into the input).
    let dir = std::env::temp_dir().join(format!("sluice-attach-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "The launch code is PELICAN-42.").unwrap();
    chrome
        .js(
            "document.getElementById('attach-input').hidden = false;",
            vec![],
        )
        .await;
    chrome
        .type_into("#attach-input", &notes.display().to_string())
        .await;
    // Dropped onto the chat, as a file manager drops one.
    let drop = "const data = new DataTransfer();
                data.items.add(new File(['a'.repeat(300000)], 'dropped.md', { type: 'text/markdown' }));
                const chat = document.querySelector('section.chat');
                chat.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
                const highlighted = chat.classList.contains('dropping');
                chat.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
                return highlighted;";
    assert_eq!(
        chrome.js(drop, vec![]).await,
        json!(true),
        "the chat shows where to drop"
    );
    let ready = "return [...document.querySelectorAll('#attachments .file-chip')].map((c) => c.dataset.state);";
    chrome
        .wait_until("both uploads", || async {
            chrome.js(ready, vec![]).await == json!(["ready", "ready"])
        })
        .await;
    chrome.screenshot("attach-ready").await;

    page.send("What do these say?").await;
    page.wait_answer_ends().await;
    let answer = page.answer_text().await;
    let shown = "I was shown \"notes.txt\" (30 characters of text), \"dropped.md\" (";
    assert!(answer.starts_with(shown), "{answer}");
    // 300,000 characters do not fit the demo model's 8k context: it was given what does.
    let given: usize = answer[shown.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((10_000..300_000).contains(&given), "{answer}");
    let links = "return [...document.querySelectorAll('.msg.user .files a')].map((a) => [a.textContent, a.getAttribute('href')]);";
    let links = chrome.js(links, vec![]).await;
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links[0][0].as_str().unwrap().ends_with("notes.txt"));
    assert!(links[0][1].as_str().unwrap().starts_with("/api/files/"));
    assert_eq!(
        chrome
            .js(
                "return document.getElementById('attachments').hidden;",
                vec![]
            )
            .await,
        json!(true),
        "the tray is empty"
    );
    chrome
        .js(
            "document.querySelector('.msg.user').scrollIntoView();",
            vec![],
        )
        .await;
    chrome.screenshot("attach-sent").await;

    // A chip removed before sending deletes its file.
    chrome
        .js(
            "document.getElementById('attach-input').hidden = false;",
            vec![],
        )
        .await;
    chrome
        .type_into("#attach-input", &notes.display().to_string())
        .await;
    chrome
        .wait_until("the upload", || async {
            chrome.js(ready, vec![]).await == json!(["ready"])
        })
        .await;
    chrome.click("#attachments .file-chip button").await;
    let files =
        "return fetch('/api/files').then((r) => r.json()).then((j) => j.items.map((f) => f.name));";
    chrome
        .wait_until("the removed file to be deleted", || async {
            chrome.js(files, vec![]).await == json!(["dropped.md", "notes.txt"])
        })
        .await;
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
    std::fs::remove_dir_all(dir).unwrap();
}
