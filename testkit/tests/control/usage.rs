//! Usage people can see: each endpoint's numbers equal what the caller's stored answers say
//! (done, cancelled and failed ones, through a session and an API key), admins see everyone's
//! or one user's or key's, bad ranges are refused — and the rollup they are read from equals
//! one recomputed from the messages.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::config::ModelPrice;
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, fake_openai::Fault, with_fake_openai};

fn token(v: &Value) -> &str {
    v["access_token"].as_str().unwrap()
}

/// What the user's stored answers say: (answers, errors, cancelled, input, output, cost).
async fn stored(app: &TestApp, user: &str) -> (i64, i64, i64, i64, i64, f64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'error'),
                count(*) FILTER (WHERE status = 'cancelled'),
                COALESCE(sum(input_tokens), 0)::int8, COALESCE(sum(output_tokens), 0)::int8,
                COALESCE(sum(cost_usd), 0)::float8
         FROM messages WHERE role = 'assistant' AND user_id = $1::uuid",
    )
    .bind(user)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn ask(app: &TestApp, bearer: &str, text: &str) -> Value {
    let r = app
        .call(
            bearer,
            Method::POST,
            "/api/messages",
            Some(json!({ "message": text })),
        )
        .await;
    assert_eq!(r.status(), 202);
    let sent: Value = r.json().await.unwrap();
    app.read_to_end(bearer, sent["stream_url"].as_str().unwrap())
        .await;
    sent
}

