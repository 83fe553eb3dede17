//! The web app at its edges, in a real browser: long conversations load older pages on scroll
//! up, a double-click sends once, a send into a conversation deleted elsewhere keeps the typed
//! text and says what happened, a model's markup stays text, a failed answer offers Retry.

use serde_json::json;
use sluice_testkit::{
    TestApp,
    chat_page::{ChatPage, stored_answers},
    fake_openai::{FakeOpenAi, Fault},
    webdriver::Chrome,
    with_fake_openai,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_shows_its_end_first_and_older_pages_on_scroll_up() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "long@example.com").await;
    chrome.type_into("#composer", "message 0\u{E007}").await;
    chrome
        .wait_until("the first answer", || async {
            page.count(".msg.assistant[data-status='done']").await == 1
        })
        .await;
    let conversation = page.conversation_id().await;
    // 39 more exchanges, written straight to the database (the worker is not what is tested).
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, user_id, role, content, status, created_at, reply_to)
         SELECT gen_random_uuid(), c.id, c.user_id, r.role, r.content, r.status,
                now() + (n * 2 + r.k) * interval '1 millisecond', NULL
         FROM conversations c, generate_series(1, 39) n,
              LATERAL (VALUES ('user', 'message ' || n, 'complete', 0),
                              ('assistant', 'answer ' || n, 'done', 1)) AS r(role, content, status, k)
         WHERE c.id = $1",
    )
    .bind(conversation)
    .execute(&app.pool)
    .await
    .unwrap();
    chrome.reload().await;
    chrome.wait_for_element(".msg").await;
    assert_eq!(page.count(".msg").await, 30, "the latest page first");
    assert!(chrome.text(".msg:last-of-type").await.contains("answer 39"));
    chrome
        .wait_until("every page, scrolling up", || async {
            chrome
                .js("document.getElementById('messages').scrollTop = 0;", vec![])
                .await;
            page.count(".msg").await == 80
        })
        .await;
    let order = chrome
        .js(
            "return [...document.querySelectorAll('.msg.user .text')].map(e => e.textContent);",
            vec![],
        )
        .await;
    let expected: Vec<String> = (0..40).map(|n| format!("message {n}")).collect();
    assert_eq!(order, json!(expected), "in order, each once");
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_on_send_sends_once() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "double@example.com").await;
    chrome.type_into("#composer", "only once").await;
    chrome
        .js(
            "const b = document.getElementById('send'); b.click(); b.click();",
            vec![],
        )
        .await;
    chrome
        .wait_until("the answer", || async {
            page.count(".msg.assistant[data-status='done']").await == 1
        })
        .await;
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'user'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    assert_eq!(page.count(".msg.user").await, 1);
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_into_a_conversation_deleted_elsewhere_keeps_the_text_and_says_why() {
    // Slow enough that the first answer is still running when the conversation goes.
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 200).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "deleted@example.com").await;
    chrome.type_into("#composer", "first\u{E007}").await;
    chrome.wait_for_element(".msg.assistant").await;
    let conversation = page.conversation_id().await;
    // Another tab deletes it.
    sqlx::query("DELETE FROM conversations WHERE id = $1")
        .bind(conversation)
        .execute(&app.pool)
        .await
        .unwrap();
    chrome
        .type_into("#composer", "are you there?\u{E007}")
        .await;
    chrome
        .wait_until("the notice", || async {
            chrome.text("#composer-error").await.contains("deleted")
        })
        .await;
    let typed = chrome
        .js("return document.getElementById('composer').value;", vec![])
        .await;
    assert_eq!(typed, json!("are you there?"), "the typed text is kept");
    // An answer that was still running when its conversation went says so, instead of
    // "Answering…" for ever (the stream ends once the row is gone; the reconnect gets 404).
    chrome
        .wait_until("the running answer to say it is gone", || async {
            chrome
                .text(".msg.assistant .status")
                .await
                .contains("deleted")
        })
        .await;
    assert_eq!(page.answer_status().await, "gone");
    assert_eq!(page.uncaught_errors().await, json!([]), "no uncaught error");
    chrome.screenshot("deleted-elsewhere").await;
    chrome.quit().await;
}

