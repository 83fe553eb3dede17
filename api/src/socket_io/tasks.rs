//! A socket's tasks: a relay per joined conversation and the credential's watch, all stopped
//! when the socket goes — also one started just after it went.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::task::AbortHandle;
use uuid::Uuid;

/// Conversations one socket may follow at once.
pub const MAX_JOINED: usize = 64;

/// The socket's tasks: a relay per joined conversation, and the credential's watch; all
/// stopped on disconnect.
#[derive(Clone, Default)]
pub struct Tasks(pub Arc<Mutex<TaskList>>);

#[derive(Default)]
pub struct TaskList {
    joined: HashMap<Uuid, AbortHandle>,
    pub watch: Option<AbortHandle>,
    /// Set on disconnect: a task started after it is stopped at once.
    closed: bool,
}

impl Tasks {
    /// Keeps `task` as `conversation`'s relay (replacing and stopping an older one); stops it
    /// at once if the socket has gone meanwhile.
    pub fn join(&self, conversation: Uuid, task: AbortHandle) {
        let mut list = self.0.lock().expect("not poisoned");
        if list.closed {
            task.abort();
            return;
        }
        if let Some(old) = list.joined.insert(conversation, task) {
            old.abort();
        }
    }

    pub fn leave(&self, conversation: Uuid) {
        if let Some(task) = self
            .0
            .lock()
            .expect("not poisoned")
            .joined
            .remove(&conversation)
        {
            task.abort();
        }
    }

    /// Whether one more conversation may be joined.
    pub fn has_room(&self, conversation: Uuid) -> bool {
        let list = self.0.lock().expect("not poisoned");
        list.joined.len() < MAX_JOINED || list.joined.contains_key(&conversation)
    }

    pub fn stop_all(&self) {
        let mut list = self.0.lock().expect("not poisoned");
        list.closed = true;
        for (_, task) in list.joined.drain() {
            task.abort();
        }
        if let Some(watch) = list.watch.take() {
            watch.abort();
        }
    }
}
