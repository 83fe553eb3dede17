//! The web app's account screens in a real browser: API keys shown once, a session revoked from
//! another browser, a guest who adds a password and keeps their conversations.

use serde_json::json;
use sluice_testkit::{
    TestApp,
    chat_page::{ChatPage, WEB_PASSWORD},
    webdriver::Chrome,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_shown_once_works_as_a_bearer_and_is_gone_after_reload() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    ChatPage { chrome: &chrome }
        .sign_up(&app, "keys@example.com")
        .await;
    ChatPage { chrome: &chrome }.open_settings().await;
    chrome.type_into("#key-name", "my script").await;
    chrome.click("#create-key button").await;
    chrome.wait_for_element("#fresh-key").await;
    let key = chrome.text("#fresh-key").await;
    assert!(key.starts_with("sk-sluice-"), "{key}");
    chrome.screenshot("api-key-shown-once").await;
    let me = app.get(&key, "/api/auth/me").await;
    assert_eq!(me.status(), 200, "the key works as a bearer");
    // A second key, deleted while its secret is on screen: the dead secret goes with it.
    chrome.type_into("#key-name", "short lived").await;
    chrome.click("#create-key button").await;
    chrome
        .wait_until("the second key shown", || async {
            chrome.text("#new-key").await.contains("short lived")
        })
        .await;
    let delete = "#keys button[aria-label='Delete key short lived']";
    chrome.wait_for_element(delete).await;
    chrome.click(delete).await;
    chrome.accept_dialog().await;
    chrome
        .wait_until("the dead secret is gone", || async {
            chrome
                .js("return document.querySelector('#fresh-key');", vec![])
                .await
                == json!(null)
        })
        .await;
    chrome.reload().await;
    chrome.wait_for_element("#keys li").await;
    assert_eq!(
        chrome
            .js("return document.querySelector('#fresh-key');", vec![])
            .await,
        json!(null)
    );
    let listed = chrome.text("#keys").await;
    assert!(
        listed.contains("my script") && !listed.contains(&key),
        "{listed}"
    );
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_session_in_one_browser_signs_the_other_out() {
    let app = TestApp::spawn().await;
    let laptop = Chrome::start(1200, 900).await;
    let phone = Chrome::start(1200, 900).await;
    ChatPage { chrome: &laptop }
        .sign_up(&app, "two@example.com")
        .await;
    phone.goto(&app.url("/")).await;
    ChatPage { chrome: &phone }.sign_in("two@example.com").await;
    ChatPage { chrome: &laptop }.open_settings().await;
    laptop
        .wait_until("both sessions listed", || async {
            laptop
                .js(
                    "return document.querySelectorAll('#sessions li').length;",
                    vec![],
                )
                .await
                == json!(2)
        })
        .await;
    // Devices by the names people use, with when they were last active.
    let listed = laptop.text("#sessions").await;
    assert!(
        listed.contains("Chrome on Linux — this browser"),
        "{listed}"
    );
    assert!(
        listed.contains("active now") && listed.contains("last active just now"),
        "{listed}"
    );
    assert!(
        !listed.contains("Mozilla/5.0"),
        "no raw User-Agent: {listed}"
    );
    laptop
        .click("#sessions button[aria-label='Sign out Chrome on Linux']")
        .await;
    laptop
        .wait_until("one session left", || async {
            laptop
                .js(
                    "return document.querySelectorAll('#sessions li').length;",
                    vec![],
                )
                .await
                == json!(1)
        })
        .await;
    // The phone's next step finds its session gone and says so.
    phone.click("#settings-link").await;
    phone.wait_for_element("#signin-form").await;
    let notice = phone.text("#signin-form .form-error").await;
    assert!(notice.contains("session has ended"), "{notice}");
    phone.screenshot("signed-out-elsewhere").await;
    laptop.quit().await;
    phone.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_who_adds_a_password_keeps_their_conversations() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    chrome.goto(&app.url("/")).await;
    chrome.click("#guest").await;
    chrome.type_into("#composer", "remember this\u{E007}").await;
    chrome.wait_for_element("#conversations li[data-id]").await;
    ChatPage { chrome: &chrome }.open_settings().await;
    chrome.type_into("#upgrade-email", "kept@example.com").await;
    chrome.type_into("#upgrade-password", WEB_PASSWORD).await;
    chrome.click("#upgrade button").await;
    chrome
        .wait_until("the account to show its email", || async {
            chrome
                .text("#account-who")
                .await
                .contains("kept@example.com")
        })
        .await;
    chrome.click("#sign-out").await;
    chrome.wait_for_element("#signin-form").await;
    ChatPage { chrome: &chrome }
        .sign_in("kept@example.com")
        .await;
    chrome.wait_for_element("#conversations li[data-id]").await;
    assert!(
        chrome
            .text("#conversations")
            .await
            .contains("remember this")
    );
    chrome.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_the_users_and_can_make_another_one_admin() {
    let app = TestApp::spawn_configured(|c| c.admin_emails = vec!["boss@example.com".into()]).await;
    app.register("staff@example.com").await;
    let chrome = Chrome::start(1200, 900).await;
    ChatPage { chrome: &chrome }
        .sign_up(&app, "boss@example.com")
        .await;
    ChatPage { chrome: &chrome }.open_settings().await;
    chrome.wait_for_element("#users li").await;
    let staff_row = chrome
        .js(
            "return [...document.querySelectorAll('#users li')].findIndex(li => li.textContent.includes('staff@'));",
            vec![],
        )
        .await;
    let row = staff_row.as_i64().unwrap() + 1;
    chrome
        .click(&format!("#users li:nth-child({row}) button:first-of-type"))
        .await;
    chrome
        .wait_until("the new role", || async {
            chrome
                .text(&format!("#users li:nth-child({row}) .muted"))
                .await
                .contains("admin")
        })
        .await;
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.role FROM user_roles r JOIN users u ON u.id = r.user_id WHERE u.email = 'staff@example.com'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(roles.contains(&"admin".to_string()), "{roles:?}");
    chrome.screenshot("admin-users").await;
    chrome.quit().await;
}

/// A guest cannot sign in again: signing out asks first, and Cancel keeps everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_signing_out_is_warned_first() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    chrome.goto(&app.url("/")).await;
    chrome.click("#guest").await;
    chrome.type_into("#composer", "guest notes\u{E007}").await;
    chrome.wait_for_element("#conversations li[data-id]").await;
    ChatPage { chrome: &chrome }.open_settings().await;
    chrome.click("#sign-out").await;
    let warning = sluice_testkit::wait::until(
        "the warning",
        std::time::Duration::from_secs(10),
        || async { chrome.dialog().await },
        Option::is_some,
    )
    .await
    .unwrap();
    assert!(
        warning.contains("guest") && warning.contains("password"),
        "{warning}"
    );
    chrome.dismiss_dialog().await;
    // Still signed in, the conversation still there.
    chrome.wait_for_element("#sign-out").await;
    assert!(chrome.text("#conversations").await.contains("guest notes"));
    chrome.click("#sign-out").await;
    sluice_testkit::wait::until(
        "the warning again",
        std::time::Duration::from_secs(10),
        || async { chrome.dialog().await },
        Option::is_some,
    )
    .await;
    chrome.accept_dialog().await;
    chrome.wait_for_element("#signin-form").await;
    chrome.quit().await;
}

/// What goes wrong is said in a sentence a person can act on, where it happened: not "Failed to
/// fetch", not "API key not found", never an uncaught error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_said_in_sentences_where_they_happen() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    page.sign_up(&app, "sentences@example.com").await;
    page.open_settings().await;
    chrome.type_into("#key-name", "soon gone").await;
    chrome.click("#create-key button").await;
    chrome.wait_for_element("#keys li[data-id] button").await;
    // Deleted elsewhere (another tab, the CLI) while this page still lists it.
    sqlx::query("DELETE FROM api_keys")
        .execute(&app.pool)
        .await
        .unwrap();
    chrome.click("#keys li[data-id] button").await;
    let said = "return document.querySelector('#keys').parentElement.querySelector('.form-error').textContent;";
    chrome
        .wait_until("the failure is said", || async {
            !chrome
                .js(said, vec![])
                .await
                .as_str()
                .unwrap_or_default()
                .is_empty()
        })
        .await;
    assert_eq!(
        chrome.js(said, vec![]).await,
        json!(
            "This API key no longer exists: it may have been deleted in another tab or on another device."
        )
    );
    // The network gone (as the page sees it: every request fails to leave the browser).
    chrome
        .js(
            "window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));",
            vec![],
        )
        .await;
    chrome.type_into("#key-name", "offline").await;
    chrome.click("#create-key button").await;
    chrome
        .wait_until("the network failure is said", || async {
            chrome
                .js(said, vec![])
                .await
                .as_str()
                .unwrap_or_default()
                .contains("could not be reached")
        })
        .await;
    assert_eq!(
        chrome.js(said, vec![]).await,
        json!("Sluice could not be reached: check your connection, then try again.")
    );
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}

