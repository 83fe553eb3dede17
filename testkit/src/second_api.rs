//! A second API process-in-a-task on a test's stack: the same configuration (Postgres, NATS,
//! prefix), its own address — what scale-out tests and multi-node tests read or write through.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::TestApp;

/// The second API; stopped when dropped.
pub struct SecondApi {
    pub base: String,
    shutdown: CancellationToken,
}

impl SecondApi {
    pub async fn start(app: &TestApp) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(sluice_api::run(
            Arc::clone(&app.config),
            listener,
            shutdown.clone(),
        ));
        crate::wait::until(
            "the second API is ready",
            Duration::from_secs(30),
            || async {
                let r = app.http.get(format!("{base}/readyz")).send().await;
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            },
            |status| *status == 200,
        )
        .await;
        Self { base, shutdown }
    }
}

impl Drop for SecondApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
