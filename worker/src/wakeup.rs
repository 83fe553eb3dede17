//! Job wake-ups: Postgres LISTEN/NOTIFY on enqueue, plus one echo a few milliseconds later.
//!
//! Why the echo: apalis consumes a notification that arrives while a fetch is already running
//! (that fetch's snapshot may predate the new job), finds nothing, and parks until the next
//! heartbeat — measured here as 1.5–2 s stalls on a few percent of jobs at low load. The echo
//! lands after such a fetch and triggers one more, so every job is seen within milliseconds.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use tokio::time::{Instant, Sleep};

const ECHO_AFTER: Duration = Duration::from_millis(5);

/// Passes every item of `inner` through at once, and yields `()` once more `ECHO_AFTER` after
/// the latest one.
pub struct WithEcho<S> {
    inner: S,
    echo: Pin<Box<Sleep>>,
    armed: bool,
}

impl<S> WithEcho<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            echo: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for WithEcho<S> {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(_)) => {
                let at = Instant::now() + ECHO_AFTER;
                self.echo.as_mut().reset(at);
                self.armed = true;
                return Poll::Ready(Some(()));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        if self.armed && self.echo.as_mut().poll(cx).is_ready() {
            self.armed = false;
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_notification_is_followed_by_one_echo() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let mut s = WithEcho::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        tx.send(1).unwrap();
        assert_eq!(s.next().await, Some(()));
        let started = Instant::now();
        assert_eq!(s.next().await, Some(()), "the echo");
        assert!(started.elapsed() >= ECHO_AFTER);
        drop(tx);
        assert_eq!(s.next().await, None);
    }
}