#[tokio::test]
async fn usage_pages_say_what_the_stored_answers_say() {
    let fake = FakeOpenAi::start(12, Duration::from_millis(1)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        let model = c.models.get_mut("fake-gpt").unwrap();
        model.price = Some(ModelPrice {
            input_per_mtok: 2.5,
            output_per_mtok: 10.0,
        });
    }))
    .await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    let key = app.create_key(token(&ada), "script").await;
    let (key_id, secret) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());

    for i in 0..3 {
        ask(&app, token(&ada), &format!("question {i}")).await;
    }
    ask(&app, secret, "through the key").await;
    for _ in 0..3 {
        fake.push_fault(Fault::ServerError);
    }
    ask(&app, token(&ada), "this one fails").await;
    fake.set_pacing(Duration::from_millis(50));
    let sent = app
        .call(
            token(&ada),
            Method::POST,
            "/api/messages",
            Some(json!({ "message": "stop me" })),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let answer = sent["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.cancel(token(&ada), answer).await;
    app.read_to_end(token(&ada), sent["stream_url"].as_str().unwrap())
        .await;
    fake.set_pacing(Duration::from_millis(1));
    ask(&app, token(&root), "the admin's own").await;

    let (answers, failed, cancelled, input, output, cost) = stored(&app, &ada_id).await;
    assert_eq!((answers, failed, cancelled), (6, 1, 1));

    let overview = app.get_json(token(&ada), "/api/usage/overview").await;
    assert_eq!(overview["interval"], "1D");
    assert_eq!(overview["requests"], answers);
    assert_eq!(overview["errors"], failed);
    assert_eq!(overview["cancelled"], cancelled);
    assert_eq!(overview["input_tokens"], input);
    assert_eq!(overview["output_tokens"], output);
    assert!(
        (overview["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{overview}"
    );
    assert!(cost > 0.0);
    assert!((overview["error_rate"].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-9);
    let p50 = overview["latency_ms"]["p50"].as_u64().unwrap();
    assert!(
        p50 >= overview["ttft_ms"]["p50"].as_u64().unwrap(),
        "{overview}"
    );

    // A range of whole days reads day rows: the same numbers, percentiles included.
    let today = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let days = format!(
        "/api/usage/overview?from={}&to={}",
        (today - chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (today + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let by_days = app.get_json(token(&ada), &days).await;
    for field in [
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "ttft_ms",
        "latency_ms",
    ] {
        assert_eq!(by_days[field], overview[field], "{field}");
    }

    // 96 quarters of the last day, every answer in one of them.
    let series = app
        .get_json(token(&ada), "/api/usage/timeseries?interval=15M")
        .await;
    let points = series["points"].as_array().unwrap();
    assert!((96..=97).contains(&points.len()), "{}", points.len());
    let counted: i64 = points.iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    assert_eq!(counted, answers);

    let latency = app.get_json(token(&ada), "/api/usage/latency").await;
    let item = &latency["items"][0];
    assert_eq!(
        (item["provider"].as_str(), item["model"].as_str()),
        (Some("openai"), Some("fake-gpt"))
    );
    assert!(item["ttft_ms"]["p95"].as_u64().unwrap() >= item["ttft_ms"]["p50"].as_u64().unwrap());

    let by_day = app
        .get_json(token(&ada), "/api/usage/cost?interval=1D")
        .await;
    let day_cost: f64 = by_day["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cost_usd"].as_f64().unwrap())
        .sum();
    assert!((day_cost - cost).abs() < 1e-9);

    let errors = app.get_json(token(&ada), "/api/usage/errors").await;
    assert_eq!(errors["errors"], 1);
    assert_eq!(errors["items"][0]["count"], 1);
    assert!(
        errors["items"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("upstream"),
        "{errors}"
    );

    // The key's answers alone; a key of someone else's shows nothing of theirs.
    let by_key = app
        .get_json(token(&ada), &format!("/api/usage/overview?key={key_id}"))
        .await;
    assert_eq!(by_key["requests"], 1);
    let root_key = app.create_key(token(&root), "root's").await;
    let path = format!(
        "/api/usage/overview?key={}",
        root_key["id"].as_str().unwrap()
    );
    assert_eq!(app.get_json(token(&ada), &path).await["requests"], 0);

    // Admins: everyone, one user, one key.
    let all = app
        .get_json(token(&root), "/api/admin/usage/overview")
        .await;
    assert_eq!(all["requests"], answers + 1);
    let one = app
        .get_json(
            token(&root),
            &format!("/api/admin/usage/overview?user={ada_id}"),
        )
        .await;
    assert_eq!(one["requests"], answers);
    let keyed = app
        .get_json(token(&root), &format!("/api/admin/usage/cost?key={key_id}"))
        .await;
    assert_eq!(keyed["points"][0]["requests"], 1);
    for kind in ["timeseries", "latency", "errors"] {
        let r = app
            .get(token(&root), &format!("/api/admin/usage/{kind}"))
            .await;
        assert_eq!(r.status(), 200, "{kind}");
        let r = app
            .get(token(&ada), &format!("/api/admin/usage/{kind}"))
            .await;
        assert_eq!(r.status(), 403, "{kind}");
    }

    // Bad ranges and filters, in words.
    for (path, status, code) in [
        ("/api/usage/overview?interval=2H", 400, "invalid_request"),
        (
            "/api/usage/overview?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
            422,
            "invalid_range",
        ),
        (
            "/api/usage/timeseries?interval=15M&from=2025-01-01T00:00:00Z",
            422,
            "invalid_range",
        ),
        (
            &format!("/api/usage/overview?user={ada_id}"),
            400,
            "invalid_request",
        ),
        ("/api/usage/overview?bogus=1", 400, "invalid_request"),
    ] {
        let r = app.get(token(&ada), path).await;
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    let unknown = format!("/api/admin/usage/overview?key={}", uuid::Uuid::now_v7());
    assert_eq!(app.get(token(&root), &unknown).await.status(), 404);

    // The rollups equal what the messages alone say.
    let differ: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             (SELECT * FROM sluice_usage_recomputed() EXCEPT SELECT * FROM usage_rollups)
             UNION ALL
             (SELECT * FROM usage_rollups EXCEPT SELECT * FROM sluice_usage_recomputed())) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(differ, 0, "the per-user rollup differs from the messages");
    let differ_all: i64 = sqlx::query_scalar(
        "WITH want AS (
             SELECT grain, bucket_start, model, provider, status, error_code,
                    sum(requests)::int AS requests, sum(input_tokens)::int8 AS i,
                    sum(output_tokens)::int8 AS o, sum(cost_usd) AS c,
                    sluice_hist_sum(ttft_hist) AS t, sluice_hist_sum(latency_hist) AS l
             FROM sluice_usage_recomputed() GROUP BY 1, 2, 3, 4, 5, 6),
         have AS (
             SELECT grain, bucket_start, model, provider, status, error_code, requests,
                    input_tokens, output_tokens, cost_usd, ttft_hist, latency_hist
             FROM usage_rollups_all)
         SELECT count(*) FROM ((SELECT * FROM want EXCEPT SELECT * FROM have)
                               UNION ALL (SELECT * FROM have EXCEPT SELECT * FROM want)) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(differ_all, 0, "everyone's rollup differs from the messages");
}
