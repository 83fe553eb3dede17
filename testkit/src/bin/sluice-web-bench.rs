//! The web app's benchmark (`scripts/bench-web`): a real headless Chromium on the loopback
//! against the real stack, while a long answer streams at full speed. Prints a table:
//! - the longest main-thread task during the stream (Long Tasks API, which reports only tasks
//!   over 50 ms: the target is none), and the longest gap between two animation frames,
//! - from the answer's end event to the frame after its final text was drawn,
//! - from navigation start to the chat being ready for input (page load to interactive),
//! - JS + CSS the page downloads, gzip-compressed (target ≤ 150 KB).
//!
//! WEB_BENCH_TOKENS sets the answer length (default 5000), WEB_BENCH_RUNS the repetitions
//! (default 3).

use std::time::Duration;

use serde_json::{Value, json};
use sluice_shared::config::DemoReply;
use sluice_testkit::{TestApp, webdriver::Chrome};

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tokens = env_or("WEB_BENCH_TOKENS", 5000);
    let runs = env_or("WEB_BENCH_RUNS", 3);
    let app = TestApp::spawn_configured(move |c| {
        c.demo.reply = DemoReply::Echo;
        c.demo.reply_tokens = tokens;
        c.demo.pacing_ms = 0;
        c.max_message_chars = 100_000;
    })
    .await;
    let chrome = Chrome::start(1280, 900).await;
    chrome.goto(&app.url("/")).await;
    chrome.click("#guest").await;
    chrome.wait_for_element("#composer").await;

    println!(
        "| run | tokens | tasks over 50 ms while streaming | longest frame gap | end event → final paint | load → interactive |"
    );
    println!("|---|---|---|---|---|---|");
    for run in 1..=runs {
        // A fresh page each run, so every run measures its own load.
        chrome.goto(&app.url("/")).await;
        chrome.wait_for_element("#composer").await;
        let interactive = chrome
            .js(
                "return performance.getEntriesByName('sluice-interactive')[0]?.startTime ?? null;",
                vec![],
            )
            .await;
        chrome
            .js(
                "window.benchLongest = 0; new PerformanceObserver((list) => { \
                   for (const e of list.getEntries()) \
                     window.benchLongest = Math.max(window.benchLongest, e.duration); \
                 }).observe({ type: 'longtask' }); \
                 window.benchFrame = 0; let last = 0; const tick = (t) => { \
                   if (last) window.benchFrame = Math.max(window.benchFrame, t - last); \
                   last = t; \
                   if (!performance.getEntriesByName('sluice-answer-painted').length) requestAnimationFrame(tick); \
                 }; requestAnimationFrame(tick);",
                vec![],
            )
            .await;
        chrome
            .type_into("#composer", &format!("stream number {run}\u{E007}"))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let marks = loop {
            let marks = chrome
                .js(
                    "const t = (n) => performance.getEntriesByName(n).at(-1)?.startTime ?? null; \
                     return [t('sluice-answer-end'), t('sluice-answer-painted'), window.benchLongest, window.benchFrame];",
                    vec![],
                )
                .await;
            if !marks[1].is_null() {
                break marks;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the answer never ended"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let ms = |v: &Value| v.as_f64().map_or("n/a".into(), |x| format!("{x:.1} ms"));
        let to_paint = json!(marks[1].as_f64().unwrap() - marks[0].as_f64().unwrap());
        let long_tasks = match marks[2].as_f64() {
            Some(longest) if longest > 0.0 => format!("longest {longest:.1} ms"),
            _ => "none".to_string(),
        };
        println!(
            "| {run} | {tokens} | {long_tasks} | {} | {} | {} |",
            ms(&marks[3]),
            ms(&to_paint),
            ms(&interactive)
        );
    }
    let assets = sluice_api::web::assets();
    println!();
    println!(
        "JS + CSS of the chat page, gzip: {:.1} KB ({} files)",
        assets.gzip_total() as f64 / 1024.0,
        assets.file_count()
    );
    chrome.quit().await;
}