/// The fake provider, with a stream timeout a busy box cannot trip (`with_fake_openai` sets
/// 1 s for the stall tests; a machine running ten browsers can pause that long).
fn patient(fake: &FakeOpenAi) -> sluice_testkit::Options {
    with_fake_openai(fake).and(|c| c.openai.idle_timeout_secs = 15)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_model_reply_renders_as_inert_text() {
    let fake = FakeOpenAi::start(4, std::time::Duration::from_millis(5)).await;
    fake.set_reply(
        "# Title\n\n<img src=x onerror=alert(1)> <script>alert(2)</script>\n\n\
         [click](javascript:alert(3)) ![pic](https://evil.example/track.png) \
         <a href=\"javascript:alert(4)\">a</a> [ok](https://example.com)\n\n\
         | a | b |\n| --- | --- |\n| <b>x</b> | y |\n\n```html\n<script>alert(5)</script>\n```\n",
    );
    let app = TestApp::spawn_with(patient(&fake)).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "model-xss@example.com").await;
    chrome.type_into("#composer", "hello\u{E007}").await;
    chrome
        .wait_until("the reply", || async {
            page.count(".msg.assistant[data-status='done']").await == 1
        })
        .await;
    assert_eq!(chrome.dialog().await, None, "no dialog opened");
    let found = chrome
        .js(
            "const m = document.querySelector('.msg.assistant .text'); return [
               m.querySelectorAll('img, script, iframe, b').length,
               [...m.querySelectorAll('a')].map(a => a.href),
               m.querySelectorAll('h1, h2, h3, table, pre code').length,
               window.sluiceCspViolations.length];",
            vec![],
        )
        .await;
    assert_eq!(
        found[0],
        json!(0),
        "no element came from the reply's markup"
    );
    // Only http(s) links are links; an image is one too (shown as "image: pic"), never loaded.
    assert_eq!(
        found[1],
        json!(["https://evil.example/track.png", "https://example.com/"]),
        "javascript: links stay text"
    );
    assert_eq!(found[2], json!(3), "heading, table and code block rendered");
    assert_eq!(found[3], json!(0), "no CSP violation");
    let text = chrome.text(".msg.assistant .text").await;
    assert!(
        text.contains("<img src=x onerror=alert(1)>") && text.contains("<script>alert(5)</script>")
    );
    chrome.screenshot("model-xss-inert").await;
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_answer_shows_the_error_and_retry_asks_again() {
    let fake = FakeOpenAi::start(6, std::time::Duration::ZERO).await;
    let app = TestApp::spawn_with(patient(&fake)).await;
    let chrome = Chrome::start(1200, 800).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "retry@example.com").await;
    // Every try of the first answer fails (max_retries + 1 = 3 requests).
    for _ in 0..3 {
        fake.push_fault(Fault::ServerError);
    }
    chrome.type_into("#composer", "are you up?\u{E007}").await;
    chrome
        .wait_until("the error", || async {
            page.count(".msg.assistant[data-status='error']").await == 1
        })
        .await;
    assert!(
        chrome
            .text(".msg.assistant .status")
            .await
            .contains("Error")
    );
    // The answer's `error` event is not a broken connection: nothing reconnects.
    assert_eq!(chrome.text("#connection").await, "");
    chrome.screenshot("answer-error").await;
    chrome.click(".msg.assistant .status button").await;
    chrome
        .wait_until("the retried answer", || async {
            page.count(".msg.assistant[data-status='done']").await == 1
        })
        .await;
    let users = chrome
        .js(
            "return [...document.querySelectorAll('.msg.user .text')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(
        users,
        json!(["are you up?", "are you up?"]),
        "the same question asked again"
    );
    assert!(
        chrome
            .text(".msg.assistant:last-of-type .text")
            .await
            .contains("tok5")
    );
    chrome.quit().await;
}

