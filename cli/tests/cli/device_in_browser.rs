//! The whole device flow as a person does it: the real `sluice login` prints a code, a real
//! browser signs in to the web app, opens `/device` from the printed link, approves, and the
//! CLI is signed in.

use crate::support::{Home, finish_login, stack, start_login};
use sluice_testkit::{chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_in_when_the_browser_approves_its_code_on_the_device_page() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let (child, code, out) = start_login(&home, &app.base).await;

    let chrome = Chrome::start(1200, 900).await;
    ChatPage { chrome: &chrome }
        .sign_up(&app, "owner@example.com")
        .await;
    chrome
        .goto(&app.url(&format!("/device?user_code={code}")))
        .await;
    chrome.wait_for_element("button[value='approve']").await;
    chrome.screenshot("device-confirm").await;
    chrome.click("button[value='approve']").await;
    chrome
        .wait_until("the approval to be confirmed", || async {
            chrome.text("main h1").await.contains("Device approved")
        })
        .await;
    chrome.screenshot("device-approved").await;

    let (status, printed) = finish_login(child, out).await;
    assert!(status.success(), "{printed}");
    assert!(printed.contains("owner@example.com"), "{printed}");
    chrome.quit().await;
}
