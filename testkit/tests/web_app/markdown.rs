//! The web app's markdown renderer (`api/web/render.js`) in Chromium, on the app's own page
//! and under its CSP, against the cases in `testkit/web/render_cases.js`: GitHub-flavoured
//! lists (nested, numbered from any number, tasks), ~~strikethrough~~, bare URLs, what it
//! rendered before, markup kept as text; and `LiveMarkdown` fed an answer character by
//! character, showing at every step what the finished answer would, never redrawing a
//! finished block.

use serde_json::{Value, json};
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

/// The cases, as the module the renderer's authors edit.
const CASES: &str = include_str!("../../web/render_cases.js");

/// Imports render.js from the folder the page loaded app.js from (the same origin, so the
/// app's `script-src 'self'` allows it) and runs every case against it.
const RUN: &str = "const app = document.querySelector('script[type=module]').src;\n\
                   return import(new URL('render.js', app).href).then(runCases);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_renders_as_github_does_nested_and_task_lists_strikethrough_and_bare_links() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 800).await;
    // The sign-in screen is enough: it is the app's page, with its CSP and its assets.
    chrome.goto(&app.url("/")).await;
    chrome.wait_for_element("script[type=module]").await;
    let outcome = chrome
        .js(&format!("{}\n{RUN}", as_script(CASES)), vec![])
        .await;
    let failures = outcome["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("the cases did not run: {outcome}"));
    let count = outcome["count"].as_u64().unwrap_or_default();
    assert!(count > 0, "no cases ran: {outcome}");
    assert!(
        failures.is_empty(),
        "{} of {count} markdown cases failed:\n{}",
        failures.len(),
        failures.iter().map(describe).collect::<Vec<_>>().join("\n")
    );
    let page = ChatPage { chrome: &chrome };
    assert_eq!(page.csp_violations().await, json!([]));
    chrome.quit().await;
}

/// The module as a WebDriver script (a function body): `export` dropped from its
/// declarations, which is why the cases file has no imports.
fn as_script(module: &str) -> String {
    module
        .lines()
        .map(|line| line.strip_prefix("export ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(failure: &Value) -> String {
    let text = |key: &str| failure[key].as_str().unwrap_or_default().to_owned();
    format!(
        "✗ {}\n    expected: {}\n    actual:   {}",
        text("name"),
        text("expected"),
        text("actual")
    )
}
