//! Search in a real browser: typed into the sidebar's box, the hits take the lists' place with
//! the matched words marked; a hit opens its conversation scrolled to the message, even one
//! older than the page of messages first shown; Escape brings the lists back.

use serde_json::json;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_hit_opens_its_conversation_at_the_message() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "search@example.com").await;
    page.send("the lighthouse keeper's log").await;
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    // Enough after it that it is not on the first page of messages (30) shown.
    for n in 0..16 {
        page.send(&format!("filler {n}")).await;
        page.wait_answer_ends().await;
    }
    chrome.click("#new-chat").await;
    chrome.wait_for_element("#composer").await;

    chrome.type_into("#search", "lighthouses").await;
    chrome.wait_for_element("#search-results li").await;
    let hidden = "return document.querySelector('.sidebar-scroll:not(#search-panel)').hidden;";
    assert_eq!(
        chrome.js(hidden, vec![]).await,
        json!(true),
        "the lists make way"
    );
    let marked = chrome.text("#search-results li mark").await;
    assert_eq!(marked, "lighthouse", "stemmed and marked");
    chrome.screenshot("search-results").await;

    // The question's hit (the title and the answer match too).
    let click_question = "const hit = [...document.querySelectorAll('#search-results li')]
                              .find((li) => li.textContent.includes('You:'));
                          hit.querySelector('a').click();";
    chrome.js(click_question, vec![]).await;
    chrome.wait_for_element("article.msg.found").await;
    assert_eq!(
        chrome.js("return location.pathname;", vec![]).await,
        json!(format!("/c/{conversation}"))
    );
    let found = chrome.text("article.msg.found .text").await;
    assert!(found.contains("lighthouse keeper"), "{found}");
    let visible = "const r = document.querySelector('article.msg.found').getBoundingClientRect();
                   return r.top >= 0 && r.bottom <= window.innerHeight;";
    assert_eq!(
        chrome.js(visible, vec![]).await,
        json!(true),
        "scrolled to it"
    );
    chrome.screenshot("search-opened").await;

    chrome
        .js(
            "const s = document.getElementById('search');
             s.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));",
            vec![],
        )
        .await;
    assert_eq!(
        chrome.js(hidden, vec![]).await,
        json!(false),
        "the lists are back"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}
