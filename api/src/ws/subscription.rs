//! One subscription of a socket: a task that follows one answer's or one conversation's stream
//! (from after the client's last id) and hands each event, as a frame, to the socket's outbox.
//! The outbox is bounded: a client that stops reading stalls its subscriptions, and one stalled
//! for `SLOW_READER` marks the socket too slow (it is closed; the client resubscribes with its
//! last ids). Nothing is buffered without bound.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::frames::{ServerFrame, Target};
use crate::{
    conversations::store as conversations,
    error::ApiError,
    messages::store as messages,
    state::AppState,
    stream::{self, Attach},
};

/// How long a frame may wait — for room in the outbox, or for the client to take it — before
/// the socket is too slow.
pub const SLOW_READER: Duration = Duration::from_secs(10);

/// Where a subscription's frames go.
#[derive(Clone)]
pub struct Outbox {
    pub frames: mpsc::Sender<String>,
    /// Fired when a frame waited `SLOW_READER` for room.
    pub too_slow: CancellationToken,
    /// Fired when a stream token's one stream is gone.
    pub deleted: CancellationToken,
}

impl Outbox {
    /// Queues a frame; `false` once the socket is gone or too slow (stop producing).
    pub async fn deliver(&self, frame: ServerFrame) -> bool {
        match tokio::time::timeout(SLOW_READER, self.frames.send(frame.to_text())).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.too_slow.cancel();
                false
            }
        }
    }

    pub async fn error(&self, reference: Option<String>, e: ApiError) {
        let (code, message) = e.code_and_message();
        self.deliver(ServerFrame::Error {
            reference,
            code,
            message,
        })
        .await;
    }
}

/// Follows `target` of `user_id`'s from after `after` until it ends or the task is aborted.
pub async fn follow(
    state: AppState,
    user_id: Uuid,
    target: Target,
    after: Option<u64>,
    outbox: Outbox,
) {
    let result = match target {
        Target::MessageId(id) => follow_answer(&state, user_id, id, after, &outbox).await,
        Target::ConversationId(id) => {
            follow_conversation(&state, user_id, id, after, &outbox).await
        }
    };
    match result {
        Ok(Some(reason)) => {
            outbox.deliver(ServerFrame::Ended { target, reason }).await;
        }
        Ok(None) => {}
        Err(e) => outbox.error(None, e).await,
    }
}

/// The reason the subscription ended, or `None` when the socket is gone.
async fn follow_answer(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    after: Option<u64>,
    outbox: &Outbox,
) -> Result<Option<&'static str>, ApiError> {
    let target = Target::MessageId(id);
    let row = messages::find(&state.pool, user_id, id)
        .await?
        .filter(|row| row.role == "assistant")
        .ok_or_else(|| ApiError::not_found("answer"))?;
    if !outbox.deliver(ServerFrame::Subscribed { target }).await {
        return Ok(None);
    }
    let mut events = match stream::message_events(state.clone(), row, after).await? {
        Attach::Ended => return Ok(Some("already_ended")),
        Attach::Events(events) => events,
    };
    while let Some(relayed) = events.next().await {
        let frame = ServerFrame::Event {
            target,
            id: relayed.id(),
            event: relayed.kind(),
            data: relayed.data(),
        };
        if !outbox.deliver(frame).await {
            return Ok(None);
        }
        if relayed.is_terminal() {
            return Ok(Some("done"));
        }
    }
    // The relay stopped before the end: the answer was deleted, or the live feed cut us off.
    if messages::find(&state.pool, user_id, id).await?.is_none() {
        outbox.deleted.cancel();
        return Ok(Some("deleted"));
    }
    Ok(Some("interrupted"))
}

async fn follow_conversation(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    after: Option<u64>,
    outbox: &Outbox,
) -> Result<Option<&'static str>, ApiError> {
    let target = Target::ConversationId(id);
    conversations::find(&state.pool, user_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let events = stream::conversation_stream(state, id, after).await?;
    if !outbox.deliver(ServerFrame::Subscribed { target }).await {
        return Ok(None);
    }
    let mut events = std::pin::pin!(events);
    while let Some(stored) = events.next().await {
        let frame = ServerFrame::Event {
            target,
            id: Some(stored.seq),
            event: stored.kind,
            data: stored.data(),
        };
        if !outbox.deliver(frame).await {
            return Ok(None);
        }
    }
    if conversations::find(&state.pool, user_id, id)
        .await?
        .is_none()
    {
        outbox.deleted.cancel();
        return Ok(Some("deleted"));
    }
    Ok(Some("interrupted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_subscription_that_cannot_queue_a_frame_for_long_marks_the_socket_too_slow() {
        let (frames, mut stalled) = mpsc::channel(1);
        let outbox = Outbox {
            frames,
            too_slow: CancellationToken::new(),
            deleted: CancellationToken::new(),
        };
        assert!(outbox.deliver(ServerFrame::Pong).await, "room for one");
        // Nobody reads: the second waits SLOW_READER (virtual time), then gives up.
        assert!(!outbox.deliver(ServerFrame::Pong).await);
        assert!(outbox.too_slow.is_cancelled());
        // Only what fit was ever queued: one frame.
        assert!(stalled.try_recv().is_ok());
        assert!(stalled.try_recv().is_err());
    }
}
