//! The whole device flow as a person does it: the real `sluice login` prints a code, a real
//! browser signs in to the web app, opens `/device` from the printed link, approves, and the
//! CLI is signed in.

mod support;

use std::time::Duration;

use sluice_testkit::webdriver::Chrome;
use support::{Home, rest, stack, start_login};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_in_when_the_browser_approves_its_code_on_the_device_page() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let (child, code, out) = start_login(&home, &app.base).await;

    let chrome = Chrome::start(1200, 900).await;
    chrome.goto(&app.url("/")).await;
    chrome.click("#signin-toggle").await;
    chrome.type_into("#email", "owner@example.com").await;
    chrome
        .type_into("#password", "a long enough password")
        .await;
    chrome.click("#signin-submit").await;
    chrome.wait_for_element("#composer").await;
    chrome
        .goto(&app.url(&format!("/device?user_code={code}")))
        .await;
    chrome.click("button[value='approve']").await;
    chrome
        .wait_until("the approval to be confirmed", || async {
            chrome.text("main h1").await.contains("Device approved")
        })
        .await;
    chrome.screenshot("device-approved").await;

    let status = tokio::time::timeout(Duration::from_secs(30), async {
        let mut child = child;
        child.wait().await.unwrap()
    })
    .await
    .expect("login finished");
    let printed = rest(out).await;
    assert!(status.success(), "{printed}");
    assert!(printed.contains("owner@example.com"), "{printed}");
    chrome.quit().await;
}
