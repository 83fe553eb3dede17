//! Watching the hand-off from outside: every job offer the API makes, and every worker's
//! answer to one, so a test can show which path a job took.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use futures::StreamExt;
use sluice_shared::{handoff, subjects::Subjects};

use crate::TestApp;

/// Counts of offers and answers seen since `TestApp::watch_handoff`.
#[derive(Clone, Default)]
pub struct HandoffWatch {
    offers: Arc<AtomicUsize>,
    taken: Arc<AtomicUsize>,
    declined: Arc<AtomicUsize>,
}

impl HandoffWatch {
    pub fn offers(&self) -> usize {
        self.offers.load(Ordering::SeqCst)
    }

    /// Offers a worker took (it leased the job).
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }

    /// Offers a worker declined (no free slot): the queue delivers those.
    pub fn declined(&self) -> usize {
        self.declined.load(Ordering::SeqCst)
    }
}

impl TestApp {
    /// Starts counting this stack's offers (on the hand-off subject, outside the workers'
    /// queue group, so the watcher is not a responder) and the workers' answers (on the stack's
    /// own inbox prefix).
    pub async fn watch_handoff(&self) -> HandoffWatch {
        let watch = HandoffWatch::default();
        let subjects = Subjects::new(&self.config.nats_prefix);
        let mut offers = self
            .nats
            .subscribe(subjects.handoff())
            .await
            .expect("watch offers");
        let mut replies = self
            .nats
            .subscribe(format!("{}.>", subjects.inbox_prefix()))
            .await
            .expect("watch replies");
        // The subscriptions are live once the server has them.
        self.nats.flush().await.expect("flush");
        let counts = watch.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(_) = offers.next() => {
                        counts.offers.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(reply) = replies.next() => {
                        let counter = match reply.payload.as_ref() {
                            p if p == handoff::TAKEN => &counts.taken,
                            p if p == handoff::DECLINED => &counts.declined,
                            _ => continue,
                        };
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    else => return,
                }
            }
        });
        watch
    }
}
