//! Chaos: a whole stack of processes — two APIs behind one public address, three workers, a
//! Postgres and a nats-server of its own — streaming chats while its parts are killed: workers
//! (`kill -9`), each API (`kill -9`; clients resume on the other with `Last-Event-ID`),
//! nats-server (stopped and started), Postgres (`-m immediate`, started again). For each kind
//! of fault it reports the chats, how many were answered exactly once (the text streamed after
//! the last `reset` is the stored answer, and there is one terminal event), resets, reconnects,
//! and the longest wait from a fault's end until every client has received a token again.
//!
//! `testkit/tests/chaos.rs` runs a short plan in the suite; `scripts/chaos` the full one.

mod client;
mod stack;

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use client::{Seen, client};
use stack::Stack;

/// How many faults of each kind (a kind with none is skipped), how many clients chat
/// meanwhile, and what stands at the public address.
pub struct Plan {
    pub clients: usize,
    pub worker_kills: usize,
    pub api_kills_each: usize,
    pub nats_restarts: usize,
    pub postgres_restarts: usize,
    pub proxy: Proxy,
}

/// The public address in front of the two APIs.
#[derive(Clone, Copy)]
pub enum Proxy {
    /// A balancer of the test's own (`proxy::BalancingProxy`).
    Balancer,
    /// nginx with the two-API variant's configuration (`deploy/two-apis/nginx.conf`).
    Nginx,
}

impl Plan {
    /// A few of each kind: the suite's version.
    pub fn short() -> Self {
        Self {
            clients: 6,
            worker_kills: 3,
            api_kills_each: 1,
            nats_restarts: 1,
            postgres_restarts: 1,
            proxy: Proxy::Balancer,
        }
    }

    /// The issue's: a worker killed every second, 100 times, and several of the others.
    pub fn full() -> Self {
        Self {
            clients: 12,
            worker_kills: 100,
            api_kills_each: 5,
            nats_restarts: 3,
            postgres_restarts: 3,
            proxy: Proxy::Balancer,
        }
    }
}

/// What one kind of fault did to the chats that ran through it.
#[derive(Debug)]
pub struct FaultReport {
    pub fault: &'static str,
    pub faults: usize,
    pub chats: usize,
    pub exactly_once: usize,
    /// Of those, answers that ended in an error event (attempts used up), stored as such.
    pub errors: usize,
    /// Chats that were not, with what was seen.
    pub broken: Vec<String>,
    pub resets: usize,
    pub reconnects: usize,
    /// Sends the stack refused while it was down (503, or no connection): nothing stored, the
    /// client tries again.
    pub refused_sends: usize,
    pub longest_recovery: Duration,
}

impl FaultReport {
    pub fn table(reports: &[FaultReport]) -> String {
        let mut out = String::from(
            "| fault | faults | chats | answered exactly once | of them ended in error | resets | reconnects | refused sends | longest fault end → every stream's next token |\n\
             |-------|--------|-------|-----------------------|------------------------|--------|------------|---------------|-----------------------------------------------|\n",
        );
        for r in reports {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} s |\n",
                r.fault,
                r.faults,
                r.chats,
                r.exactly_once,
                r.errors,
                r.resets,
                r.reconnects,
                r.refused_sends,
                r.longest_recovery.as_secs_f64()
            ));
        }
        out
    }
}

/// The kinds of fault, in the order a run applies them.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    WorkerKill,
    ApiKill,
    NatsRestart,
    PostgresCrash,
}

impl Fault {
    const ALL: [Fault; 4] = [
        Fault::WorkerKill,
        Fault::ApiKill,
        Fault::NatsRestart,
        Fault::PostgresCrash,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::WorkerKill => "worker kill -9",
            Fault::ApiKill => "API kill -9",
            Fault::NatsRestart => "nats-server restart",
            Fault::PostgresCrash => "Postgres crash",
        }
    }

    fn count(self, plan: &Plan) -> usize {
        match self {
            Fault::WorkerKill => plan.worker_kills,
            Fault::ApiKill => plan.api_kills_each * 2,
            Fault::NatsRestart => plan.nats_restarts,
            Fault::PostgresCrash => plan.postgres_restarts,
        }
    }

    /// The `n`th fault of this kind.
    async fn strike(self, stack: &mut Stack, n: usize) {
        match self {
            Fault::WorkerKill => stack.kill_worker(n),
            Fault::ApiKill => stack.kill_api(n % 2).await,
            Fault::NatsRestart => stack.restart_nats().await,
            Fault::PostgresCrash => stack.crash_postgres().await,
        }
    }
}

/// Runs `plan` against a fresh stack of the given binaries.
pub async fn run(plan: &Plan, api_bin: &str, worker_bin: &str) -> Vec<FaultReport> {
    let mut stack = Stack::start(api_bin, worker_bin, plan.proxy).await;
    let mut reports = Vec::new();
    for fault in Fault::ALL.into_iter().filter(|f| f.count(plan) > 0) {
        let seen = Arc::new(Seen::default());
        let stop = CancellationToken::new();
        let clients: Vec<_> = (0..plan.clients)
            .map(|me| {
                let (public, seen, stop) = (stack.public.clone(), seen.clone(), stop.clone());
                tokio::spawn(client(me, public, seen, stop))
            })
            .collect();
        // Chats under way before the first fault.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut longest = Duration::ZERO;
        let faults = fault.count(plan);
        for n in 0..faults {
            fault.strike(&mut stack, n).await;
            let took = every_client_moved_after(&seen, plan.clients, Instant::now()).await;
            longest = longest.max(took);
            if fault == Fault::WorkerKill {
                // One kill a second.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        // Let the chats under way finish; a stuck one fails the report.
        stop.cancel();
        for c in clients {
            let _ = tokio::time::timeout(Duration::from_secs(60), c).await;
        }
        reports.push(FaultReport {
            fault: fault.name(),
            faults,
            chats: seen.chats.load(Relaxed),
            exactly_once: seen.exactly_once.load(Relaxed),
            errors: seen.errors.load(Relaxed),
            broken: std::mem::take(&mut *seen.broken.lock().unwrap()),
            resets: seen.resets.load(Relaxed),
            reconnects: seen.reconnects.load(Relaxed),
            refused_sends: seen.refused.load(Relaxed),
            longest_recovery: longest,
        });
    }
    reports
}

/// How long after `fault_end` every one of the `clients` had received a token again (30 s at
/// most): the slowest stream's recovery, whether it was mid-answer or sending its next chat.
async fn every_client_moved_after(seen: &Seen, clients: usize, fault_end: Instant) -> Duration {
    let deadline = fault_end + Duration::from_secs(30);
    loop {
        let moved: Vec<Instant> = (seen.last_token.lock().unwrap().values())
            .filter(|at| **at > fault_end)
            .copied()
            .collect();
        if moved.len() == clients {
            return moved.iter().max().copied().unwrap_or(fault_end) - fault_end;
        }
        if Instant::now() > deadline {
            return deadline - fault_end;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
