//! A budget that holds under concurrency, across API processes: 50 clients stream answers at
//! once, through two APIs (this process's and a real second process), against one user's small
//! daily cost budget, some cancelling mid-answer. Spend ends at most one answer's estimate over
//! the budget; no send is refused while real spend is under 80 % of it; cancelled answers give
//! their reservations back; and the budget's counter ends equal to what the stored answers say.

use std::{
    net::TcpListener,
    process::Child,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::config::ModelPrice;
use sluice_testkit::{TestApp, wait};

const CLIENTS: usize = 50;
/// $0.001 a token: an answer costs ~$0.04, and 50 in flight reserve ~13 % of the budget.
const PRICE_PER_MTOK: f64 = 1000.0;
const BUDGET_USD: f64 = 16.0;

/// When a refused send was asked, and the refusal.
type Refusal = (DateTime<Utc>, Value);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Real spend (stored answers' cost) of answers that had ended by `at`.
async fn spent_by(app: &TestApp, at: DateTime<Utc>) -> f64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(cost_usd), 0)::float8 FROM messages
         WHERE role = 'assistant' AND completed_at <= $1",
    )
    .bind(at)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_streams_over_two_apis_end_within_one_estimate_of_the_budget() {
    let app = TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        c.reserve_output_tokens = c.demo.reply_tokens;
        let demo = c.models.get_mut("demo").expect("the demo model");
        demo.price = Some(ModelPrice {
            input_per_mtok: PRICE_PER_MTOK,
            output_per_mtok: PRICE_PER_MTOK,
        });
    })
    .await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let second = Killed(app.api_process(
        env!("CARGO_BIN_EXE_sluice-test-api"),
        port,
        &app.config.public_url,
    ));
    let second_base = format!("http://127.0.0.1:{port}");
    wait::until(
        "the second API is ready",
        Duration::from_secs(60),
        || async {
            let r = app.http.get(format!("{second_base}/readyz")).send().await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        },
        |status| *status == 200,
    )
    .await;

    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    let token = Arc::new(ada["access_token"].as_str().unwrap().to_string());
    let r = app
        .call(
            root["access_token"].as_str().unwrap(),
            Method::PUT,
            &format!("/api/admin/users/{ada_id}/limits"),
            Some(json!({ "cost_per_day_usd": BUDGET_USD })),
        )
        .await;
    assert_eq!(r.status(), 200);

    // Each client sends, streams the answer to its end (every 7th cancels it after the first
    // token), and goes again, until a send is refused; it notes when it last sent.
    let bases = [app.base.clone(), second_base.clone()];
    let refusals: Arc<Mutex<Vec<Refusal>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, token, refusals) = (app.http.clone(), token.clone(), refusals.clone());
        let base = bases[client % 2].clone();
        clients.push(tokio::spawn(async move {
            for round in 0.. {
                let asked_at = Utc::now();
                let r = http
                    .post(format!("{base}/api/messages"))
                    .bearer_auth(token.as_str())
                    .json(&json!({ "message": format!("client {client} round {round}") }))
                    .send()
                    .await
                    .unwrap();
                if r.status() == 429 {
                    let body: Value = r.json().await.unwrap();
                    refusals.lock().unwrap().push((asked_at, body));
                    return round;
                }
                assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
                let sent: Value = r.json().await.unwrap();
                let stream = sent["stream_url"].as_str().unwrap();
                let mut events = sluice_testkit::sse::SseStream::new(
                    http.get(format!("{base}{stream}"))
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                        .unwrap(),
                );
                let cancel = round % 7 == 3;
                while let Some(event) = events.next().await {
                    if cancel && event.event == "token" {
                        let id = sent["assistant_message"]["id"].as_str().unwrap();
                        http.post(format!("{base}/api/messages/{id}/cancel"))
                            .bearer_auth(token.as_str())
                            .send()
                            .await
                            .unwrap();
                    }
                    if event.is_terminal() {
                        break;
                    }
                }
            }
            unreachable!()
        }));
    }
    let mut answers = 0;
    for client in clients {
        answers += tokio::time::timeout(Duration::from_secs(120), client)
            .await
            .expect("every client is stopped by the budget in time")
            .unwrap();
    }

    // Every refusal names the daily budget.
    let refusals = refusals.lock().unwrap().clone();
    assert_eq!(refusals.len(), CLIENTS);
    for (_, body) in &refusals {
        assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
    }
    // Everything settles: nothing in flight, the counter equal to the stored answers' cost.
    let settled = || async {
        sqlx::query_as::<_, (i32, f64)>(
            "SELECT in_flight, day_cost::float8 FROM budgets WHERE subject = $1::uuid",
        )
        .bind(&ada_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let (in_flight, counted) = wait::until(
        "every answer settles",
        Duration::from_secs(30),
        settled,
        |(in_flight, _)| *in_flight == 0,
    )
    .await;
    assert_eq!(in_flight, 0);
    let (spent, cancelled, largest_estimate): (f64, i64, f64) = sqlx::query_as(
        "SELECT COALESCE(sum(cost_usd), 0)::float8,
                count(*) FILTER (WHERE status = 'cancelled'),
                max(reserved_cost)::float8
         FROM messages WHERE role = 'assistant'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        (counted - spent).abs() < 1e-6,
        "counter {counted} vs stored {spent}"
    );
    assert!(cancelled > 0, "some answers were cancelled");
    // Cancelled after text came: the prompt and the text were spent, and are counted.
    let charged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages
         WHERE status = 'cancelled' AND content <> '' AND cost_usd > 0 AND usage_estimated",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(charged > 0, "cancelled answers with text are charged");
    assert!(
        spent <= BUDGET_USD + largest_estimate + 1e-9,
        "spent {spent} of {BUDGET_USD} (an estimate is {largest_estimate})"
    );
    // No refusal came while real spend was under 80 % of the budget.
    let first_refusal = refusals.iter().map(|(at, _)| *at).min().unwrap();
    let spent_then = spent_by(&app, first_refusal).await;
    assert!(
        spent_then >= 0.8 * BUDGET_USD,
        "refused at ${spent_then:.3} spent of ${BUDGET_USD}"
    );
    println!(
        "{answers} answers by {CLIENTS} clients over 2 APIs ({cancelled} cancelled): \
         spent ${spent:.3} of ${BUDGET_USD}, first refusal at ${spent_then:.3}"
    );
    drop(second);
}
