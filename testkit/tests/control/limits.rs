//! Limits and budgets as users meet them: a send over a limit is refused with 429, the limit
//! named, `Retry-After` and `x-ratelimit-*` headers, and nothing stored; a role's limit is
//! everyone's with it, a user's override and an API key's own apply on top; an answer in
//! flight holds its reservation until it ends, and a cancelled or failed one gives it back.
//! The counters always equal what the stored answers say.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{
    TestApp, fake_openai::FakeOpenAi, fake_openai::Fault, wait, with_fake_openai,
};

/// A stack whose root@example.com is an admin.
async fn stack(configure: impl FnOnce(&mut sluice_shared::Config) + Send + 'static) -> TestApp {
    TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        configure(c);
    })
    .await
}

fn token(v: &Value) -> &str {
    v["access_token"].as_str().unwrap()
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.call(token, Method::PUT, path, Some(body)).await
}

/// A send to a new conversation, as the web app's first message is.
async fn send_new(app: &TestApp, token: &str, text: &str) -> reqwest::Response {
    let body = json!({ "message": text });
    app.call(token, Method::POST, "/api/messages", Some(body))
        .await
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The user's own budget counters: (day tokens, day cost, in flight).
async fn budget(app: &TestApp, subject: &str) -> (i64, f64, i32) {
    sqlx::query_as(
        "SELECT day_tokens, day_cost::float8, in_flight FROM budgets WHERE subject = $1::uuid",
    )
    .bind(subject)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// What the user's stored answers say they used today: (tokens, cost).
async fn truth(app: &TestApp, user: &str) -> (i64, f64) {
    sqlx::query_as(
        "SELECT COALESCE(sum(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)), 0)::int8,
                COALESCE(sum(cost_usd), 0)::float8
         FROM messages WHERE user_id = $1::uuid AND role = 'assistant'",
    )
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_role_limit_refuses_the_extra_send_with_429_headers_and_nothing_stored() {
    let app = stack(|_| {}).await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let r = put(
        &app,
        token(&root),
        "/api/admin/limits/roles/user",
        json!({ "requests_per_minute": 2 }),
    )
    .await;
    assert_eq!(r.status(), 200);
    wait::fresh_minute().await;
    for i in 0..2 {
        let r = send_new(&app, token(&ada), &format!("hello {i}")).await;
        assert_eq!(r.status(), 202, "send {i}");
    }
    let (conversations, messages) = (
        rows(&app, "conversations").await,
        rows(&app, "messages").await,
    );
    let r = send_new(&app, token(&ada), "one too many").await;
    assert_eq!(r.status(), 429);
    let headers = r.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "2");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    assert!(
        headers["x-ratelimit-reset-requests"]
            .to_str()
            .unwrap()
            .ends_with('s')
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("2 requests per minute"), "{message}");
    assert_eq!(
        rows(&app, "conversations").await,
        conversations,
        "no conversation made"
    );
    assert_eq!(rows(&app, "messages").await, messages, "no message stored");

    // The admin (role admin: no limit) is not held by the user role's limit; a user override
    // lifts Ada's own.
    for i in 0..3 {
        assert_eq!(
            send_new(&app, token(&root), &format!("root {i}"))
                .await
                .status(),
            202
        );
    }
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let path = format!("/api/admin/users/{ada_id}/limits");
    let r = put(
        &app,
        token(&root),
        &path,
        json!({ "requests_per_minute": 10 }),
    )
    .await;
    let limits: Value = r.json().await.unwrap();
    assert_eq!(limits["effective"]["requests_per_minute"], 10);
    assert_eq!(limits["used"]["requests_this_minute"], 2);
    assert_eq!(send_new(&app, token(&ada), "lifted").await.status(), 202);

    // The caller sees their own limits and use.
    let own = app.get_json(token(&ada), "/api/limits").await;
    assert_eq!(own["limits"]["requests_per_minute"], 10);
    assert_eq!(own["used"]["requests_this_minute"], 3);
}

#[tokio::test]
async fn an_api_keys_own_limit_holds_it_and_v1_says_so_in_openais_shape() {
    let app = stack(|_| {}).await;
    let ada = app.register("ada@example.com").await;
    let key = app.create_key(token(&ada), "script").await;
    let (key_id, secret) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    let path = format!("/api/keys/{key_id}/limits");
    let r = put(
        &app,
        token(&ada),
        &path,
        json!({ "requests_per_minute": 1, "cost_per_day_usd": 5 }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let completion = json!({ "model": "demo", "messages": [{ "role": "user", "content": "hi" }] });
    wait::fresh_minute().await;
    let r = app
        .call(
            secret,
            Method::POST,
            "/v1/chat/completions",
            Some(completion.clone()),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .call(
            secret,
            Method::POST,
            "/v1/chat/completions",
            Some(completion.clone()),
        )
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit-requests"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this API key's")
    );
    // Ada herself, signed in, is not held by her key's limit.
    assert_eq!(
        send_new(&app, token(&ada), "from the app").await.status(),
        202
    );
    // The key verifier tells another service the key's limits.
    let verified: Value = app
        .http
        .post(app.url("/api/keys/verify"))
        .json(&json!({ "key": secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["limits"]["key"]["requests_per_minute"], 1);
    assert_eq!(verified["limits"]["key"]["cost_per_day_usd"], 5.0);

    // A budget of nothing: OpenAI's insufficient_quota.
    put(&app, token(&ada), &path, json!({ "cost_per_day_usd": 0 })).await;
    let r = app
        .call(
            secret,
            Method::POST,
            "/v1/chat/completions",
            Some(completion),
        )
        .await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
    assert_eq!(body["error"]["type"], "insufficient_quota");
}

#[tokio::test]
async fn answers_in_flight_hold_their_place_until_they_end_cancelled_or_failed() {
    let fake = FakeOpenAi::start(200, Duration::from_millis(20)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(|c| {
        c.admin_emails = vec!["root@example.com".into()];
    }))
    .await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/admin/users/{ada_id}/limits");
    put(
        &app,
        token(&root),
        &path,
        json!({ "concurrent_answers": 1 }),
    )
    .await;

    let first = send_new(&app, token(&ada), "long one").await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let r = send_new(&app, token(&ada), "meanwhile").await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit-concurrent"], "1");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("when an answer ends")
    );
    assert_eq!(budget(&app, &ada_id).await.2, 1, "one in flight");

    // Cancelled: its place is free at once.
    let answer = first["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(app.cancel(token(&ada), answer).await.status(), 202);
    let freed = || async { budget(&app, &ada_id).await.2 };
    wait::until(
        "the cancelled answer settles",
        Duration::from_secs(10),
        freed,
        |n| *n == 0,
    )
    .await;

    // Failed (the provider refuses it): its place comes back too, and it used nothing.
    fake.set_pacing(Duration::ZERO);
    for _ in 0..4 {
        fake.push_fault(Fault::ServerError);
    }
    let r = send_new(&app, token(&ada), "this one fails").await;
    assert_eq!(r.status(), 202);
    let failed: Value = r.json().await.unwrap();
    let events = app
        .read_to_end(token(&ada), failed["stream_url"].as_str().unwrap())
        .await;
    assert_eq!(events.last().unwrap().event, "error");
    wait::until(
        "the failed answer settles",
        Duration::from_secs(10),
        freed,
        |n| *n == 0,
    )
    .await;
    let r = send_new(&app, token(&ada), "after").await;
    assert_eq!(r.status(), 202);
    let after: Value = r.json().await.unwrap();
    app.read_to_end(token(&ada), after["stream_url"].as_str().unwrap())
        .await;
    wait::until(
        "the last answer settles",
        Duration::from_secs(10),
        freed,
        |n| *n == 0,
    )
    .await;

    // The counters say exactly what the stored answers do: reservations all given back.
    let (tokens, cost, _) = budget(&app, &ada_id).await;
    assert_eq!((tokens, cost), truth(&app, &ada_id).await);
}

#[tokio::test]
async fn limits_are_set_by_admins_only_and_bad_ones_are_refused() {
    let app = stack(|_| {}).await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let by_ada = put(
        &app,
        token(&ada),
        "/api/admin/limits/roles/user",
        json!({ "requests_per_minute": 0 }),
    )
    .await;
    assert_eq!(by_ada.status(), 403);
    let own = format!("/api/admin/users/{ada_id}/limits");
    assert_eq!(
        put(
            &app,
            token(&ada),
            &own,
            json!({ "concurrent_answers": 100 })
        )
        .await
        .status(),
        403
    );
    for bad in [
        json!({ "requests_per_minute": -1 }),
        json!({ "cost_per_day_usd": -0.5 }),
        json!({ "cost_per_month_usd": 1e7 }),
        json!({ "concurrent_answers": 2_000_000_000 }),
        json!({ "tokens_per_day": "lots" }),
        json!({ "requests_per_minute": 1.5 }),
        json!({ "concurrent_answers": 3e9 }),
        json!({ "per_hour": 5 }),
    ] {
        let r = put(
            &app,
            token(&root),
            "/api/admin/limits/roles/user",
            bad.clone(),
        )
        .await;
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(
            ["invalid_limit", "invalid_body"].contains(&body["error"]["code"].as_str().unwrap()),
            "{body}"
        );
    }
    // A whole number written with a fraction of zero is the number (JSON Schema's `integer`).
    let r = put(
        &app,
        token(&root),
        &own,
        json!({ "requests_per_minute": 600.0 }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let set = app.get_json(token(&root), &own).await;
    assert_eq!(set["overrides"]["requests_per_minute"], 600, "{set}");
    assert_eq!(put(&app, token(&root), &own, json!({})).await.status(), 200);
    let r = put(
        &app,
        token(&root),
        "/api/admin/limits/roles/nobody",
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let unknown = format!("/api/admin/users/{}/limits", uuid::Uuid::now_v7());
    assert_eq!(
        put(&app, token(&root), &unknown, json!({})).await.status(),
        404
    );
    let roles = app.get_json(token(&root), "/api/admin/limits").await;
    let user_role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "user")
        .unwrap();
    assert_eq!(
        user_role["limits"]["requests_per_minute"],
        Value::Null,
        "nothing was set"
    );
    // Set, then cleared with nulls: no limit again.
    put(
        &app,
        token(&root),
        "/api/admin/limits/roles/user",
        json!({ "tokens_per_day": 1000 }),
    )
    .await;
    let roles = app.get_json(token(&root), "/api/admin/limits").await;
    assert!(roles.to_string().contains("1000"));
    put(
        &app,
        token(&root),
        "/api/admin/limits/roles/user",
        json!({ "tokens_per_day": null }),
    )
    .await;
    assert_eq!(rows(&app, "limits").await, 0);
}

/// Sends arriving together share one statement: a refused one beside an admitted one to the
/// same conversation must still store nothing.
#[tokio::test]
async fn sends_racing_to_one_conversation_are_admitted_one_at_a_time() {
    let fake = FakeOpenAi::start(100, Duration::from_millis(20)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(|c| {
        c.admin_emails = vec!["root@example.com".into()];
    }))
    .await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let path = format!("/api/admin/users/{ada_id}/limits");
    // Set by several admins' clicks at once: each is applied, none fails.
    let sets = (0..8).map(|n| {
        put(
            &app,
            token(&root),
            &path,
            json!({ "concurrent_answers": 1, "tokens_per_day": 100_000 + n }),
        )
    });
    for r in futures::future::join_all(sets).await {
        assert_eq!(r.status(), 200);
    }
    let conversation = app.create_conversation(token(&ada)).await;
    let path = format!("/api/conversations/{conversation}/messages");
    let sends = (0..12).map(|i| {
        let body = json!({ "content": format!("racing {i}") });
        app.call(token(&ada), Method::POST, &path, Some(body))
    });
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        11,
        "{statuses:?}"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE conversation_id = $1")
            .bind(conversation)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 2, "one question and its answer");
    assert_eq!(budget(&app, ada_id).await.2, 1);
}

/// Without a limit nothing is counted per send (limits cost nothing); a limit set later starts
/// from what the user already used today, read from the usage rollup.
#[tokio::test]
async fn a_limit_set_later_counts_what_was_used_before_it() {
    let app = stack(|_| {}).await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    for i in 0..3 {
        let sent = send_new(&app, token(&ada), &format!("before any limit {i}")).await;
        let sent: Value = sent.json().await.unwrap();
        app.read_to_end(token(&ada), sent["stream_url"].as_str().unwrap())
            .await;
    }
    assert_eq!(
        rows(&app, "budgets").await,
        0,
        "no budget kept without a limit"
    );
    let (used, _) = truth(&app, ada_id).await;
    assert!(used > 0);
    let path = format!("/api/admin/users/{ada_id}/limits");
    put(&app, token(&root), &path, json!({ "tokens_per_day": used })).await;
    let r = send_new(&app, token(&ada), "over already").await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers()["x-ratelimit-limit-tokens"],
        used.to_string().as_str()
    );
    assert_eq!(r.headers()["x-ratelimit-remaining-tokens"], "0");
    // Lifted: allowed again; removed: the budget goes too.
    put(
        &app,
        token(&root),
        &path,
        json!({ "tokens_per_day": used * 10 }),
    )
    .await;
    assert_eq!(
        send_new(&app, token(&ada), "room again").await.status(),
        202
    );
    put(&app, token(&root), &path, json!({})).await;
    assert_eq!(send_new(&app, token(&ada), "no limit").await.status(), 202);
    assert_eq!(rows(&app, "budgets").await, 0);
}