/// Settings → Account: change the password (a wrong current one is said), sign out
/// everywhere (another session ends too), delete the account (password and a dialog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_can_change_its_password_sign_out_everywhere_and_be_deleted() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(1200, 900).await;
    let page = ChatPage { chrome: &chrome };
    let email = "self-service@example.com";
    page.sign_up(&app, email).await;
    page.send("keep this").await;
    page.open_settings().await;
    chrome.screenshot("settings-account").await;

    chrome
        .type_into("#current-password", "not my password")
        .await;
    chrome
        .type_into("#new-password", "a fresh passphrase")
        .await;
    chrome.click("#change-password button[type='submit']").await;
    chrome
        .wait_until("the wrong password is said", || async {
            chrome.text("#change-password .form-error").await == "The password is not right."
        })
        .await;
    chrome
        .js(
            "document.getElementById('current-password').value = '';",
            vec![],
        )
        .await;
    chrome.type_into("#current-password", WEB_PASSWORD).await;
    chrome.click("#change-password button[type='submit']").await;
    chrome
        .wait_until("the change is confirmed", || async {
            chrome
                .text("#password-changed")
                .await
                .contains("Password changed")
        })
        .await;
    let login = |password: &'static str| {
        app.http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    assert_eq!(login(WEB_PASSWORD).await.unwrap().status(), 401);
    let other: serde_json::Value = login("a fresh passphrase")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = other["access_token"].as_str().unwrap().to_string();

    chrome.click("#sign-out-everywhere").await;
    chrome.accept_dialog().await;
    chrome.wait_for_element("#signin-form").await;
    assert_eq!(
        chrome.text("#signin-form .form-error").await,
        "You were signed out everywhere."
    );
    assert_eq!(
        app.get(&other, "/api/auth/me").await.status(),
        401,
        "the other session ended"
    );

    chrome.type_into("#email", email).await;
    chrome.type_into("#password", "a fresh passphrase").await;
    chrome.click("#signin-submit").await;
    chrome.wait_for_element("#composer").await;
    page.open_settings().await;
    chrome
        .type_into("#delete-password", "a fresh passphrase")
        .await;
    chrome.click("#delete-account button[type='submit']").await;
    chrome.accept_dialog().await;
    chrome.wait_for_element("#signin-form").await;
    assert_eq!(
        chrome.text("#signin-form .form-error").await,
        "Your account was deleted."
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let conversations: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(conversations, 0, "its conversations went with it");
    assert_eq!(page.uncaught_errors().await, json!([]));
    chrome.quit().await;
}
