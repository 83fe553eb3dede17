//! The sidebar groups conversations by date, newest first, as chat apps do: Today, Yesterday,
//! Previous 7 days, Previous 30 days, then by month.

use serde_json::json;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_grouped_under_date_headings_newest_first() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "dates@example.com").await;
    // Conversations of different ages, written straight to the database: whole days back, so
    // each is that many calendar days back whatever the hour.
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, model, created_at, updated_at)
         SELECT gen_random_uuid(), u.id, a.title, 'demo', a.at, a.at
         FROM users u, (VALUES ('today', now()),
                               ('yesterday', now() - interval '1 day'),
                               ('three days ago', now() - interval '3 days'),
                               ('twenty days ago', now() - interval '20 days'),
                               ('a year ago', now() - interval '365 days')) AS a(title, at)
         WHERE u.email = 'dates@example.com'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    chrome.reload().await;
    chrome.wait_for_element("#conversations li[data-id]").await;
    let shown = chrome
        .js(
            "return [...document.querySelectorAll('#conversations li:not(.sentinel)')]
               .map(li => li.classList.contains('period') ? '# ' + li.textContent : li.querySelector('a').textContent);",
            vec![],
        )
        .await;
    let year_ago = chrome
        .js(
            "const d = new Date(Date.now() - 365 * 86400000); \
             return d.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });",
            vec![],
        )
        .await;
    let year_ago = format!("# {}", year_ago.as_str().unwrap());
    assert_eq!(
        shown,
        json!([
            "# Today",
            "today",
            "# Yesterday",
            "yesterday",
            "# Previous 7 days",
            "three days ago",
            "# Previous 30 days",
            "twenty days ago",
            year_ago,
            "a year ago"
        ])
    );
    chrome.screenshot("sidebar-dates").await;
    chrome.quit().await;
}
