//! What a person does to their own account: change the password (other devices signed out),
//! sign out everywhere, delete the account with everything in it (confirmed by the password;
//! the last admin cannot leave).

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{PASSWORD, TestApp};

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn signed_in(app: &TestApp, email: &str) -> String {
    let r = login(app, email, PASSWORD).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn token(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_signs_other_devices_out() {
    let app = TestApp::spawn().await;
    let email = "change@example.com";
    let laptop = token(&app.register(email).await);
    let phone = signed_in(&app, email).await;
    let key = app.create_key(&laptop, "script").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let change = |token: String, body: Value| {
        let app = &app;
        async move {
            app.call(&token, Method::PUT, "/api/auth/password", Some(body))
                .await
        }
    };
    let new = "a brand new passphrase";
    let wrong = json!({ "current_password": "not the password", "new_password": new });
    assert_eq!(
        error_code(change(laptop.clone(), wrong).await).await,
        (403, "wrong_password".into())
    );
    let weak = json!({ "current_password": PASSWORD, "new_password": "short" });
    assert_eq!(
        error_code(change(laptop.clone(), weak).await).await,
        (400, "weak_password".into())
    );
    let by_key = json!({ "current_password": PASSWORD, "new_password": new });
    assert_eq!(
        error_code(change(key.clone(), by_key).await).await,
        (403, "session_required".into()),
        "an API key cannot change the password"
    );

    let right = json!({ "current_password": PASSWORD, "new_password": new });
    assert_eq!(change(laptop.clone(), right).await.status(), 204);
    assert_eq!(
        login(&app, email, PASSWORD).await.status(),
        401,
        "the old password is gone"
    );
    assert_eq!(
        login(&app, email, new).await.status(),
        200,
        "the new one works"
    );
    assert_eq!(
        app.get(&laptop, "/api/auth/me").await.status(),
        200,
        "this device stays"
    );
    assert_eq!(
        app.get(&phone, "/api/auth/me").await.status(),
        401,
        "the other is signed out"
    );
    assert_eq!(
        app.get(&key, "/api/auth/me").await.status(),
        200,
        "API keys keep working"
    );

    let guest = app.guest().await;
    let add_instead = json!({ "current_password": "", "new_password": new });
    assert_eq!(
        error_code(change(guest, add_instead).await).await,
        (409, "no_password".into()),
        "a guest adds a password instead"
    );
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_at_once() {
    let app = TestApp::spawn().await;
    let email = "everywhere@example.com";
    let laptop = token(&app.register(email).await);
    let phone = signed_in(&app, email).await;
    let key = app.create_key(&laptop, "script").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .call(&key, Method::DELETE, "/api/auth/sessions", None)
        .await;
    assert_eq!(error_code(r).await, (403, "session_required".into()));

    let r = app
        .call(&laptop, Method::DELETE, "/api/auth/sessions", None)
        .await;
    assert_eq!(r.status(), 204);
    let cleared: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert!(!cleared.is_empty(), "this browser's cookies are cleared");
    for (device, token) in [("laptop", &laptop), ("phone", &phone)] {
        assert_eq!(
            app.get(token, "/api/auth/me").await.status(),
            401,
            "{device}"
        );
    }
    assert_eq!(
        app.get(&key, "/api/auth/me").await.status(),
        200,
        "API keys are separate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_takes_everything_with_it_after_the_password() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 60).await;
    let email = "leaving@example.com";
    let me = app.register(email).await;
    let access = token(&me);
    let user_id: uuid::Uuid = me["user"]["id"].as_str().unwrap().parse().unwrap();
    let key = app.create_key(&access, "script").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let conversation = app.create_conversation(&access).await;
    let sent = app
        .send(&access, conversation, "a long answer please")
        .await;
    let mut answer = app.sse(&access, &sent.stream_url, None).await;
    answer.until_tokens(2).await;
    let stays = token(&app.register("stays@example.com").await);
    let theirs = app.create_conversation(&stays).await;

    let delete = |body: Value| app.call(&access, Method::DELETE, "/api/auth/me", Some(body));
    assert_eq!(
        error_code(delete(json!({})).await).await,
        (400, "password_required".into())
    );
    assert_eq!(
        error_code(delete(json!({ "password": "wrong" })).await).await,
        (403, "wrong_password".into())
    );
    let r = app
        .call(
            &key,
            Method::DELETE,
            "/api/auth/me",
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(error_code(r).await, (403, "session_required".into()));

    assert_eq!(delete(json!({ "password": PASSWORD })).await.status(), 204);
    // The running answer stops; its stream ends at once.
    let end = loop {
        let event = answer.next().await.expect("the stream ends with an event");
        if event.is_terminal() {
            break event;
        }
    };
    assert_eq!(end.event, "cancelled");
    assert_eq!(app.get(&access, "/api/auth/me").await.status(), 401);
    assert_eq!(
        app.get(&key, "/api/auth/me").await.status(),
        401,
        "its keys went too"
    );
    assert_eq!(login(&app, email, PASSWORD).await.status(), 401);
    for table in ["users", "conversations", "messages", "sessions", "api_keys"] {
        let column = if table == "users" { "id" } else { "user_id" };
        let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE {column} = $1"
        )))
        .bind(user_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "nothing of theirs is left in {table}");
    }
    let r = app
        .get(&stays, &format!("/api/conversations/{theirs}"))
        .await;
    assert_eq!(r.status(), 200, "another user's data is untouched");

    // A guest (no password) confirms with its session alone.
    let guest = app.guest().await;
    let r = app
        .call(&guest, Method::DELETE, "/api/auth/me", Some(json!({})))
        .await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn the_last_admin_cannot_delete_their_account() {
    let app = TestApp::spawn_configured(|c| c.admin_emails = vec!["root@example.com".into()]).await;
    let root = token(&app.register("root@example.com").await);
    let r = app
        .call(
            &root,
            Method::DELETE,
            "/api/auth/me",
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(error_code(r).await, (409, "last_admin".into()));
    assert_eq!(
        app.get(&root, "/api/auth/me").await.status(),
        200,
        "still there"
    );
}
