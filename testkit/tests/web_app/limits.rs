//! Limits in the web app: an admin sets a role's limits and one user's overrides in Settings
//! (seeing what the user has used), and a user over a limit is told which limit and when it
//! resets, with their draft kept.

use serde_json::Value;
use sluice_testkit::{TestApp, chat_page::ChatPage, webdriver::Chrome};

async fn limits_row(app: &TestApp, sql: &str) -> Option<(Option<i32>, Option<i32>)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT requests_per_minute, concurrent_answers FROM limits WHERE {sql}"
    )))
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_limits_and_a_user_over_one_is_told_which_and_when() {
    let app = TestApp::spawn_configured(|c| c.admin_emails = vec!["root@example.com".into()]).await;
    sluice_testkit::wait::fresh_minute().await;
    let ada = app.register("ada@example.com").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    app.send_answered(
        ada_token,
        app.create_conversation(ada_token).await,
        "earlier",
    )
    .await;

    let chrome = Chrome::start(1200, 1000).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "root@example.com").await;
    page.open_settings().await;
    chrome.wait_for_element("#limits-role-user").await;
    chrome
        .type_into("#limits-role-user-requests_per_minute", "2")
        .await;
    chrome.click("#limits-role-user button[type=submit]").await;
    chrome
        .wait_until("the role's limits saved", || async {
            chrome.text("#limits-role-user").await.contains("Saved.")
        })
        .await;
    assert_eq!(
        limits_row(&app, "role = 'user'").await,
        Some((Some(2), None))
    );

    // Ada's own: her use is shown, an override saved.
    let open = "button[aria-label='Limits of ada@example.com']";
    chrome.click(open).await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let usage = format!("#usage-{ada_id}");
    chrome.wait_for_element(&usage).await;
    let used = chrome.text(&usage).await;
    assert!(used.contains("1 request this minute"), "{used}");
    let field = format!("#limits-user-{ada_id}-concurrent_answers");
    chrome.type_into(&field, "2").await;
    chrome
        .click(&format!("#limits-user-{ada_id} button[type=submit]"))
        .await;
    chrome
        .wait_until("the override saved", || async {
            chrome
                .text(&format!("#limits-user-{ada_id}"))
                .await
                .contains("Saved.")
        })
        .await;
    let row = limits_row(&app, &format!("user_id = '{ada_id}'")).await;
    assert_eq!(row, Some((None, Some(2))));
    chrome.screenshot("limits-admin").await;
    chrome.quit().await;

    // Ada, over her role's 2 requests a minute, is told so where she typed, her draft kept.
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    chrome.goto(&app.url("/")).await;
    chrome.type_into("#email", "ada@example.com").await;
    chrome
        .type_into("#password", sluice_testkit::PASSWORD)
        .await;
    chrome.click("#signin-submit").await;
    chrome.wait_for_element("#composer").await;
    page.send("second this minute").await;
    page.wait_answer_ends().await;
    chrome
        .type_into(
            "#composer",
            &format!("one too many{}", sluice_testkit::chat_page::ENTER),
        )
        .await;
    chrome
        .wait_until("the refusal is said", || async {
            !chrome.text("#composer-error").await.is_empty()
        })
        .await;
    let said = chrome.text("#composer-error").await;
    assert!(
        said.contains("2 requests per minute") && said.contains("try again after"),
        "{said}"
    );
    let draft = chrome
        .js("return document.querySelector('#composer').value;", vec![])
        .await;
    assert_eq!(draft, Value::from("one too many"));
    chrome.screenshot("limits-refused").await;
    chrome.quit().await;
}
