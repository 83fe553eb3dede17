//! GitHub and Google sign-in against a fake provider: authorization code + PKCE + state,
//! identity by provider user id (never by email), guests linking a provider and keeping their
//! conversations, and every tampered or refused step ending on a clear page.

use reqwest::StatusCode;
use serde_json::Value;
use sluice_testkit::{
    TestApp,
    browser::Browser,
    fake_oauth::{FakeOAuth, FakeUser},
    with_fake_oauth,
};

async fn stack() -> (TestApp, FakeOAuth) {
    let fake = FakeOAuth::start().await;
    let app = TestApp::spawn_with(with_fake_oauth(&fake)).await;
    (app, fake)
}

/// Runs the whole dance in `browser`; returns the final page and its URL.
async fn sign_in(browser: &mut Browser, provider: &str, next: &str) -> (reqwest::Response, String) {
    let start = browser
        .get(&format!("/api/auth/{provider}?next={next}"))
        .await;
    assert_eq!(start.status(), 303);
    browser.follow(start).await
}

async fn me(browser: &mut Browser) -> Value {
    let r = browser.get("/api/auth/me").await;
    assert_eq!(r.status(), 200, "signed in by cookie");
    r.json().await.unwrap()
}

#[tokio::test]
async fn github_sign_in_creates_the_user_once_by_github_id_and_sets_the_browser_session() {
    let (app, fake) = stack().await;
    fake.sign_in_as(FakeUser::new("4242", "Octo@Example.com"));
    let mut browser = Browser::new(&app.base);
    let (page, url) = sign_in(&mut browser, "github", "/settings").await;
    assert_eq!(url, app.url("/settings"), "back where the sign-in started");
    assert_eq!(page.status(), 200, "a real page of the app");
    let access = browser
        .set_cookie_log
        .iter()
        .find(|c| c.starts_with("sluice_access="))
        .expect("a session cookie");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Lax"),
        "{access}"
    );
    assert!(!access.contains("Secure"), "plain http here");
    let first = me(&mut browser).await;
    assert_eq!(
        first["email"], "octo@example.com",
        "the verified primary address"
    );
    assert_eq!(first["display_name"], "User 4242");
    assert_eq!(first["is_guest"], false);

    // Same GitHub account, new address, another browser: the same Sluice user.
    fake.sign_in_as(FakeUser::new("4242", "new-address@example.com"));
    let mut other = Browser::new(&app.base);
    sign_in(&mut other, "github", "/").await;
    assert_eq!(me(&mut other).await["id"], first["id"]);

    // Another GitHub account claiming the same address is someone else: email is not identity.
    fake.sign_in_as(FakeUser::new("999", "octo@example.com"));
    let mut third = Browser::new(&app.base);
    sign_in(&mut third, "github", "/").await;
    let stranger = me(&mut third).await;
    assert_ne!(stranger["id"], first["id"]);
    assert_eq!(
        stranger["email"],
        Value::Null,
        "the address stays with its first owner"
    );
}

#[tokio::test]
async fn google_sign_in_keeps_only_verified_addresses() {
    let (app, fake) = stack().await;
    let mut user = FakeUser::new("google-sub-1", "g@example.com");
    user.email_verified = false;
    fake.sign_in_as(user);
    let mut browser = Browser::new(&app.base);
    let (page, url) = sign_in(&mut browser, "google", "/").await;
    assert_eq!(url, app.url("/"), "{:?}", page.text().await);
    let user = me(&mut browser).await;
    assert_eq!(user["display_name"], "User google-sub-1");
    assert_eq!(
        user["email"],
        Value::Null,
        "an unverified address is not kept"
    );
}

