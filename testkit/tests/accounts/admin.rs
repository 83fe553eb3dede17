//! Roles and admin routes: configured addresses become admins, permissions guard the routes
//! and act at once, and disabling a user ends every way they had in.

use serde_json::{Value, json};
use sluice_testkit::TestApp;

async fn stack() -> TestApp {
    TestApp::spawn_configured(|c| c.admin_emails = vec!["root@example.com".into()]).await
}

fn token(v: &Value) -> &str {
    v["access_token"].as_str().unwrap()
}

async fn password_sign_in(app: &TestApp, email: &str) -> u16 {
    let body = json!({ "email": email, "password": sluice_testkit::PASSWORD });
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

fn roles_claim(access_token: &str) -> Value {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["roles"].clone()
}

#[tokio::test]
async fn a_configured_address_becomes_admin_and_others_are_forbidden() {
    let app = stack().await;
    let root = app.register("Root@Example.com").await;
    assert_eq!(root["user"]["roles"], json!(["admin", "user"]));
    assert_eq!(roles_claim(token(&root)), json!(["admin", "user"]));
    let ada = app.register("ada@example.com").await;
    assert_eq!(ada["user"]["roles"], json!(["user"]));

    let r = app.get(token(&ada), "/api/admin/users").await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );

    let users = app.get_json(token(&root), "/api/admin/users").await;
    let emails: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["ada@example.com", "root@example.com"],
        "newest first"
    );
}

#[tokio::test]
async fn role_changes_act_at_once_and_unknown_roles_are_refused() {
    let app = stack().await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let path = format!("/api/admin/users/{ada_id}/roles");

    let r = app
        .call(
            token(&root),
            reqwest::Method::PUT,
            &path,
            Some(json!({ "roles": ["user", "admin"] })),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["roles"],
        json!(["admin", "user"])
    );
    // Ada's existing token now reaches admin routes: permissions are read per request.
    assert_eq!(app.get(token(&ada), "/api/admin/users").await.status(), 200);

    let r = app
        .call(
            token(&root),
            reqwest::Method::PUT,
            &path,
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(token(&ada), "/api/admin/users").await.status(), 403);

    let r = app
        .call(
            token(&root),
            reqwest::Method::PUT,
            &path,
            Some(json!({ "roles": ["wizard"] })),
        )
        .await;
    assert_eq!(r.status(), 422);
    let root_id = root["user"]["id"].as_str().unwrap();
    let own = format!("/api/admin/users/{root_id}/roles");
    let r = app
        .call(
            token(&root),
            reqwest::Method::PUT,
            &own,
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    assert_eq!(r.status(), 409, "no admin locks themselves out");
    let unknown = format!("/api/admin/users/{}/roles", uuid::Uuid::now_v7());
    let r = app
        .call(
            token(&root),
            reqwest::Method::PUT,
            &unknown,
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_refresh_tokens_and_keys_at_once() {
    let app = stack().await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let key = app.create_key(token(&ada), "k").await;
    let key = key["key"].as_str().unwrap();
    assert_eq!(app.get(key, "/api/auth/me").await.status(), 200);

    let r = app
        .call(
            token(&root),
            reqwest::Method::POST,
            &format!("/api/admin/users/{ada_id}/disable"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["disabled_at"].is_string());

    assert_eq!(
        app.get(token(&ada), "/api/auth/me").await.status(),
        401,
        "access token"
    );
    assert_eq!(app.get(key, "/api/auth/me").await.status(), 401, "API key");
    let refresh = app
        .http
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": ada["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 401, "refresh token");
    assert_eq!(
        password_sign_in(&app, "ada@example.com").await,
        401,
        "password sign-in"
    );

    // Enabled again, Ada can sign in; what was ended stays ended.
    let r = app
        .call(
            token(&root),
            reqwest::Method::POST,
            &format!("/api/admin/users/{ada_id}/enable"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(password_sign_in(&app, "ada@example.com").await, 200);
    assert_eq!(app.get(token(&ada), "/api/auth/me").await.status(), 401);
    assert_eq!(app.get(key, "/api/auth/me").await.status(), 401);

    let root_id = root["user"]["id"].as_str().unwrap();
    let r = app
        .call(
            token(&root),
            reqwest::Method::POST,
            &format!("/api/admin/users/{root_id}/disable"),
            None,
        )
        .await;
    assert_eq!(r.status(), 409, "an admin cannot disable themselves");
}

/// Two admins demoting or disabling each other at the same instant: one of them wins, the
/// other is refused, and an enabled admin always remains — every round, either way of acting.
#[tokio::test]
async fn two_admins_acting_on_each_other_at_once_always_leave_an_admin() {
    let app = TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["a@example.com".into(), "b@example.com".into()];
        c.auth_burst = 1_000;
        c.auth_rate_per_minute = 100_000;
    })
    .await;
    for round in 0..10 {
        let a = app.register(&format!("a{round}@example.com")).await;
        let b = app.register(&format!("b{round}@example.com")).await;
        // Both admins (by role, as an admin would grant it).
        for user in [&a, &b] {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1::text::uuid, 'admin')")
                .bind(user["user"]["id"].as_str().unwrap())
                .execute(&app.pool)
                .await
                .unwrap();
        }
        let act = |by: &Value, on: &Value| {
            let on = on["user"]["id"].as_str().unwrap().to_string();
            let (method, path, body) = if round % 2 == 0 {
                let body = json!({ "roles": ["user"] });
                (
                    reqwest::Method::PUT,
                    format!("/api/admin/users/{on}/roles"),
                    Some(body),
                )
            } else {
                (
                    reqwest::Method::POST,
                    format!("/api/admin/users/{on}/disable"),
                    None,
                )
            };
            let token = token(by).to_string();
            let app = &app;
            async move {
                app.call(&token, method, &path, body)
                    .await
                    .status()
                    .as_u16()
            }
        };
        let (one, other) = tokio::join!(act(&a, &b), act(&b, &a));
        let mut statuses = [one, other];
        statuses.sort_unstable();
        assert_eq!(statuses[0], 200, "round {round}: one wins: {statuses:?}");
        assert!(
            matches!(statuses[1], 401 | 403 | 409),
            "round {round}: the other is refused: {statuses:?}"
        );
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM user_roles r JOIN users u ON u.id = r.user_id
             WHERE r.role = 'admin' AND u.disabled_at IS NULL
               AND u.email IN ($1, $2)",
        )
        .bind(format!("a{round}@example.com"))
        .bind(format!("b{round}@example.com"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(
            admins, 1,
            "round {round}: exactly one of the two is still an admin"
        );
    }
}