/// Reading back while an answer streams: the view stays where the reader put it, "Jump to
/// latest" appears, and taking it follows the answer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_up_during_an_answer_keeps_the_view_and_offers_a_way_back() {
    let fake = FakeOpenAi::start(300, std::time::Duration::from_millis(30)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let chrome = Chrome::start(1000, 700).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "scroll@example.com").await;
    page.send("a long answer please").await;
    let scroll_top = "return document.getElementById('messages').scrollTop;";
    let distance_to_end = "const m = document.getElementById('messages'); \
                           return m.scrollHeight - m.scrollTop - m.clientHeight;";
    chrome
        .wait_until("the answer fills more than the view", || async {
            chrome.js(scroll_top, vec![]).await.as_f64().unwrap_or(0.0) > 200.0
        })
        .await;
    // The reader scrolls up, as with the wheel.
    chrome
        .js(
            "const m = document.getElementById('messages'); m.scrollTop = 0; \
             m.dispatchEvent(new Event('scroll'));",
            vec![],
        )
        .await;
    let text_then = page.answer_text().await;
    chrome
        .wait_until("more of the answer arrives", || async {
            page.answer_text().await.len() > text_then.len() + 40
        })
        .await;
    let busy = "const all = document.querySelectorAll('.msg.assistant'); \
                return all[all.length - 1].getAttribute('aria-busy');";
    assert_eq!(
        chrome.js(busy, vec![]).await,
        json!("true"),
        "still streaming"
    );
    assert_eq!(
        chrome.js(scroll_top, vec![]).await.as_f64(),
        Some(0.0),
        "the view stayed where the reader put it"
    );
    assert_eq!(
        chrome
            .js(
                "return document.getElementById('jump-latest').hidden;",
                vec![]
            )
            .await,
        json!(false),
        "Jump to latest is offered"
    );
    chrome.screenshot("scrolled_up_while_streaming").await;
    chrome.click("#jump-latest").await;
    let before = page.answer_text().await;
    chrome
        .wait_until("more of the answer arrives", || async {
            page.answer_text().await.len() > before.len() + 40
        })
        .await;
    let distance = chrome.js(distance_to_end, vec![]).await.as_f64().unwrap();
    assert!(
        distance < 48.0,
        "following the end again: {distance} px from it"
    );
    assert_eq!(
        chrome
            .js(
                "return document.getElementById('jump-latest').hidden;",
                vec![]
            )
            .await,
        json!(true)
    );
    page.wait_answer_ends().await;
    chrome.quit().await;
}

/// Renaming shows the new title everywhere it is shown (header, browser tab), and a title the
/// API refuses is said, not swallowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_shows_in_the_header_and_tab_and_a_refused_one_says_why() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1100, 700).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "rename@example.com").await;
    page.send("first message").await;
    page.wait_answer_ends().await;
    let header = "return document.querySelector('.chat-title').textContent;";
    assert_eq!(
        chrome.js("return document.title;", vec![]).await,
        json!("first message · Sluice")
    );
    chrome
        .click("#conversations li.active button[title='Rename']")
        .await;
    chrome.answer_prompt("Renamed chat").await;
    chrome
        .wait_until("the header shows the new title", || async {
            chrome.js(header, vec![]).await == json!("Renamed chat")
        })
        .await;
    assert_eq!(
        chrome.js("return document.title;", vec![]).await,
        json!("Renamed chat · Sluice")
    );
    chrome
        .click("#conversations li.active button[title='Rename']")
        .await;
    chrome.answer_prompt(&"x".repeat(201)).await;
    let said = sluice_testkit::wait::until(
        "the refusal is said",
        std::time::Duration::from_secs(10),
        || async { chrome.dialog().await },
        Option::is_some,
    )
    .await
    .unwrap();
    assert!(
        said.contains("not renamed") && said.contains("200"),
        "{said}"
    );
    chrome.accept_dialog().await;
    assert_eq!(chrome.js(header, vec![]).await, json!("Renamed chat"));
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}

