//! Turns to append, per stream, on this API process: appends to one stream wait for their
//! turn here, so at most one of them per process holds a pooled Postgres connection while it
//! queues for the stream's row lock — a writer hammering one stream cannot take the pool from
//! everyone else. (The row lock still orders appends across processes.)

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

type Key = (Uuid, String);

#[derive(Default)]
pub struct Turns {
    streams: Mutex<HashMap<Key, Weak<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    /// Waits for `owner`'s stream at `path`; its turn lasts while the guard lives.
    pub async fn take(&self, owner: Uuid, path: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut streams = self.streams.lock().expect("not poisoned");
            if streams.len() > 1024 && streams.len().is_power_of_two() {
                streams.retain(|_, turn| turn.strong_count() > 0);
            }
            let key = (owner, path.to_string());
            match streams.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    streams.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}
