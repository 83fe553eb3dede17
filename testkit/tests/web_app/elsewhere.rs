//! Changes made in another tab show in every tab at once (the account feed): a conversation
//! deleted in tab B is gone from tab A within 2 s, with nothing left on screen that would fail;
//! a rename and a new conversation appear in tab A's sidebar and header.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_deleted_in_another_tab_is_gone_from_this_one_within_two_seconds() {
    // A long answer, still being written when the conversation is deleted.
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "deleted-elsewhere@example.com").await;
    page.send("tell me a long story").await;
    page.wait_answer_starts().await;
    let conversation = page.conversation_id().await;
    let tab_a = chrome.open_tab().await;
    chrome.goto(&app.url(&format!("/c/{conversation}"))).await;
    let delete = format!("#conversations li[data-id='{conversation}'] button[title='Delete']");
    chrome.wait_for_element(&delete).await;
    chrome.click(&delete).await;
    chrome.accept_dialog().await;
    let deleted_at = Instant::now();
    chrome.switch_to(&tab_a).await;
    chrome
        .wait_until("tab A says the conversation was deleted", || async {
            chrome
                .js(
                    "return document.getElementById('not-found')?.textContent ?? '';",
                    vec![],
                )
                .await
                .as_str()
                .is_some_and(|t| t.contains("deleted in another tab"))
        })
        .await;
    let took = deleted_at.elapsed();
    assert!(took <= Duration::from_secs(2), "shown after {took:?}");
    chrome.screenshot("deleted-in-another-tab").await;
    assert_eq!(
        page.count(&format!("#conversations li[data-id='{conversation}']"))
            .await,
        0,
        "gone from the sidebar"
    );
    for gone in ["#regenerate", "#stop:not([hidden])", ".msg"] {
        assert_eq!(page.count(gone).await, 0, "{gone} is not offered");
    }
    // Nothing keeps trying in the background: no "reconnecting…", no errors, a while later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        page.count("#connection").await,
        0,
        "no connection indicator left"
    );
    assert_eq!(page.uncaught_errors().await, json!([]));
    assert_eq!(
        chrome.js("return document.title;", vec![]).await,
        json!("Sluice")
    );
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_and_a_new_conversation_in_another_tab_show_in_this_one() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "renamed-elsewhere@example.com").await;
    page.send("first message").await;
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    let tab_a = chrome.open_tab().await;
    let tab_b = chrome.current_tab().await;
    chrome.goto(&app.url(&format!("/c/{conversation}"))).await;
    chrome
        .click(&format!(
            "#conversations li[data-id='{conversation}'] button[title='Rename']"
        ))
        .await;
    chrome.answer_prompt("Renamed in tab B").await;
    chrome.switch_to(&tab_a).await;
    chrome
        .wait_until("tab A's header shows the new title", || async {
            chrome.text(".chat-title").await == "Renamed in tab B"
        })
        .await;
    assert_eq!(
        chrome
            .text(&format!(
                "#conversations li[data-id='{conversation}'] a.title"
            ))
            .await,
        "Renamed in tab B"
    );
    assert_eq!(
        chrome.js("return document.title;", vec![]).await,
        json!("Renamed in tab B · Sluice")
    );

    chrome.switch_to(&tab_b).await;
    chrome.click("#new-chat").await;
    page.send("second conversation").await;
    chrome.switch_to(&tab_a).await;
    chrome
        .wait_until("tab A's sidebar lists the new conversation", || async {
            page.count("#conversations li[data-id]").await == 2
        })
        .await;
    assert_eq!(
        chrome.text("#conversations li[data-id] a.title").await,
        "second conversation",
        "newest first"
    );
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}
