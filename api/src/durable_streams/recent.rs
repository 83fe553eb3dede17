//! Appends this process read lately, shared by its readers: an append that wakes a thousand
//! readers of one stream is read from JetStream once (`log.rs`).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{log::Stored, offset::Seq};

/// Appends read lately, by (stream, the sequence asked from): an append that wakes a thousand
/// readers of one stream is read from JetStream once, and they share it. What follows a
/// sequence never changes once it exists (sequences only grow), so an entry stays true; "not
/// yet" is not kept. Bounded by bytes, oldest first out.
#[derive(Default)]
pub struct Recent {
    inner: Mutex<RecentInner>,
}

pub type Key = (Uuid, Seq);
pub type Cell = Arc<OnceCell<Option<Stored>>>;

#[derive(Default)]
struct RecentInner {
    /// Each cell, and whether it is counted in `order` and `bytes` (once it held an append).
    cells: HashMap<Key, (Cell, bool)>,
    order: VecDeque<(Key, usize)>,
    bytes: usize,
}

/// At most this much data is kept (with each entry's key).
const RECENT_BYTES: usize = 64 * 1024 * 1024;

impl Recent {
    pub fn cell(&self, key: Key) -> Cell {
        let mut inner = self.inner.lock().expect("not poisoned");
        // Reads cancelled mid-way (their client left) leave cells never counted: dropped once
        // they outnumber the counted ones by far, unless a reader still holds them.
        if inner.cells.len() > inner.order.len() + 10_000 {
            inner
                .cells
                .retain(|_, (cell, counted)| *counted || Arc::strong_count(cell) > 1);
        }
        inner.cells.entry(key).or_default().0.clone()
    }

    /// After `cell` was asked to fill: kept and counted once if it holds an append, dropped
    /// if it holds "not yet" or nothing (the read failed).
    pub fn settle(&self, key: Key, cell: &Cell, got: Option<&Stored>) {
        let mut inner = self.inner.lock().expect("not poisoned");
        let Some((current, counted)) = inner.cells.get_mut(&key) else {
            return;
        };
        if !Arc::ptr_eq(current, cell) || *counted {
            return;
        }
        let Some(stored) = got else {
            inner.cells.remove(&key);
            return;
        };
        *counted = true;
        let size = stored.data.len() + 64;
        inner.order.push_back((key, size));
        inner.bytes += size;
        while inner.bytes > RECENT_BYTES {
            let Some((old, size)) = inner.order.pop_front() else {
                break;
            };
            inner.cells.remove(&old);
            inner.bytes -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn an_append_read_is_kept_once_and_not_yet_is_not_kept() {
        let recent = Recent::default();
        let key = (Uuid::from_u128(1), 5);
        let first = recent.cell(key);
        let stored = Stored {
            seq: 7,
            data: Bytes::from_static(b"x"),
        };
        first.get_or_init(|| async { Some(stored) }).await;
        recent.settle(key, &first, first.get().unwrap().as_ref());
        let second = recent.cell(key);
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second reader shares the first's read"
        );
        recent.settle(key, &second, second.get().unwrap().as_ref());
        assert_eq!(recent.inner.lock().unwrap().order.len(), 1, "counted once");
        let later = (Uuid::from_u128(1), 8);
        let empty = recent.cell(later);
        empty.get_or_init(|| async { None }).await;
        recent.settle(later, &empty, None);
        assert!(
            !recent.inner.lock().unwrap().cells.contains_key(&later),
            "asked again later"
        );
    }
}
