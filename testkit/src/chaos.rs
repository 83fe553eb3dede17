//! Chaos: a whole stack of processes — two APIs behind one public address, three workers, a
//! Postgres and a nats-server of its own — streaming chats while its parts are killed: workers
//! (`kill -9`), each API (`kill -9`; clients resume on the other with `Last-Event-ID`),
//! nats-server (stopped and started), Postgres (`-m immediate`, started again). For each kind
//! of fault it reports the chats, how many were answered exactly once (the text streamed after
//! the last `reset` is the stored answer, and there is one terminal event), resets, reconnects,
//! and the longest wait from a fault's end to the next token any client received.
//!
//! `testkit/tests/chaos.rs` runs a short plan in the suite; `scripts/chaos` the full one.

use std::{
    path::PathBuf,
    process::Child,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{Options, TestApp, proxy::BalancingProxy, services, sse::SseStream};

/// How many faults of each kind, and how many clients chat meanwhile.
pub struct Plan {
    pub clients: usize,
    pub worker_kills: usize,
    pub api_kills_each: usize,
    pub nats_restarts: usize,
    pub postgres_restarts: usize,
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
            "| fault | faults | chats | answered exactly once | of them ended in error | resets | reconnects | refused sends | longest fault end → next token |\n\
             |-------|--------|-------|-----------------------|------------------------|--------|------------|---------------|--------------------------------|\n",
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

/// The processes and servers of one chaos run.
struct Stack {
    app: TestApp,
    api_bin: String,
    worker_bin: String,
    api_ports: Vec<u16>,
    apis: Vec<Child>,
    workers: Vec<Child>,
    public: String,
    pg: (u16, PathBuf),
    nats: (u16, PathBuf),
}

impl Drop for Stack {
    fn drop(&mut self) {
        for p in self.apis.iter_mut().chain(self.workers.iter_mut()) {
            let _ = p.kill();
            let _ = p.wait();
        }
        services::stop_nats(&self.nats.1);
        services::stop_postgres(&self.pg.1);
    }
}

impl Stack {
    async fn start(api_bin: &str, worker_bin: &str) -> Self {
        let pg = services::private_postgres();
        let nats = services::private_nats();
        let (pg_port, nats_port) = (pg.0, nats.0);
        let options = Options {
            in_process_worker: false,
            ..Options::default()
        }
        .and(move |c| {
            c.database_url = format!("postgres://postgres@127.0.0.1:{pg_port}/postgres").into();
            c.nats_url = format!("nats://127.0.0.1:{nats_port}");
            c.demo.pacing_ms = 20;
            c.demo.reply_tokens = 30;
            // A killed worker's answers move on after ~1 s; many kills may hit one answer.
            c.worker.heartbeat_ms = 250;
            c.worker.missed_heartbeats = 4;
            c.worker.max_attempts = 20;
            c.auth_burst = 10_000;
            c.auth_rate_per_minute = 100_000;
        });
        let app = TestApp::spawn_with(options).await;
        // The test server commits asynchronously (fast tests); a crash must not lose a commit.
        sqlx::query("ALTER DATABASE postgres SET synchronous_commit = on")
            .execute(&app.pool)
            .await
            .unwrap();
        // Two different ports (a port is free until its API binds it).
        let first = services::free_port();
        let second = (0..).map(|_| services::free_port()).find(|p| *p != first);
        let api_ports = vec![first, second.unwrap()];
        let targets = api_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let public = BalancingProxy::start(targets).await.base;
        let apis = api_ports
            .iter()
            .map(|port| app.api_process(api_bin, *port, &public))
            .collect();
        let workers = (0..3).map(|_| app.worker_process(worker_bin)).collect();
        let stack = Self {
            app,
            api_bin: api_bin.into(),
            worker_bin: worker_bin.into(),
            api_ports,
            apis,
            workers,
            public,
            pg,
            nats,
        };
        for port in &stack.api_ports {
            stack.wait_ready(&format!("http://127.0.0.1:{port}")).await;
        }
        stack
    }

    async fn wait_ready(&self, base: &str) {
        crate::wait::until(
            "an API is ready",
            Duration::from_secs(60),
            || async {
                let r = self.app.http.get(format!("{base}/readyz")).send().await;
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            },
            |status| *status == 200,
        )
        .await;
    }

    fn kill_worker(&mut self, i: usize) {
        let i = i % self.workers.len();
        let _ = self.workers[i].kill();
        let _ = self.workers[i].wait();
        self.workers[i] = self.app.worker_process(&self.worker_bin);
    }

    async fn kill_api(&mut self, i: usize) {
        let _ = self.apis[i].kill();
        let _ = self.apis[i].wait();
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.apis[i] = self
            .app
            .api_process(&self.api_bin, self.api_ports[i], &self.public);
        self.wait_ready(&format!("http://127.0.0.1:{}", self.api_ports[i]))
            .await;
    }
}

/// What the clients saw during one phase.
#[derive(Default)]
struct Seen {
    chats: AtomicUsize,
    exactly_once: AtomicUsize,
    errors: AtomicUsize,
    resets: AtomicUsize,
    reconnects: AtomicUsize,
    refused: AtomicUsize,
    broken: Mutex<Vec<String>>,
    /// When any client last received a token.
    last_token: Mutex<Option<Instant>>,
}

/// Runs `plan` against a fresh stack of the given binaries.
pub async fn run(plan: &Plan, api_bin: &str, worker_bin: &str) -> Vec<FaultReport> {
    let mut stack = Stack::start(api_bin, worker_bin).await;
    let mut reports = Vec::new();
    for fault in [
        "worker kill -9",
        "API kill -9",
        "nats-server restart",
        "Postgres crash",
    ] {
        let seen = Arc::new(Seen::default());
        let stop = CancellationToken::new();
        let clients: Vec<_> = (0..plan.clients)
            .map(|_| tokio::spawn(client(stack.public.clone(), seen.clone(), stop.clone())))
            .collect();
        // Chats under way before the first fault.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut faults = 0;
        let mut longest = Duration::ZERO;
        let count = match fault {
            "worker kill -9" => plan.worker_kills,
            "API kill -9" => plan.api_kills_each * 2,
            "nats-server restart" => plan.nats_restarts,
            _ => plan.postgres_restarts,
        };
        for n in 0..count {
            match fault {
                "worker kill -9" => {
                    stack.kill_worker(n);
                }
                "API kill -9" => stack.kill_api(n % 2).await,
                "nats-server restart" => {
                    services::stop_nats(&stack.nats.1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    services::restart_nats(stack.nats.0, &stack.nats.1);
                }
                _ => {
                    services::stop_postgres(&stack.pg.1);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    services::restart_postgres(&stack.pg.1, stack.pg.0);
                }
            }
            faults += 1;
            longest = longest.max(next_token_after(&seen, Instant::now()).await);
            if fault == "worker kill -9" {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        // Let the chats under way finish; a stuck one fails the report.
        stop.cancel();
        for c in clients {
            let _ = tokio::time::timeout(Duration::from_secs(60), c).await;
        }
        reports.push(FaultReport {
            fault,
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

/// How long after `fault_end` a client next received a token (30 s at most).
async fn next_token_after(seen: &Seen, fault_end: Instant) -> Duration {
    let deadline = fault_end + Duration::from_secs(30);
    loop {
        if let Some(at) = *seen.last_token.lock().unwrap()
            && at > fault_end
        {
            return at - fault_end;
        }
        if Instant::now() > deadline {
            return deadline - fault_end;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One user chatting until `stop`: send, stream to the end (reconnecting with
/// `Last-Event-ID` through whatever fails), then check the answer against the stored one.
async fn client(public: String, seen: Arc<Seen>, stop: CancellationToken) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let post = |path: String, body: Value, token: Option<String>| {
        let mut r = http.post(format!("{public}{path}")).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    // Signing in and a conversation, retried through outages.
    let (token, conversation) = loop {
        let signed_in = async {
            let g: Value = post("/api/auth/guest".into(), json!({}), None)
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let token = g["access_token"].as_str()?.to_string();
            let c: Value = post("/api/conversations".into(), json!({}), Some(token.clone()))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            Some((token, c["id"].as_str()?.to_string()))
        };
        if let Some(ready) = signed_in.await {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut n = 0;
    while !stop.is_cancelled() {
        n += 1;
        let sent = post(
            format!("/api/conversations/{conversation}/messages"),
            json!({ "content": format!("chaos {n}") }),
            Some(token.clone()),
        )
        .await;
        let answer = match sent {
            Ok(r) if r.status() == 202 => {
                let body: Value = r.json().await.unwrap_or_default();
                body["assistant_message"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            }
            _ => {
                seen.refused.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        seen.chats.fetch_add(1, Relaxed);
        let outcome = follow(&http, &public, &token, &answer, &seen).await;
        match outcome {
            Ok(()) => {
                seen.exactly_once.fetch_add(1, Relaxed);
            }
            Err(why) => seen.broken.lock().unwrap().push(format!("{answer}: {why}")),
        }
    }
}

/// Streams one answer to its end and checks it against the stored answer.
async fn follow(
    http: &reqwest::Client,
    public: &str,
    token: &str,
    answer: &str,
    seen: &Seen,
) -> Result<(), String> {
    let url = format!("{public}/api/messages/{answer}/stream");
    let (mut last_id, mut text, mut terminals) = (None::<u64>, String::new(), Vec::new());
    let started = Instant::now();
    let mut empty_attaches = 0;
    'attach: while started.elapsed() < Duration::from_secs(120) {
        let mut request = http.get(&url).bearer_auth(token);
        if let Some(id) = last_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = match request.send().await {
            Ok(r) if r.status() == 200 => r,
            Ok(r) if r.status() == 204 => break 'attach,
            _ => {
                seen.reconnects.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut events = SseStream::new(response);
        let mut got = 0;
        while let Some(e) = events.next().await {
            got += 1;
            if e.id.is_some() {
                last_id = e.id;
            }
            match e.event.as_str() {
                "token" => {
                    text.push_str(e.data["delta"].as_str().unwrap_or_default());
                    *seen.last_token.lock().unwrap() = Some(Instant::now());
                }
                "reset" => {
                    text.clear();
                    seen.resets.fetch_add(1, Relaxed);
                }
                _ if e.is_terminal() => {
                    terminals.push(match e.data["code"].as_str() {
                        Some(code) => format!("{} {code}", e.event),
                        None => e.event.clone(),
                    });
                    break 'attach;
                }
                _ => {}
            }
        }
        // The response ended before the answer did: an API went away.
        seen.reconnects.fetch_add(1, Relaxed);
        if got == 0 {
            empty_attaches += 1;
            if empty_attaches == 20 {
                let stored: Value = http
                    .get(format!("{public}/api/messages/{answer}"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .unwrap_or_default();
                eprintln!(
                    "CHAOS empty attaches for {answer} after {last_id:?}: stored status {} attempt {} content {:?}",
                    stored["status"], stored["attempt"], stored["content"]
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One end: `done`, or an error the stored answer says too (its attempts used up).
    if terminals.len() != 1 || terminals[0].starts_with("cancelled") {
        return Err(format!(
            "terminal events {terminals:?} after {:?}, text {text:?}",
            started.elapsed()
        ));
    }
    if terminals[0].starts_with("error") {
        seen.errors.fetch_add(1, Relaxed);
    }
    // The stored answer, read through whatever API is up.
    let mut last = String::new();
    for _ in 0..100 {
        let r = http
            .get(format!("{public}/api/messages/{answer}"))
            .bearer_auth(token)
            .send()
            .await;
        let r = match r {
            Ok(r) if r.status() != 200 => {
                last = format!(
                    "status {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                last = format!("{e}");
                None
            }
        };
        if let Some(r) = r {
            let stored: Value = r.json().await.unwrap_or_default();
            let ended_as_stored = terminals[0].split(' ').next() == stored["status"].as_str();
            return if ended_as_stored && stored["content"].as_str() == Some(text.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "streamed {text:?} ending {terminals:?}, stored {} {}",
                    stored["status"], stored["content"]
                ))
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("the stored answer could not be read: {last}"))
}
