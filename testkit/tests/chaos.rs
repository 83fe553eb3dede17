//! The chaos run's short plan (`sluice_testkit::chaos`): a few worker kills, each API killed
//! once, one nats-server restart and one Postgres crash, while clients chat through one public
//! address. Every chat is answered exactly once, and streams move again after each fault.
//! `scripts/chaos` runs the full plan (`CHAOS=full`) and prints the table. A second test runs
//! API kills through the two-API variant's nginx as shipped.

use std::time::Duration;

use sluice_testkit::chaos::{FaultReport, Plan, Proxy, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chat_is_answered_exactly_once_through_every_kind_of_fault() {
    let mut plan = match std::env::var("CHAOS").as_deref() {
        Ok("full") => Plan::full(),
        _ => Plan::short(),
    };
    if std::env::var("CHAOS_PROXY").as_deref() == Ok("nginx") {
        plan.proxy = Proxy::Nginx;
    }
    let reports = run_and_check(&plan).await;
    for r in &reports {
        assert!(r.faults >= 1, "{r:?}");
    }
}

/// The two-API variant as shipped (`deploy/two-apis/nginx.conf`): streams flow through nginx
/// unbuffered, and when an API is killed its clients resume on the other through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_nginx_config_carries_streams_through_api_kills() {
    let plan = Plan {
        clients: 4,
        worker_kills: 0,
        api_kills_each: 1,
        nats_restarts: 0,
        postgres_restarts: 0,
        proxy: Proxy::Nginx,
    };
    let reports = run_and_check(&plan).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].faults, 2);
    assert!(reports[0].reconnects > 0, "{reports:?}");
}

/// Runs `plan`, prints its table, and checks every chat was answered exactly once and streams
/// moved again after every fault.
async fn run_and_check(plan: &Plan) -> Vec<FaultReport> {
    let reports = run(
        plan,
        env!("CARGO_BIN_EXE_sluice-test-api"),
        env!("CARGO_BIN_EXE_sluice-test-worker"),
    )
    .await;
    println!("\n{}", FaultReport::table(&reports));
    for r in &reports {
        for broken in &r.broken {
            println!("{}: {broken}", r.fault);
        }
    }
    for r in &reports {
        assert!(r.chats > 0, "chats ran through {}: {r:?}", r.fault);
        assert!(
            r.broken.is_empty() && r.exactly_once == r.chats,
            "{}: {} of {} answered exactly once; {:?}",
            r.fault,
            r.exactly_once,
            r.chats,
            r.broken
        );
        assert!(
            r.longest_recovery < Duration::from_secs(15),
            "{}: streams stalled {:?} after a fault",
            r.fault,
            r.longest_recovery
        );
    }
    reports
}

/// When a dependency every API shares is down (Postgres), each API answers 503 itself. The
/// shipped proxy passes that answer on and keeps both APIs in rotation, so the first request
/// after the outage reaches an API; counting the 503s as failed servers made nginx refuse
/// everything with 502 for `fail_timeout` (2 s) after the outage ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_nginx_config_keeps_both_apis_through_a_shared_outage() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    let down = Arc::new(AtomicBool::new(true));
    let mut ports = Vec::new();
    for _ in 0..2 {
        let down = down.clone();
        let app = axum::Router::new().fallback(move || async move {
            if down.load(Relaxed) {
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "dependency_down",
                )
            } else {
                (axum::http::StatusCode::OK, "ok")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let public = sluice_testkit::nginx::start(&ports);
    let http = reqwest::Client::new();
    let get = || async {
        http.get(format!("{public}/api/health"))
            .send()
            .await
            .unwrap()
    };

    for _ in 0..4 {
        let r = get().await;
        assert_eq!(r.status(), 503, "the API's own answer passes through");
        assert_eq!(r.text().await.unwrap(), "dependency_down");
    }
    down.store(false, Relaxed);
    let r = get().await;
    assert_eq!(
        r.status(),
        200,
        "the outage is over: {}",
        r.text().await.unwrap()
    );
}
