//! The chaos run's processes: two APIs behind one balancing address, three workers, and a
//! Postgres and a nats-server of its own, with the faults each can suffer.

use std::{path::PathBuf, process::Child, time::Duration};

use super::Proxy;
use crate::{Options, TestApp, proxy::BalancingProxy, services};

/// The processes and servers of one chaos run.
pub(super) struct Stack {
    app: TestApp,
    api_bin: String,
    worker_bin: String,
    api_ports: Vec<u16>,
    apis: Vec<Child>,
    workers: Vec<Child>,
    pub(super) public: String,
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
    pub(super) async fn start(api_bin: &str, worker_bin: &str, proxy: Proxy) -> Self {
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
        let public = match proxy {
            Proxy::Balancer => BalancingProxy::start(targets).await.base,
            Proxy::Nginx => crate::nginx::start(&api_ports),
        };
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

    pub(super) fn kill_worker(&mut self, i: usize) {
        let i = i % self.workers.len();
        let _ = self.workers[i].kill();
        let _ = self.workers[i].wait();
        self.workers[i] = self.app.worker_process(&self.worker_bin);
    }

    pub(super) async fn kill_api(&mut self, i: usize) {
        let _ = self.apis[i].kill();
        let _ = self.apis[i].wait();
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.apis[i] = self
            .app
            .api_process(&self.api_bin, self.api_ports[i], &self.public);
        self.wait_ready(&format!("http://127.0.0.1:{}", self.api_ports[i]))
            .await;
    }

    pub(super) async fn restart_nats(&self) {
        services::stop_nats(&self.nats.1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        services::restart_nats(self.nats.0, &self.nats.1);
    }

    pub(super) async fn crash_postgres(&self) {
        services::stop_postgres(&self.pg.1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        services::restart_postgres(&self.pg.1, self.pg.0);
    }
}
