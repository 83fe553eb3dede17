//! A chaos client: one user chatting through whatever fails, and what all of them saw.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::sse::SseStream;

/// What the clients saw during one phase.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) chats: AtomicUsize,
    pub(super) exactly_once: AtomicUsize,
    pub(super) errors: AtomicUsize,
    pub(super) resets: AtomicUsize,
    pub(super) reconnects: AtomicUsize,
    pub(super) refused: AtomicUsize,
    pub(super) broken: Mutex<Vec<String>>,
    /// When each client (by its number) last received a token.
    pub(super) last_token: Mutex<HashMap<usize, Instant>>,
}

/// One user chatting until `stop`: send, stream to the end (reconnecting with
/// `Last-Event-ID` through whatever fails), then check the answer against the stored one.
pub(super) async fn client(me: usize, public: String, seen: Arc<Seen>, stop: CancellationToken) {
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
        let outcome = follow(me, &http, &public, &token, &answer, &seen).await;
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
    me: usize,
    http: &reqwest::Client,
    public: &str,
    token: &str,
    answer: &str,
    seen: &Seen,
) -> Result<(), String> {
    let url = format!("{public}/api/messages/{answer}/stream");
    let (mut last_id, mut text, mut terminal) = (None::<u64>, String::new(), None);
    let started = Instant::now();
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
        while let Some(e) = events.next().await {
            if e.id.is_some() {
                last_id = e.id;
            }
            match e.event.as_str() {
                "token" => {
                    text.push_str(e.data["delta"].as_str().unwrap_or_default());
                    seen.last_token.lock().unwrap().insert(me, Instant::now());
                }
                "reset" => {
                    text.clear();
                    seen.resets.fetch_add(1, Relaxed);
                }
                _ if e.is_terminal() => {
                    terminal = Some(match e.data["code"].as_str() {
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
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One end: `done`, or an error the stored answer says too (its attempts used up). The
    // stream stops after its terminal event, so a second one could not be relayed.
    let terminal = match terminal {
        Some(t) if !t.starts_with("cancelled") => t,
        other => {
            return Err(format!(
                "ended with {other:?} after {:?}, text {text:?}",
                started.elapsed()
            ));
        }
    };
    if terminal.starts_with("error") {
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
            let ended_as_stored = terminal.split(' ').next() == stored["status"].as_str();
            return if ended_as_stored && stored["content"].as_str() == Some(text.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "streamed {text:?} ending {terminal:?}, stored {} {}",
                    stored["status"], stored["content"]
                ))
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("the stored answer could not be read: {last}"))
}
