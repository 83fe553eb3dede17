//! Streams at scale: memory per idle SSE stream, and re-attaching with `Last-Event-ID` among
//! 100,000 message subjects.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};
use sluice_testkit::sse::SseStream;

use crate::{
    load::post_chat,
    report::{ms, percentile, rss_mib},
    stack::Stack,
};

/// API memory with `n` open, idle SSE streams (conversation event streams).
pub async fn idle_streams(stack: &Stack, token: &str, n: usize) -> anyhow::Result<()> {
    let before = rss_mib(stack.api.id(), "VmRSS");
    let mut open = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let batch = chunk.iter().map(|_| async {
            let r: Value = stack
                .http
                .post(format!("{}/api/conversations", stack.base))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await?
                .json()
                .await?;
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let response = stack
                .http
                .get(format!("{}/api/conversations/{id}/events", stack.base))
                .bearer_auth(token)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "open stream: {}",
                response.status()
            );
            anyhow::Ok(response)
        });
        for r in join_all(batch).await {
            open.push(r?);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(stack.api.id(), "VmRSS");
    println!();
    println!("| idle SSE streams | API RSS before | API RSS with them open | per stream |");
    println!("|------------------|----------------|------------------------|------------|");
    println!(
        "| {n:>16} | {before:>10.1} MiB | {after:>18.1} MiB | {:>6.1} KiB |",
        (after - before) * 1024.0 / n as f64
    );
    drop(open);
    Ok(())
}

/// Loads ≥100,000 message subjects into the stream, then times re-attaching to one message
/// with `Last-Event-ID`: a finished one (Direct Get replay) and an in-flight one (ordered
/// consumer from its own sequence).
pub async fn reattach_at_scale(stack: &Stack, token: &str) -> anyhow::Result<()> {
    let subjects = bulk_load(stack, 100_000, 4).await?;
    // A finished answer among them.
    let (finished_id, finished_mid) = finished_answer(stack, token).await?;
    let finished = time_reattach(stack, token, &finished_id, finished_mid, 20, true).await?;
    // An in-flight answer (the paced demo model: 64 tokens at 50 ms).
    let r = post_chat(stack, token, "in flight", "demo").await?;
    let mut events = SseStream::new(r);
    let meta = events
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no meta"))?;
    let id = meta.data["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut mid = 0;
    for _ in 0..4 {
        mid = events.next().await.and_then(|e| e.id).unwrap_or(mid);
    }
    let live = time_reattach(stack, token, &id, mid, 20, false).await?;
    println!();
    println!(
        "| re-attach with Last-Event-ID ({subjects} message subjects in the stream) | p50 | max |"
    );
    println!("|-----------------------------------------------------------------|-----|-----|");
    println!(
        "| finished message: request → terminal event                     | {:.2} ms | {:.2} ms |",
        ms(percentile(&finished, 0.5)),
        ms(percentile(&finished, 1.0))
    );
    println!(
        "| in-flight message: request → next event                        | {:.2} ms | {:.2} ms |",
        ms(percentile(&live, 0.5)),
        ms(percentile(&live, 1.0))
    );
    Ok(())
}

async fn bulk_load(stack: &Stack, subjects: usize, per_subject: usize) -> anyhow::Result<usize> {
    let client = async_nats::connect(&stack.nats_url).await?;
    let js = async_nats::jetstream::new(client);
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let payload = bytes::Bytes::from_static(br#"{"type":"token","message_id":"00000000-0000-0000-0000-000000000000","seq":0,"delta":"bulk "}"#);
    for i in 0..subjects {
        let conv = uuid::Uuid::new_v4();
        let msg = uuid::Uuid::new_v4();
        let subject = format!("{}.conv.{conv}.msg.{msg}", stack.prefix);
        for _ in 0..per_subject {
            pending.push_back(js.publish(subject.clone(), payload.clone()).await?);
            if pending.len() >= 2000 {
                pending.pop_front().expect("non-empty").await?;
            }
        }
        if i % 20_000 == 0 {
            eprintln!("bulk load: {i} subjects");
        }
    }
    while let Some(ack) = pending.pop_front() {
        ack.await?;
    }
    eprintln!(
        "bulk load: {subjects} subjects × {per_subject} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(subjects)
}

/// A complete answer, and the id of an event in its middle.
async fn finished_answer(stack: &Stack, token: &str) -> anyhow::Result<(String, u64)> {
    let r = post_chat(stack, token, "finish me", "fake").await?;
    let events = SseStream::new(r).collect().await;
    let id = events[0].data["message_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mid = events[events.len() / 2].id.unwrap_or(0);
    Ok((id, mid))
}

async fn time_reattach(
    stack: &Stack,
    token: &str,
    id: &str,
    after: u64,
    n: usize,
    to_end: bool,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = stack
            .http
            .get(format!("{}/api/messages/{id}/stream", stack.base))
            .bearer_auth(token)
            .header("Last-Event-ID", after.to_string())
            .send()
            .await?;
        let mut events = SseStream::new(r);
        if to_end {
            while let Some(e) = events.next().await {
                if e.is_terminal() {
                    break;
                }
            }
        } else {
            events.next().await;
        }
        times.push(started.elapsed());
    }
    Ok(times)
}
