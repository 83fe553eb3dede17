//! The Usage page in a real browser: after two answers, its cards, charts and tables say two
//! requests, their tokens, and the model's latency; the admin can switch to everyone; nothing
//! breaks the page's CSP, on a desktop or a phone.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_page_shows_what_was_used_in_numbers_and_charts() {
    let app = TestApp::spawn_configured(|c| c.admin_emails = vec!["root@example.com".into()]).await;
    let bob = app.register("bob@example.com").await;
    let bob_token = bob["access_token"].as_str().unwrap();
    app.send_answered(bob_token, app.create_conversation(bob_token).await, "bob's")
        .await;

    let chrome = Chrome::start(1200, 1000).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "root@example.com").await;
    page.send("first").await;
    page.wait_answer_ends().await;
    page.send("second").await;
    page.wait_answer_ends().await;
    chrome.click("#usage-link").await;
    chrome.wait_for_element("#usage-cards").await;
    assert_eq!(chrome.text("#usage-requests strong").await, "2");
    let tokens = chrome.text("#usage-tokens strong").await;
    assert!(
        tokens.contains(" in · ") && !tokens.starts_with("0 in"),
        "{tokens}"
    );
    assert!(page.count("svg.chart").await >= 2);
    assert!(page.count("#usage-requests-chart rect.bar").await >= 1);
    let latency = chrome.text("#usage-latency-table").await;
    assert!(latency.contains("demo"), "{latency}");
    let errors = chrome.text("#usage-errors-table").await;
    assert!(errors.contains("No errors"), "{errors}");
    chrome.screenshot("usage").await;

    // Everyone: Bob's answer too.
    chrome.click("#usage-everyone").await;
    chrome
        .wait_until("everyone's numbers", || async {
            chrome.text("#usage-requests strong").await == "3"
        })
        .await;
    // 15-minute buckets: 96 of them, one day.
    chrome
        .js(
            "const s = document.querySelector('#usage-interval'); s.value = '15M'; \
             s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    chrome
        .wait_until("quarter-hour bars", || async {
            page.count("#usage-requests-chart rect.bar:not(.error)")
                .await
                >= 96
        })
        .await;
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, Value::Array(vec![]));
    chrome.quit().await;

    // A phone: nothing wider than the screen; a user without admin has no "everyone".
    let phone = Chrome::start(390, 844).await;
    let page = ChatPage { chrome: &phone };
    page.sign_up(&app, "carol@example.com").await;
    phone.goto(&app.url("/usage")).await;
    phone.wait_for_element("#usage-cards").await;
    assert_eq!(page.count("#usage-everyone").await, 0);
    let width = phone
        .js("return document.documentElement.scrollWidth;", vec![])
        .await;
    assert!(width.as_u64().unwrap() <= 390, "page width {width}");
    phone.screenshot("usage-phone").await;
    phone.quit().await;
}
