//! A TCP proxy in front of the API whose connections a test can cut, to prove clients resume
//! a stream without losing or repeating text. New connections keep passing through.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct CuttableProxy {
    /// `http://127.0.0.1:{port}`, to use instead of the API's base URL.
    pub base: String,
    /// Cancelled to cut every open connection; replaced by a fresh one for later connections.
    cut: Arc<Mutex<CancellationToken>>,
}

impl CuttableProxy {
    pub async fn start(target: &str) -> Self {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let cut = Arc::new(Mutex::new(CancellationToken::new()));
        let cuts = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let token = cuts.lock().unwrap().clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        Self { base, cut }
    }

    /// Drops every connection open right now.
    pub fn cut_all(&self) {
        let mut token = self.cut.lock().unwrap();
        token.cancel();
        *token = CancellationToken::new();
    }
}

/// One public address in front of several APIs, as a load balancer is: each new connection goes
/// to the next API in turn, and to the one after it if that one does not answer (it was killed).
pub struct BalancingProxy {
    /// `http://127.0.0.1:{port}`.
    pub base: String,
}

impl BalancingProxy {
    /// Balances over `targets` (`host:port` each).
    pub async fn start(targets: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let mut next = 0;
            while let Ok((mut client, _)) = listener.accept().await {
                let order: Vec<String> = (0..targets.len())
                    .map(|i| targets[(next + i) % targets.len()].clone())
                    .collect();
                next += 1;
                tokio::spawn(async move {
                    for target in order {
                        if let Ok(mut upstream) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { base }
    }
}
