//! Cancel requests. One core-NATS subscription per worker process on
//! `{prefix}.control.msg.*`, routed to the job running that message — instead of a
//! subscription per job, which churns server interest on every answer.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use tokio::sync::Notify;
use uuid::Uuid;

type Waiting = Arc<Mutex<HashMap<Uuid, Arc<Notify>>>>;

#[derive(Clone, Default)]
pub struct Cancels {
    waiting: Waiting,
}

/// Held by a running job; resolves when its message is cancelled. Dropping it unregisters.
pub struct CancelSignal {
    id: Uuid,
    notify: Arc<Notify>,
    waiting: Waiting,
}

impl Cancels {
    /// Subscribes and routes until the NATS connection closes.
    pub async fn start(nats: &async_nats::Client, subject: String) -> anyhow::Result<Self> {
        let cancels = Self::default();
        let mut requests = nats.subscribe(subject).await?;
        let waiting = cancels.waiting.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(id) = request
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|s| s.parse().ok())
                else {
                    continue;
                };
                if let Some(notify) = waiting.lock().expect("cancels lock").get(&id) {
                    // `notify_one` keeps a permit when nobody waits yet: an early cancel is not lost.
                    notify.notify_one();
                }
            }
        });
        Ok(cancels)
    }

    /// Registers a job for its message's cancel requests. Register before claiming the
    /// message, so a cancel sent right after the claim is seen.
    pub fn register(&self, id: Uuid) -> CancelSignal {
        let notify = Arc::new(Notify::new());
        self.waiting
            .lock()
            .expect("cancels lock")
            .insert(id, notify.clone());
        CancelSignal {
            id,
            notify,
            waiting: self.waiting.clone(),
        }
    }
}

impl CancelSignal {
    pub async fn cancelled(&self) {
        self.notify.notified().await;
    }
}

impl Drop for CancelSignal {
    fn drop(&mut self) {
        self.waiting.lock().expect("cancels lock").remove(&self.id);
    }
}
