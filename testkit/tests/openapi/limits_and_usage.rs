//! Limits (the caller's, a key's, per role and per user) and usage (the caller's and
//! everyone's): their real responses checked.

use reqwest::Method;
use serde_json::json;
use sluice_testkit::TestApp;

use crate::checker::{Checker, get};

pub(crate) async fn limits_and_usage(app: &TestApp, c: &mut Checker, admin_token: &str) {
    let me = app.get_json(admin_token, "/api/auth/me").await;
    let admin_id = me["id"].as_str().unwrap().to_string();
    c.check(
        "get",
        "/api/limits",
        get(app, "/api/limits", admin_token).await,
    )
    .await;
    let key = app.create_key(admin_token, "limited").await;
    let key_path = format!("/api/keys/{}/limits", key["id"].as_str().unwrap());
    let limits = json!({ "requests_per_minute": 100, "cost_per_day_usd": 2.5 });
    let r = app
        .call(admin_token, Method::PUT, &key_path, Some(limits.clone()))
        .await;
    c.check("put", "/api/keys/{id}/limits", r).await;
    c.check(
        "get",
        "/api/keys/{id}/limits",
        get(app, &key_path, admin_token).await,
    )
    .await;
    let r = app
        .call(
            admin_token,
            Method::PUT,
            "/api/admin/limits/roles/user",
            Some(limits.clone()),
        )
        .await;
    c.check("put", "/api/admin/limits/roles/{role}", r).await;
    let r = get(app, "/api/admin/limits", admin_token).await;
    c.check("get", "/api/admin/limits", r).await;
    let user_path = format!("/api/admin/users/{admin_id}/limits");
    let r = app
        .call(
            admin_token,
            Method::PUT,
            &user_path,
            Some(json!({ "concurrent_answers": 50 })),
        )
        .await;
    c.check("put", "/api/admin/users/{id}/limits", r).await;
    c.check(
        "get",
        "/api/admin/users/{id}/limits",
        get(app, &user_path, admin_token).await,
    )
    .await;
    for kind in ["overview", "timeseries", "latency", "cost", "errors"] {
        for (path, query) in [
            (format!("/api/usage/{kind}"), "?interval=1H"),
            (format!("/api/admin/usage/{kind}"), "?interval=15M"),
        ] {
            let r = get(app, &format!("{path}{query}"), admin_token).await;
            c.check("get", &path, r).await;
        }
    }
    let r = get(app, "/api/usage/overview?interval=5Y", admin_token).await;
    c.check("get", "/api/usage/overview", r).await;
}
