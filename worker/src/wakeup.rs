//! Job wake-ups: Postgres LISTEN/NOTIFY on enqueue, plus a few echoes after it. Every item also
//! wakes the worker once more (see `poll_next`), so the stream is always polled to `Pending`.
//!
//! Why the echoes: apalis consumes a notification that arrives while a fetch is already running
//! (that fetch's snapshot may predate the new job), finds nothing, and parks until the next
//! heartbeat — measured here as 1–2 s stalls on about one job in a few hundred at low load. An
//! echo that lands after such a fetch triggers one more. The fetch in flight is usually done
//! within a millisecond, but on a busy machine it can take tens, so the echoes come at growing
//! delays after the latest notification. Each costs one empty fetch when the queue is idle, and
//! nothing under load, where every new notification restarts the schedule.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use tokio::time::{Instant, Sleep};

/// Delays after the latest notification at which the worker looks again.
const ECHOES: [Duration; 4] = [
    Duration::from_millis(5),
    Duration::from_millis(30),
    Duration::from_millis(150),
    Duration::from_millis(600),
];

/// Passes every item of `inner` through at once, and yields `()` again at each of `ECHOES`
/// after the latest one.
pub struct WithEcho<S> {
    inner: S,
    echo: Pin<Box<Sleep>>,
    latest: Instant,
    /// Index into `ECHOES` of the next echo; `ECHOES.len()` when none is due.
    next: usize,
}

impl<S> WithEcho<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            echo: Box::pin(tokio::time::sleep(Duration::ZERO)),
            latest: Instant::now(),
            next: ECHOES.len(),
        }
    }

    fn arm(&mut self) {
        if let Some(delay) = ECHOES.get(self.next) {
            let at = self.latest + *delay;
            self.echo.as_mut().reset(at);
        }
    }
}

impl<S: Stream + Unpin> Stream for WithEcho<S> {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(_)) => {
                self.latest = Instant::now();
                self.next = 0;
                self.arm();
                // apalis polls its wake-up stream once per poll of the worker and drops the
                // answer; a stream that answered `Ready` has registered no waker, so if nothing
                // else woke the worker, later notifications and echoes went unheard until the
                // heartbeat (measured: 0.5–2 s stalls). Ask to be polled again, which registers.
                cx.waker().wake_by_ref();
                return Poll::Ready(Some(()));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        if self.next < ECHOES.len() && self.echo.as_mut().poll(cx).is_ready() {
            self.next += 1;
            self.arm();
            cx.waker().wake_by_ref();
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
    async fn each_notification_is_followed_by_echoes_at_growing_delays() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let mut s = WithEcho::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        tx.send(1).unwrap();
        assert_eq!(s.next().await, Some(()));
        let notified = Instant::now();
        for delay in ECHOES {
            assert_eq!(s.next().await, Some(()), "an echo");
            assert_eq!(notified.elapsed(), delay);
        }
        // A new notification restarts the schedule; then the stream ends with its source.
        tx.send(2).unwrap();
        assert_eq!(s.next().await, Some(()));
        let notified = Instant::now();
        assert_eq!(s.next().await, Some(()));
        assert_eq!(notified.elapsed(), ECHOES[0]);
        drop(tx);
        assert_eq!(s.next().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn no_echo_without_a_notification() {
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let mut s = WithEcho::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        let waited = tokio::time::timeout(Duration::from_secs(5), s.next()).await;
        assert!(waited.is_err(), "nothing to echo");
    }

    #[tokio::test(start_paused = true)]
    async fn an_item_asks_for_another_poll_so_the_next_one_is_heard() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl futures::task::ArcWake for Count {
            fn wake_by_ref(me: &std::sync::Arc<Self>) {
                me.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = std::sync::Arc::new(Count(0.into()));
        let waker = futures::task::waker(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let mut s = WithEcho::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        tx.send(1).unwrap();
        assert_eq!(Pin::new(&mut s).poll_next(&mut cx), Poll::Ready(Some(())));
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the caller is woken to poll again"
        );
    }
}
