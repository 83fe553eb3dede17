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

use super::frames::{EndReason, ServerFrame};
use crate::{
    conversations,
    error::ApiError,
    messages,
    state::AppState,
    stream::{self, Attach, Scope},
};

/// How long a frame may wait — for room in the outbox, or for the client to take it — before
/// the socket is too slow.
pub const SLOW_READER: Duration = Duration::from_secs(10);

/// A frame from a subscription, tagged with it: a frame of a subscription replaced since
/// (the client subscribed to the same stream again) is dropped, never sent beside the new
/// one's events.
pub struct Queued {
    pub from: (Scope, u64),
    pub text: String,
}

/// Where one subscription's frames go.
#[derive(Clone)]
pub struct Outbox {
    pub frames: mpsc::Sender<Queued>,
    /// Fired when a frame waited `SLOW_READER` for room.
    pub too_slow: CancellationToken,
    /// Fired when a followed stream is gone (it ends a stream token's socket).
    pub stream_deleted: CancellationToken,
}

impl Outbox {
    /// Queues a frame of subscription `from`; `false` once the socket is gone or too slow.
    pub async fn deliver(&self, from: (Scope, u64), frame: ServerFrame) -> bool {
        let queued = Queued {
            from,
            text: frame.to_text(),
        };
        match tokio::time::timeout(SLOW_READER, self.frames.send(queued)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.too_slow.cancel();
                false
            }
        }
    }
}

/// Follows `target` of `user_id`'s from after `after` until it ends or the task is aborted;
/// `generation` tells this subscription from a later one to the same stream.
pub async fn follow(
    state: AppState,
    user_id: Uuid,
    target: Scope,
    generation: u64,
    after: Option<u64>,
    outbox: Outbox,
) {
    let from = (target, generation);
    let relayed = match target {
        Scope::Message(id) => follow_answer(&state, user_id, id, after, from, &outbox).await,
        Scope::Conversation(id) => {
            follow_conversation(&state, user_id, id, after, from, &outbox).await
        }
        // Refused when subscribing (`Session::subscribe`).
        Scope::DurableStream(_) => return,
    };
    let reason = match relayed {
        Ok(Relayed::Gone) => return,
        Ok(Relayed::Ended(reason)) => reason,
        Ok(ended @ (Relayed::Stopped | Relayed::Cancelled)) => {
            match Box::pin(still_there(&state, user_id, target)).await {
                Ok(true) if matches!(ended, Relayed::Cancelled) => EndReason::Done,
                Ok(true) => EndReason::Interrupted,
                Ok(false) => {
                    outbox.stream_deleted.cancel();
                    EndReason::Deleted
                }
                Err(e) => {
                    outbox
                        .deliver(from, ServerFrame::error(None, Some(target), e))
                        .await;
                    return;
                }
            }
        }
        Err(e) => {
            outbox
                .deliver(from, ServerFrame::error(None, Some(target), e))
                .await;
            return;
        }
    };
    outbox
        .deliver(from, ServerFrame::Ended { target, reason })
        .await;
}

/// How relaying a stream ended.
enum Relayed {
    /// The socket is gone or too slow: say nothing more.
    Gone,
    Ended(EndReason),
    /// The relay stopped before the stream's end (deleted, or cut off by the live feed).
    Stopped,
    /// The answer ended `cancelled`: stopped, or its conversation deleted (which stops it).
    Cancelled,
}

async fn follow_answer(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    after: Option<u64>,
    from: (Scope, u64),
    outbox: &Outbox,
) -> Result<Relayed, ApiError> {
    // Boxed: a waiting subscription holds its largest state inline; the opening steps live on
    // the heap only while they run.
    let row = Box::pin(messages::find_answer(&state.pool, user_id, id)).await?;
    if !outbox
        .deliver(from, ServerFrame::Subscribed { target: from.0 })
        .await
    {
        return Ok(Relayed::Gone);
    }
    let mut events = match Box::pin(stream::message_events(state.clone(), row, after)).await? {
        Attach::Ended => return Ok(Relayed::Ended(EndReason::AlreadyEnded)),
        Attach::Events(events) => events,
    };
    while let Some(relayed) = events.next().await {
        let frame = ServerFrame::Event {
            target: from.0,
            id: relayed.id(),
            event: relayed.kind(),
            data: relayed.data(),
        };
        if !outbox.deliver(from, frame).await {
            return Ok(Relayed::Gone);
        }
        if relayed.is_terminal() {
            return Ok(if relayed.kind() == "cancelled" {
                Relayed::Cancelled
            } else {
                Relayed::Ended(EndReason::Done)
            });
        }
    }
    Ok(Relayed::Stopped)
}

async fn follow_conversation(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    after: Option<u64>,
    from: (Scope, u64),
    outbox: &Outbox,
) -> Result<Relayed, ApiError> {
    let events = Box::pin(stream::conversation_stream(state, user_id, id, after)).await?;
    if !outbox
        .deliver(from, ServerFrame::Subscribed { target: from.0 })
        .await
    {
        return Ok(Relayed::Gone);
    }
    let mut events = std::pin::pin!(events);
    while let Some(stored) = events.next().await {
        let frame = ServerFrame::Event {
            target: from.0,
            id: Some(stored.seq),
            event: stored.kind,
            data: stored.data(),
        };
        if !outbox.deliver(from, frame).await {
            return Ok(Relayed::Gone);
        }
    }
    Ok(Relayed::Stopped)
}

/// Whether the stream's answer or conversation still exists.
async fn still_there(state: &AppState, user_id: Uuid, target: Scope) -> Result<bool, ApiError> {
    let found = match target {
        Scope::Message(id) => messages::store::find(&state.pool, user_id, id)
            .await?
            .is_some(),
        Scope::Conversation(id) => conversations::store::find(&state.pool, user_id, id)
            .await?
            .is_some(),
        Scope::DurableStream(_) => false,
    };
    Ok(found)
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
            stream_deleted: CancellationToken::new(),
        };
        let from = (Scope::Message(Uuid::now_v7()), 1);
        assert!(
            outbox.deliver(from, ServerFrame::Pong).await,
            "room for one"
        );
        // Nobody reads: the second waits SLOW_READER (virtual time), then gives up.
        assert!(!outbox.deliver(from, ServerFrame::Pong).await);
        assert!(outbox.too_slow.is_cancelled());
        // Only what fit was ever queued: one frame.
        assert!(stalled.try_recv().is_ok());
        assert!(stalled.try_recv().is_err());
    }
}
