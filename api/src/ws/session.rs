//! What one WebSocket holds — who it is and its subscriptions — and what each client frame does.

use std::collections::HashMap;

use axum::http::StatusCode;
use sluice_shared::dto::ChatIn;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{
    caller::Caller,
    frames::{ClientFrame, ServerFrame},
    subscription::{self, Outbox},
};
use crate::{
    error::ApiError,
    messages,
    state::AppState,
    stream::{Scope, tokens},
};

/// Streams one socket may follow at once: each is a task and a live-feed subscriber.
const MAX_SUBSCRIPTIONS: usize = 64;

pub struct Session {
    pub state: AppState,
    pub caller: Caller,
    pub outbox: Outbox,
    /// Each followed stream: its current subscription's generation, and its task.
    subscriptions: HashMap<Scope, (u64, JoinHandle<()>)>,
    generations: u64,
}

impl Session {
    pub fn new(state: AppState, caller: Caller, outbox: Outbox) -> Self {
        Self {
            state,
            caller,
            outbox,
            subscriptions: HashMap::new(),
            generations: 0,
        }
    }

    /// Whether a queued frame is of a subscription still followed (not replaced or dropped).
    pub fn is_current(&self, (target, generation): (Scope, u64)) -> bool {
        self.subscriptions
            .get(&target)
            .is_some_and(|(current, _)| *current == generation)
    }

    /// Does what a client frame asks; the direct replies (a subscription's events come later,
    /// through the outbox).
    pub async fn handle(&mut self, text: &str) -> Vec<ServerFrame> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                let e = ApiError::bad_request("invalid_frame", format!("not a frame: {e}"));
                return vec![ServerFrame::error(None, None, e)];
            }
        };
        let result = match frame {
            ClientFrame::Subscribe {
                target,
                last_event_id,
            } => self
                .subscribe(target, last_event_id)
                .map_err(|e| (None, Some(target), e)),
            ClientFrame::Unsubscribe { target } => {
                if let Some((_, task)) = self.subscriptions.remove(&target) {
                    task.abort();
                }
                Ok(None)
            }
            ClientFrame::Send {
                reference,
                conversation_id,
                content,
                model,
                attachments,
            } => {
                let input = ChatIn {
                    message: content,
                    conversation_id,
                    model,
                    attachments,
                };
                self.send(reference.clone(), input)
                    .await
                    .map(Some)
                    .map_err(|e| (reference, None, e))
            }
            ClientFrame::Cancel {
                reference,
                message_id,
            } => self
                .cancel(reference.clone(), message_id)
                .await
                .map(Some)
                .map_err(|e| (reference, None, e)),
            ClientFrame::Ping => Ok(Some(ServerFrame::Pong)),
        };
        match result {
            Ok(reply) => reply.into_iter().collect(),
            Err((reference, target, e)) => vec![ServerFrame::error(reference, target, e)],
        }
    }

    /// (Re)starts following `target`: one subscription per stream; a new one replaces the old,
    /// whose frames still queued are then dropped (`is_current`).
    fn subscribe(
        &mut self,
        target: Scope,
        after: Option<u64>,
    ) -> Result<Option<ServerFrame>, ApiError> {
        tokens::may_read(self.caller.scope, target)?;
        if let Scope::DurableStream(_) = target {
            return Err(ApiError::wrong_kind(
                "not_a_chat_stream",
                "durable streams are read over HTTP: GET /v1/stream/{path}",
            ));
        }
        if !self.subscriptions.contains_key(&target) {
            self.room_for_one_more()?;
        }
        if let Some((_, old)) = self.subscriptions.remove(&target) {
            old.abort();
        }
        self.generations += 1;
        let task = tokio::spawn(subscription::follow(
            self.state.clone(),
            self.caller.user_id,
            target,
            self.generations,
            after,
            self.outbox.clone(),
        ));
        self.subscriptions.insert(target, (self.generations, task));
        Ok(None)
    }

    /// 400 `too_many_subscriptions` when one more stream would pass `MAX_SUBSCRIPTIONS`.
    fn room_for_one_more(&mut self) -> Result<(), ApiError> {
        self.subscriptions
            .retain(|_, (_, task)| !task.is_finished());
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(ApiError::bad_request(
                "too_many_subscriptions",
                format!("a socket follows at most {MAX_SUBSCRIPTIONS} streams; unsubscribe first"),
            ));
        }
        Ok(())
    }

    fn read_only(&self) -> Result<(), ApiError> {
        match self.caller.scope {
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "read_only",
                "a stream token can only subscribe to its stream",
            )),
            None => Ok(()),
        }
    }

    /// Sends the message, and follows its answer at once.
    async fn send(
        &mut self,
        reference: Option<String>,
        input: ChatIn,
    ) -> Result<ServerFrame, ApiError> {
        self.read_only()?;
        // Checked before sending: the answer it starts is followed at once.
        self.room_for_one_more()?;
        let (question, answer) =
            messages::start_chat(&self.state, self.caller.spender(), input, None).await?;
        self.subscribe(Scope::Message(answer.id), None)?;
        Ok(ServerFrame::Sent {
            reference,
            conversation_id: answer.conversation_id,
            user_message_id: question.id,
            message_id: answer.id,
        })
    }

    async fn cancel(
        &mut self,
        reference: Option<String>,
        message_id: Uuid,
    ) -> Result<ServerFrame, ApiError> {
        self.read_only()?;
        messages::cancel_answer(&self.state, self.caller.user_id, message_id).await?;
        Ok(ServerFrame::Cancelling {
            reference,
            message_id,
        })
    }

    pub fn stop_all(&mut self) {
        for (_, (_, task)) in self.subscriptions.drain() {
            task.abort();
        }
    }
}