#[tokio::test]
async fn a_guest_links_github_and_keeps_its_conversations() {
    let (app, fake) = stack().await;
    let mut browser = Browser::new(&app.base);
    let r = browser
        .send(browser.request(reqwest::Method::POST, "/api/auth/guest"))
        .await;
    assert_eq!(r.status(), 201);
    let guest: Value = r.json().await.unwrap();
    let token = guest["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(token).await;

    fake.sign_in_as(FakeUser::new("77", "linked@example.com"));
    let (_, url) = sign_in(&mut browser, "github", "/").await;
    assert_eq!(url, app.url("/"));
    let linked = me(&mut browser).await;
    assert_eq!(linked["id"], guest["user"]["id"], "the same account");
    assert_eq!(linked["is_guest"], false);
    assert_eq!(linked["email"], "linked@example.com");
    let list = app.get_json(token, "/api/conversations").await;
    assert_eq!(list["items"][0]["id"], conversation.to_string());

    // Signing in with that GitHub account later lands in the same account.
    let mut later = Browser::new(&app.base);
    sign_in(&mut later, "github", "/").await;
    assert_eq!(me(&mut later).await["id"], guest["user"]["id"]);

    // A second guest cannot take over the GitHub account already linked to the first.
    let mut intruder = Browser::new(&app.base);
    intruder
        .send(intruder.request(reqwest::Method::POST, "/api/auth/guest"))
        .await;
    let (page, _) = sign_in(&mut intruder, "github", "/").await;
    assert_eq!(page.status(), StatusCode::CONFLICT);
    assert!(page.text().await.unwrap().contains("already linked"));
}

#[tokio::test]
async fn refused_or_tampered_callbacks_end_on_a_clear_page_and_sign_nobody_in() {
    let (app, fake) = stack().await;
    fake.sign_in_as(FakeUser::new("5", "five@example.com"));

    // The user clicks "Cancel" at GitHub.
    fake.deny_next();
    let mut browser = Browser::new(&app.base);
    let (page, _) = sign_in(&mut browser, "github", "/").await;
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("did not sign you in (access_denied)")
    );
    assert!(browser.cookie("sluice_access").is_none());

    // Stop at the callback to tamper with it.
    let start = browser.request(reqwest::Method::GET, "/api/auth/github?next=/");
    let r = browser.send(start).await;
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    let r = browser.get(&authorize).await;
    let callback = r.headers()["location"].to_str().unwrap().to_string();

    // A changed state: refused.
    let bad_state = callback.replace("state=", "state=x");
    let page = browser.get(&bad_state).await;
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not started in this browser")
    );

    // The right callback opened in another browser (no state cookie): refused.
    let mut elsewhere = Browser::new(&app.base);
    let page = elsewhere.get(&callback).await;
    assert_eq!(page.status(), 400);
    assert!(elsewhere.cookie("sluice_access").is_none());

    // A callback without a code: refused.
    let (base, _) = callback.split_once('?').unwrap();
    let page = browser.get(base).await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("incomplete"));

    // The provider refuses the code exchange: a clear 502 page.
    fake.fail_next_exchange();
    let start = browser.request(reqwest::Method::GET, "/api/auth/github?next=/");
    let r = browser.send(start).await;
    let (page, _) = browser.follow(r).await;
    assert_eq!(page.status(), 502);
    assert!(page.text().await.unwrap().contains("did not confirm"));

    // Replaying a callback whose state (and PKCE verifier) was already used: refused. The
    // fake provider itself refuses a code without the right verifier, so the exchange only
    // ever succeeds with the verifier kept for this state.
    let start = browser.request(reqwest::Method::GET, "/api/auth/github?next=/");
    let r = browser.send(start).await;
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    let state_cookie = browser.cookie("sluice_oauth_state").unwrap().to_string();
    let r = browser.get(&authorize).await;
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    let ok = browser.get(&callback).await;
    assert_eq!(ok.status(), 303, "the first use signs in");
    browser.set_cookie("sluice_oauth_state", &state_cookie);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status(), 400);
    assert!(
        replay
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );

    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(accounts, 1, "only the one good sign-in created an identity");
}

#[tokio::test]
async fn a_provider_without_configuration_says_so() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app.base);
    let page = browser.get("/api/auth/github").await;
    assert_eq!(page.status(), 404);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("GitHub sign-in is not configured")
    );
}