/// A first message the API refuses (too long) leaves no conversation behind and keeps the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_first_message_leaves_no_conversation_and_keeps_the_text() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1100, 700).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "toolong@example.com").await;
    let too_long = app.config.max_message_chars + 1;
    chrome
        .js(
            "document.getElementById('composer').value = 'x'.repeat(arguments[0]);",
            vec![json!(too_long)],
        )
        .await;
    chrome.type_into("#composer", "\u{E007}").await;
    chrome
        .wait_until("the refusal is shown", || async {
            !chrome.text("#composer-error").await.is_empty()
        })
        .await;
    assert!(chrome.text("#composer-error").await.contains("limited"));
    assert_eq!(
        chrome.js("return location.pathname;", vec![]).await,
        json!("/")
    );
    assert_eq!(page.count("#conversations li[data-id]").await, 0);
    let kept = chrome
        .js(
            "return document.getElementById('composer').value.length;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!(too_long), "the text is kept");
    // Kept across a reload too, until it is sent.
    chrome.reload().await;
    chrome.wait_for_element("#composer").await;
    let kept = chrome
        .js(
            "return document.getElementById('composer').value.length;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!(too_long), "the draft survives a reload");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "no conversation was left behind");
    chrome.quit().await;
}

/// One answer at a time: a message sent while an answer is written is not sent beside it; the
/// page says why and keeps the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_while_an_answer_runs_says_to_wait_and_keeps_the_text() {
    let app = TestApp::spawn_configured(|c| {
        c.demo.pacing_ms = 60;
        c.demo.reply_tokens = 100;
    })
    .await;
    let chrome = Chrome::start(1100, 700).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "patient@example.com").await;
    page.send("first question").await;
    page.wait_answer_starts().await;
    chrome
        .type_into("#composer", "second question\u{E007}")
        .await;
    chrome
        .wait_until("the page says why", || async {
            chrome
                .text("#composer-error")
                .await
                .contains("still being written")
        })
        .await;
    assert_eq!(
        chrome
            .js("return document.getElementById('composer').value;", vec![])
            .await,
        json!("second question")
    );
    page.wait_answer_ends().await;
    let conversation = page.conversation_id().await;
    assert_eq!(
        stored_answers(&app, conversation).await.len(),
        1,
        "one answer"
    );
    chrome.quit().await;
}

/// Addresses the app does not have show its own page, not a JSON error; `/settings/` is
/// `/settings`; a signed-out visit logs no errors (no 401 from asking who is signed in, no
/// missing icon).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_show_the_app_and_a_signed_out_visit_logs_no_errors() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1100, 700).await;
    chrome.goto(&app.url("/")).await;
    chrome.wait_for_element("#signin-form").await;
    let errors = chrome.console_errors().await;
    assert!(errors.is_empty(), "a signed-out visit logged: {errors:?}");
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "wanderer@example.com").await;
    chrome.goto(&app.url("/login")).await;
    chrome.wait_for_element("#not-found").await;
    assert!(chrome.text("#not-found").await.contains("Start a new chat"));
    chrome.goto(&app.url("/settings/")).await;
    chrome.wait_for_element("#sign-out").await;
    assert_eq!(
        chrome.js("return location.pathname;", vec![]).await,
        json!("/settings")
    );
    // Not a browser: the API's own JSON 404.
    let api = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/json");
    chrome.quit().await;
}

/// A first message's title is its first line in plain words, cut at a word: the same in the
/// page as the API makes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_conversation_is_titled_in_plain_words_cut_at_a_word() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1100, 700).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "titles@example.com").await;
    let message =
        "# **Bold** idea about `code` and ~~strike~~ that goes on for quite a while longer";
    page.send(message).await;
    let expected = sluice_api::conversations::title_from(message);
    assert_eq!(
        expected,
        "Bold idea about code and strike that goes on for quite a…"
    );
    chrome
        .wait_until("the sidebar shows the title", || async {
            chrome.text("#conversations li.active a").await == expected
        })
        .await;
    assert_eq!(chrome.text(".chat-title").await, expected);
    chrome.quit().await;
}

/// The API's documentation page has the CSP, framing and referrer rules of every other page,
/// and renders under them with nothing refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_under_the_same_security_headers_as_the_app() {
    let app = TestApp::spawn().await;
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");

    let chrome = Chrome::start(1100, 700).await;
    chrome.goto(&app.url("/docs/")).await;
    chrome.wait_for_element(".opblock").await;
    chrome.screenshot("docs").await;
    let errors = chrome.console_errors().await;
    assert!(errors.is_empty(), "the docs page logged: {errors:?}");
    chrome.quit().await;
}
