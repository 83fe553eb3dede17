//! The web app in a real browser (headless Chromium over WebDriver) against the real stack:
//! what a person sees when they sign up, chat, reload mid-answer, stop an answer, or are sent
//! markup meant to run script. One screenshot per scenario lands in `target/screenshots/`.

use serde_json::json;
use sluice_testkit::{
    TestApp,
    chat_page::{ChatPage, assert_same_words, stored_answers},
    webdriver::Chrome,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_grows_on_screen_as_it_streams_and_ends_equal_to_the_stored_one() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 40).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "reader@example.com").await;
    page.send("Write a haiku about rivers").await;
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while page.answer_status().await != "done" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answer ended within 30 s"
        );
        let text = page.answer_text().await;
        if !text.is_empty() && seen.last() != Some(&text) {
            seen.push(text);
        }
    }
    assert!(
        seen.len() >= 3,
        "the text grew over several observations: {seen:?}"
    );
    assert!(
        seen.windows(2)
            .all(|w| w[1].starts_with(&w[0]) || w[1].len() >= w[0].len())
    );
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored.len(), 1);
    assert_same_words(
        &page.answer_text().await,
        &stored[0].0,
        "screen text = stored text",
    );
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.screenshot("chat-answer").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_mid_answer_shows_the_answer_once_and_whole() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "reload@example.com").await;
    page.send("Tell me about durable streams").await;
    chrome
        .wait_until("some text on screen", || async {
            page.answer_text().await.len() > 5
        })
        .await;
    chrome.reload().await;
    chrome.wait_for_element(".msg.assistant").await;
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored[0].1, "done");
    assert_same_words(
        &page.answer_text().await,
        &stored[0].0,
        "no text lost or repeated",
    );
    chrome.screenshot("reload-mid-answer").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_the_answer_on_the_server_and_shows_it_stopped() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.pacing_ms = 100;
        c.demo.reply_tokens = 200;
    })
    .await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "stopper@example.com").await;
    page.send("Count slowly").await;
    page.wait_answer_starts().await;
    chrome.click("#stop").await;
    page.wait_answer_ends().await;
    assert_eq!(page.answer_status().await, "cancelled");
    // Stop hid itself; the focus went to the composer, not to the page.
    chrome
        .wait_until("the composer has the focus", || async {
            chrome.js("return document.activeElement.id;", vec![]).await == json!("composer")
        })
        .await;
    assert!(
        chrome
            .text(".msg.assistant .status")
            .await
            .contains("Stopped")
    );
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored[0].1, "cancelled");
    let shown = page.answer_text().await;
    assert_same_words(&shown, &stored[0].0, "no more text arrived");
    chrome.screenshot("stopped").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_messages_and_answers_renders_as_inert_text() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "xss@example.com").await;
    let attack = "<img src=x onerror=alert(1)> <script>alert(2)</script> \
                  [click](javascript:alert(3)) ![pic](javascript:alert(4)) **bold**";
    page.send(attack).await;
    page.wait_answer_ends().await;
    assert_eq!(chrome.dialog().await, None, "no dialog opened");
    let counts = chrome
        .js(
            "const m = document.getElementById('messages'); return [
               m.querySelectorAll('img, script, iframe').length,
               [...m.querySelectorAll('a')].filter(a => !/^https?:|^mailto:/.test(a.href)).length,
               m.querySelectorAll('.msg.user strong').length];",
            vec![],
        )
        .await;
    assert_eq!(counts, json!([0, 0, 0]), "no element came from the text");
    let user_text = chrome.text(".msg.user .text").await;
    assert!(
        user_text.contains("<img src=x onerror=alert(1)>"),
        "shown as typed: {user_text}"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.screenshot("xss-inert").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_conversation_url_shows_an_in_app_not_found() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(360, 740).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "lost@example.com").await;
    chrome
        .goto(&app.url(&format!("/c/{}", uuid::Uuid::now_v7())))
        .await;
    chrome.wait_for_element("#not-found").await;
    let overflow = chrome
        .js(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!(0), "no horizontal scroll at 360 px");
    chrome.screenshot("not-found-360px").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_adds_a_second_answer_and_the_first_stays_browsable() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "again@example.com").await;
    page.send("Say it twice").await;
    page.wait_answer_ends().await;
    let first_id = chrome
        .js(
            "return document.querySelector('.msg.assistant').dataset.id;",
            vec![],
        )
        .await;
    chrome.click("#regenerate").await;
    chrome
        .wait_until("a second answer", || async {
            chrome.text(".msg.assistant:not([hidden]) .position").await == "2/2"
        })
        .await;
    page.wait_answer_ends().await;
    let visible = "return document.querySelector('.msg.assistant:not([hidden])').dataset.id;";
    assert_ne!(
        chrome.js(visible, vec![]).await,
        first_id,
        "the new answer is shown"
    );
    chrome.click(".msg.assistant:not([hidden]) .previous").await;
    assert_eq!(
        chrome.js(visible, vec![]).await,
        first_id,
        "the first is still there"
    );
    // The buttons were drawn anew; the focus stays on them (‹ is now disabled, so ›).
    let focused = "const e = document.activeElement; \
                   return e.closest('.msg.assistant:not([hidden]) .alternates') ? e.className : e.tagName;";
    assert_eq!(chrome.js(focused, vec![]).await, json!("icon next"));
    assert_eq!(
        chrome.text(".msg.assistant:not([hidden]) .position").await,
        "1/2"
    );
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(_, status)| status == "done"));
    chrome.screenshot("regenerated").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tab_on_the_conversation_shows_the_live_answer() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "two-tabs@example.com").await;
    page.send("first").await;
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    let first_tab = chrome.open_tab().await;
    let second_tab = chrome.current_tab().await;
    chrome.goto(&app.url(&format!("/c/{conversation}"))).await;
    chrome.wait_for_element(".msg.assistant").await;
    // Send from the first tab; the second shows the answer while it streams.
    chrome.switch_to(&first_tab).await;
    page.send("second").await;
    chrome.switch_to(&second_tab).await;
    chrome
        .wait_until("the new answer in the other tab", || async {
            chrome
                .js(
                    "return document.querySelectorAll('.msg.assistant').length;",
                    vec![],
                )
                .await
                == json!(2)
        })
        .await;
    assert_eq!(
        page.answer_status().await,
        "streaming",
        "shown while it streams"
    );
    page.wait_answer_ends().await;
    let stored = stored_answers(&app, conversation).await;
    assert_same_words(
        &page.answer_text().await,
        &stored[1].0,
        "screen text = stored text",
    );
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_reaches_the_sidebar_the_composer_send_and_stop() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.pacing_ms = 100;
        c.demo.reply_tokens = 100;
    })
    .await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "keys@example.com").await;
    page.send("a long answer please").await;
    page.wait_answer_starts().await;
    chrome
        .js(
            "document.activeElement.blur(); document.body.focus();",
            vec![],
        )
        .await;
    let mut reached = Vec::new();
    for _ in 0..25 {
        reached.push(chrome.tab().await);
    }
    // The skip link is the page's first stop, and takes the focus to the message box.
    let first_stop =
        "return document.querySelector('a[href], button, input, select, textarea').id;";
    assert_eq!(chrome.js(first_stop, vec![]).await, json!("skip-link"));
    assert!(reached.iter().any(|r| r == "#skip-link"), "{reached:?}");
    // Enter on it, as a keyboard user does (it shows only while focused).
    chrome.type_into("#skip-link", "\u{E007}").await;
    assert_eq!(
        chrome.js("return document.activeElement.id;", vec![]).await,
        json!("composer")
    );
    for wanted in [
        "#new-chat",
        "#composer",
        "#stop",
        "#send",
        "#model",
        "#settings-link",
    ] {
        assert!(
            reached.iter().any(|r| r == wanted),
            "Tab reaches {wanted}: {reached:?}"
        );
    }
    assert!(
        reached.iter().any(|r| r.starts_with("a:say")
            || r.starts_with("a:A long")
            || r.starts_with("a:a long")),
        "a conversation link: {reached:?}"
    );
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_model_s_guide_reads_as_formatted_markdown() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.reply = sluice_shared::config::DemoReply::Guide;
        c.demo.pacing_ms = 2;
    })
    .await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "newcomer@example.com").await;
    page.send("How do I use a real model?").await;
    page.wait_answer_ends().await;
    let shape = chrome
        .js(
            "const m = document.querySelector('.msg.assistant .text'); return [
               m.querySelectorAll('ol li').length, m.querySelectorAll('table').length,
               m.querySelector('pre code')?.textContent.includes('[models.gpt-4o-mini]'),
               m.querySelectorAll('strong').length > 0];",
            vec![],
        )
        .await;
    assert_eq!(
        shape,
        json!([3, 1, true, true]),
        "a list, a table, the config block"
    );
    assert_eq!(page.csp_violations().await, json!([]));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.screenshot("demo-guide").await;
    // Dark mode follows the system setting.
    chrome.prefer_dark().await;
    let background = "return getComputedStyle(document.body).backgroundColor;";
    assert_eq!(
        chrome.js(background, vec![]).await,
        json!("rgb(21, 22, 26)")
    );
    chrome.screenshot("demo-guide-dark").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_after_the_access_cookie_expired_resumes_after_a_silent_refresh() {
    let mut app = TestApp::spawn_configured(|c| {
        c.access_token_ttl_secs = 2;
        c.demo.pacing_ms = 150;
    })
    .await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "long-lived@example.com").await;
    page.send("Take your time").await;
    page.wait_answer_starts().await;
    // The access cookie lives 2 s; what is waited for here is time itself.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // A deploy cuts the stream: the browser's reconnect has no access cookie any more.
    app.restart_api().await;
    page.wait_answer_ends().await;
    assert_eq!(page.answer_status().await, "done");
    let conversation = page.conversation_id().await;
    let stored = stored_answers(&app, conversation).await;
    assert_same_words(&page.answer_text().await, &stored[0].0, "whole, once");
    assert_eq!(page.uncaught_errors().await, json!([]));
    assert!(
        chrome
            .js("return document.getElementById('signin-form');", vec![])
            .await
            .is_null()
    );
    chrome.quit().await;
}
