//! Following one answer over SSE: tokens go to a `Sink` as they arrive; a dropped connection is
//! resumed from the last event id (`Last-Event-ID`), so no text is lost or repeated; `reset`
//! (the server restarted the answer) tells the sink to start over; Ctrl-C cancels the answer
//! on the server and waits for it to say so.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Response;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    client::{Api, api_error},
    error::{CliError, CliResult},
    interrupts::Interrupts,
};

/// Where the text of an answer goes.
pub trait Sink {
    fn token(&mut self, delta: &str);
    /// The answer starts over: forget what was shown.
    fn reset(&mut self);
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    Failed { message: String },
    Cancelled,
}

pub struct Followed {
    pub message_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub outcome: Outcome,
}

/// Reconnection attempts after a drop before giving up (about a minute in all).
const MAX_RESUMES: u32 = 12;

/// Reads `response` (an SSE answer) to its end, resuming and cancelling as needed.
pub async fn follow(
    api: &mut Api,
    mut response: Response,
    sink: &mut dyn Sink,
    interrupts: &mut Interrupts,
) -> CliResult<Followed> {
    let mut state = State::default();
    let mut resumes = 0;
    // Ctrl-C pressed: `Requested` until the answer's id is known, then `Sent`.
    let mut cancel_state = CancelState::No;
    loop {
        if !response.status().is_success() {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Err(api_error(status, &body));
        }
        let mut events = response.bytes_stream().eventsource();
        loop {
            let next = tokio::select! {
                next = events.next() => next,
                _ = interrupts.pressed(), if cancel_state == CancelState::No => {
                    eprintln!("\n[cancelling…]");
                    cancel_state = CancelState::Requested;
                    if let Some(id) = state.message_id {
                        cancel_state = CancelState::Sent;
                        cancel(api, id).await?;
                    }
                    continue;
                }
            };
            let Some(Ok(event)) = next else { break };
            if let Ok(id) = event.id.parse::<u64>() {
                // After a resume the server starts past this id; never show anything twice.
                if state.last_id.is_some_and(|last| id <= last) {
                    continue;
                }
                state.last_id = Some(id);
            }
            resumes = 0;
            let outcome = state.apply(&event.event, &event.data, sink);
            // Pressed before the answer had an id (the first event brings it): cancel now.
            if cancel_state == CancelState::Requested
                && let Some(id) = state.message_id
            {
                cancel_state = CancelState::Sent;
                cancel(api, id).await?;
            }
            if let Some(outcome) = outcome {
                return Ok(Followed {
                    message_id: state.message_id,
                    conversation_id: state.conversation_id,
                    outcome,
                });
            }
        }
        // The connection ended before the answer did: resume where it stopped.
        let Some(message_id) = state.message_id else {
            return Err(CliError::new(
                "the connection closed before the answer started",
            ));
        };
        response = loop {
            resumes += 1;
            eprintln!("\n[connection lost; resuming…]");
            tokio::time::sleep(Duration::from_millis(250 * u64::from(resumes))).await;
            match reopen(api, message_id, state.last_id).await {
                Ok(r) => break r,
                Err(e) if resumes >= MAX_RESUMES => return Err(e),
                Err(_) => continue,
            }
        };
    }
}

async fn reopen(api: &mut Api, message_id: Uuid, last_id: Option<u64>) -> CliResult<Response> {
    let url = api.url(&format!("/api/messages/{message_id}/stream"));
    api.send(|http, token| {
        let req = http.get(&url).bearer_auth(token);
        match last_id {
            Some(id) => req.header("Last-Event-ID", id.to_string()),
            None => req,
        }
    })
    .await
}

/// Asks the server to stop the answer; its stream then ends with `cancelled` (or, if it had
/// just finished, with `done`: 409 here, and the stream tells which).
async fn cancel(api: &mut Api, id: Uuid) -> CliResult<()> {
    let url = api.url(&format!("/api/messages/{id}/cancel"));
    api.send(|http, token| http.post(&url).bearer_auth(token))
        .await?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CancelState {
    No,
    Requested,
    Sent,
}

#[derive(Default)]
struct State {
    message_id: Option<Uuid>,
    conversation_id: Option<Uuid>,
    last_id: Option<u64>,
}

impl State {
    /// Applies one event; `Some` when it ends the answer.
    fn apply(&mut self, kind: &str, data: &str, sink: &mut dyn Sink) -> Option<Outcome> {
        let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        let uuid = |k: &str| v[k].as_str().and_then(|s| s.parse().ok());
        match kind {
            "meta" => {
                self.message_id = uuid("message_id");
                self.conversation_id = uuid("conversation_id");
            }
            "start" => {
                self.message_id = self.message_id.or(uuid("message_id"));
                self.conversation_id = self.conversation_id.or(uuid("conversation_id"));
            }
            "token" => sink.token(v["delta"].as_str().unwrap_or_default()),
            "reset" => sink.reset(),
            "done" => return Some(Outcome::Done),
            "cancelled" => return Some(Outcome::Cancelled),
            "error" => {
                let message = v["message"]
                    .as_str()
                    .unwrap_or("the answer failed")
                    .to_string();
                return Some(Outcome::Failed { message });
            }
            _ => {}
        }
        None
    }
}

/// `POST /api/chat`: sends a message; the answer streams back on the same response. Ctrl-C
/// presses from before belong to nothing: they are forgotten first.
pub async fn start(
    api: &mut Api,
    input: &sluice_shared::dto::ChatIn,
    interrupts: &mut Interrupts,
) -> CliResult<Response> {
    interrupts.clear();
    let url = api.url("/api/chat");
    api.send(|http, token| http.post(&url).bearer_auth(token).json(input))
        .await
}
