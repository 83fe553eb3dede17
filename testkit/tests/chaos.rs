//! The chaos run's short plan (`sluice_testkit::chaos`): a few worker kills, each API killed
//! once, one nats-server restart and one Postgres crash, while clients chat through one public
//! address. Every chat is answered exactly once, and streams move again after each fault.
//! `scripts/chaos` runs the full plan (`CHAOS=full`) and prints the table.

use std::time::Duration;

use sluice_testkit::chaos::{FaultReport, Plan, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chat_is_answered_exactly_once_through_every_kind_of_fault() {
    let plan = match std::env::var("CHAOS").as_deref() {
        Ok("full") => Plan::full(),
        _ => Plan::short(),
    };
    let reports = run(
        &plan,
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
        assert!(r.faults >= 1, "{r:?}");
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
}
