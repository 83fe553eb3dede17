//! The web app on a phone (390 × 844), in a real browser: nothing is wider than the screen
//! whatever the titles, the chat takes the whole width, and the conversations are a drawer
//! behind the menu button that closes once something in it is chosen.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

/// Where `css` lies across the screen: `[left, right, visible]` of the first match.
const PLACE: &str = "const el = document.querySelector(arguments[0]); if (!el) return null; \
    const r = el.getBoundingClientRect(); \
    return [r.left, r.right, getComputedStyle(el).visibility === 'visible' && r.right > 0];";

async fn place(chrome: &Chrome, css: &str) -> (f64, f64, bool) {
    let value = chrome.js(PLACE, vec![json!(css)]).await;
    let Value::Array(v) = value else {
        panic!("{css} is not on the page")
    };
    (
        v[0].as_f64().unwrap(),
        v[1].as_f64().unwrap(),
        v[2].as_bool().unwrap(),
    )
}

/// The page is no wider than the screen, and each of `controls` lies within it.
async fn assert_fits(chrome: &Chrome, controls: &[&str], screen: &str) {
    let widths = chrome
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await;
    let (page, viewport) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
    assert!(
        page <= viewport,
        "{screen}: the page is {page} px wide on a {viewport} px screen"
    );
    for css in controls {
        let (left, right, visible) = place(chrome, css).await;
        assert!(visible, "{screen}: {css} is not shown");
        assert!(
            left >= 0.0 && right <= viewport,
            "{screen}: {css} spans {left}..{right} px of a {viewport} px screen"
        );
    }
}

async fn sidebar_open(chrome: &Chrome) -> bool {
    let (left, _, visible) = place(chrome, "#sidebar").await;
    visible && left >= 0.0
}

async fn open_drawer(chrome: &Chrome) {
    chrome.click("#menu-button").await;
    chrome
        .wait_until("the drawer to open", || sidebar_open(chrome))
        .await;
}

/// Closed and out of sight (the slide has ended).
async fn wait_drawer_closed(chrome: &Chrome) {
    chrome
        .wait_until("the drawer to close", || async {
            !place(chrome, "#sidebar").await.2
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_a_long_title_fits_and_the_conversations_are_a_drawer() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(390, 844).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "phone@example.com").await;
    assert!(!sidebar_open(&chrome).await, "the chat has the screen");
    // 120 characters: the conversation's title is cut from it.
    let long = "Explain how the tides depend on the moon and the sun, with numbers for a spring \
                tide and a neap tide at a typical wharf.";
    assert_eq!(long.len(), 120);
    page.send(long).await;
    page.wait_answer_ends().await;
    chrome.screenshot("phone-chat").await;
    let chat_controls = [
        "#menu-button",
        "#send",
        "#model",
        ".msg.user .copy",
        ".msg.assistant .copy",
        "#regenerate",
    ];
    assert_fits(&chrome, &chat_controls, "the chat").await;
    let composer = place(&chrome, "#composer-form").await;
    assert!(
        composer.1 - composer.0 >= 380.0,
        "the chat is full width: {composer:?}"
    );

    // The drawer: opened by the menu button, over the chat; closed by Escape or a choice.
    open_drawer(&chrome).await;
    assert_eq!(
        chrome
            .js(
                "return document.getElementById('menu-button').getAttribute('aria-expanded');",
                vec![]
            )
            .await,
        json!("true")
    );
    assert_fits(
        &chrome,
        &["#new-chat", "#conversations li a.title", "#settings-link"],
        "the drawer",
    )
    .await;
    chrome.screenshot("phone-drawer").await;
    chrome
        .js(
            "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));",
            vec![],
        )
        .await;
    wait_drawer_closed(&chrome).await;
    assert_eq!(
        chrome.js("return document.activeElement.id;", vec![]).await,
        json!("menu-button"),
        "the focus goes back to the menu button"
    );

    open_drawer(&chrome).await;
    chrome.click("#new-chat").await;
    wait_drawer_closed(&chrome).await;
    assert_eq!(
        chrome.js("return location.pathname;", vec![]).await,
        json!("/")
    );

    open_drawer(&chrome).await;
    chrome.click("#conversations li a.title").await;
    wait_drawer_closed(&chrome).await;
    chrome.wait_for_element(".msg.assistant").await;
    assert_fits(&chrome, &chat_controls, "the conversation reopened").await;

    // Settings, through the drawer: the device list's buttons are on screen too.
    open_drawer(&chrome).await;
    chrome.click("#settings-link").await;
    wait_drawer_closed(&chrome).await;
    chrome.wait_for_element("#sessions li button").await;
    assert_fits(
        &chrome,
        &[
            "#menu-button",
            "#sessions li button",
            "#create-key button",
            "#sign-out",
        ],
        "the settings",
    )
    .await;
    chrome.screenshot("phone-settings").await;
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_wide_screen_the_sidebar_stays_and_there_is_no_menu_button() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1280, 800).await;
    ChatPage { chrome: &chrome }
        .sign_up(&app, "wide@example.com")
        .await;
    assert!(sidebar_open(&chrome).await, "the sidebar is shown");
    assert_eq!(
        chrome
            .js(
                "return getComputedStyle(document.getElementById('menu-button')).display;",
                vec![]
            )
            .await,
        json!("none")
    );
    chrome.quit().await;
}
