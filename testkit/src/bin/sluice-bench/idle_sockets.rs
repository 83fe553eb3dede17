//! `scripts/bench idle-sockets`: what an idle WebSocket costs the API. Opens BENCH_SOCKETS
//! (default 1000) sockets to `GET /api/ws`, each signed in and subscribed to a conversation of
//! its own with nothing streaming (an app tab waiting for the next answer), and reads the API
//! process's resident memory before and after.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_testkit::{fake_openai::FakeOpenAi, ws::WsClient};

use crate::{
    env_or, rss_mib,
    stack::{self, Workers},
};

pub async fn run(bin_dir: &str) -> anyhow::Result<()> {
    let sockets: usize = env_or("BENCH_SOCKETS", 1000);
    let fake = FakeOpenAi::start(8, Duration::ZERO).await;
    let stack = stack::start(bin_dir, &fake, &Workers::one_large()).await?;
    let users = stack::guests(&stack, 50).await?;
    let url = format!("{}/api/ws", stack.base.replacen("http://", "ws://", 1));
    let mut conversations = Vec::with_capacity(sockets);
    for i in 0..sockets {
        let created: Value = stack
            .http
            .post(format!("{}/api/conversations", stack.base))
            .bearer_auth(&users[i % users.len()])
            .json(&json!({}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        conversations.push(created["id"].as_str().unwrap_or_default().to_string());
    }
    // One socket opened and closed first: what the first connection allocates once (TLS-free
    // handshake code paths, buffers) is not counted per socket.
    let warm_up = open(&url, &users[0], &conversations[0]).await?;
    drop(warm_up);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mib(stack.api.id(), "VmRSS");
    let mut held = Vec::with_capacity(sockets);
    for (i, conversation) in conversations.iter().enumerate() {
        held.push(open(&url, &users[i % users.len()], conversation).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(stack.api.id(), "VmRSS");
    let per_socket_kib = (after - before) * 1024.0 / sockets as f64;
    println!("\nSluice idle WebSockets — each signed in and subscribed to a conversation\n");
    println!("| sockets | API RSS before | after | per socket |");
    println!("|---------|----------------|-------|------------|");
    println!(
        "| {sockets:>7} | {before:>10.1} MiB | {after:>5.1} MiB | {per_socket_kib:>6.1} KiB |"
    );
    drop(held);
    Ok(())
}

/// A socket subscribed to `conversation`, once the server said so.
async fn open(url: &str, token: &str, conversation: &str) -> anyhow::Result<WsClient> {
    let mut ws = WsClient::connect(url, Some(token))
        .await
        .map_err(|e| anyhow::anyhow!("connect: {e}"))?;
    ws.send(json!({"type": "subscribe", "conversation_id": conversation}))
        .await;
    let frame = ws.frame().await;
    anyhow::ensure!(frame["type"] == "subscribed", "not subscribed: {frame}");
    Ok(ws)
}
