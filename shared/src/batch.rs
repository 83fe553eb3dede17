//! Group commit for hot statements. Callers each submit one item; one task runs the statement
//! for everything submitted while its previous run was in flight. Alone, an item goes out at
//! once (no added wait); under load, dozens share one round trip and one commit, which is what
//! Postgres spends most of its time on when every chat costs several small statements.
//!
//! During a database outage the batcher fails fast: a run that finds the database unreachable
//! fails all its items with that error, and for `OUTAGE_PAUSE` after it every run fails at
//! once the same way, instead of each waiting out a connection attempt. The queue in front of
//! it is bounded, so callers wait (back-pressure) rather than pile up without limit.

use std::{
    fmt,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};

use crate::db;

/// Items one run takes at most; more wait for the next run.
const MAX_BATCH: usize = 64;
/// Items waiting for a run at most; `submit` waits for room beyond that.
const MAX_WAITING: usize = 4 * MAX_BATCH;
/// How long after a run found the database unreachable runs fail without trying it.
const OUTAGE_PAUSE: Duration = Duration::from_secs(1);

/// One statement that handles many items at once (arrays bound as parameters).
pub trait Statement: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;

    /// Runs the statement for `items`; answers one output per item, in the same order.
    fn run(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Output>>> + Send;
}

/// One field of every item, as one array parameter of a batched statement (`unnest($n)`).
pub fn column<'a, T, U>(items: &'a [T], field: impl FnMut(&'a T) -> U) -> Vec<U> {
    items.iter().map(field).collect()
}

/// Why a batched statement gave no answer.
#[derive(Debug, Clone)]
pub enum BatchError {
    /// The statement failed for this item (see `sqlx_error`).
    Failed(Arc<sqlx::Error>),
    /// The batcher stopped (the runtime is shutting down).
    Stopped,
}

impl BatchError {
    /// The database error, when there is one (to tell an outage from a bug).
    pub fn sqlx_error(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Failed(e) => Some(e),
            Self::Stopped => None,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "{e}"),
            Self::Stopped => f.write_str("the statement batcher stopped"),
        }
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Failed(e) => Some(&**e),
            Self::Stopped => None,
        }
    }
}

type Reply<S> = oneshot::Sender<Result<<S as Statement>::Output, BatchError>>;

/// Submits items to one `Statement`; cheap to clone.
pub struct Batcher<S: Statement> {
    queue: mpsc::Sender<(S::Item, Reply<S>)>,
}

impl<S: Statement> Clone for Batcher<S> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<S: Statement> Batcher<S> {
    /// Starts the task that runs `statement`; it ends when every `Batcher` clone is dropped.
    pub fn start(statement: S) -> Self {
        let (queue, waiting) = mpsc::channel(MAX_WAITING);
        tokio::spawn(run_batches(statement, waiting));
        Self { queue }
    }

    pub async fn submit(&self, item: S::Item) -> Result<S::Output, BatchError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((item, reply))
            .await
            .map_err(|_| BatchError::Stopped)?;
        answer.await.map_err(|_| BatchError::Stopped)?
    }
}

async fn run_batches<S: Statement>(statement: S, mut waiting: mpsc::Receiver<(S::Item, Reply<S>)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The last time a run found the database unreachable, and why.
    let mut outage: Option<(Instant, Arc<sqlx::Error>)> = None;
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        if let Some((since, error)) = &outage
            && since.elapsed() < OUTAGE_PAUSE
        {
            fail_all(replies, error);
            continue;
        }
        match statement.run(&items).await {
            Ok(outputs) if outputs.len() == items.len() => {
                outage = None;
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Ok(outputs) => {
                tracing::error!(
                    items = items.len(),
                    outputs = outputs.len(),
                    "batched statement answered the wrong number of items"
                );
                for reply in replies {
                    let _ = reply.send(Err(mismatch()));
                }
            }
            // Unreachable for one item is unreachable for all: no item is tried again.
            Err(e) if db::is_unreachable(&e) => {
                let error = Arc::new(e);
                fail_all(replies, &error);
                outage = Some((Instant::now(), error));
            }
            // One item's failure (a constraint, a deadlock between batches) must not fail the
            // others: run them again one by one, so only the item at fault gets the error.
            Err(_) if items.len() > 1 => {
                for (item, reply) in items.iter().zip(replies) {
                    let one = statement.run(std::slice::from_ref(item)).await;
                    let _ = reply.send(single(one));
                }
            }
            Err(e) => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(BatchError::Failed(Arc::new(e))));
                }
            }
        }
    }
}

fn fail_all<O>(replies: Vec<oneshot::Sender<Result<O, BatchError>>>, error: &Arc<sqlx::Error>) {
    for reply in replies {
        let _ = reply.send(Err(BatchError::Failed(error.clone())));
    }
}

/// The answer for a run of one item.
fn single<O>(run: sqlx::Result<Vec<O>>) -> Result<O, BatchError> {
    match run {
        Ok(outputs) => outputs.into_iter().next().ok_or_else(mismatch),
        Err(e) => Err(BatchError::Failed(Arc::new(e))),
    }
}

fn mismatch() -> BatchError {
    BatchError::Failed(Arc::new(sqlx::Error::Protocol(
        "batched statement answered the wrong number of items".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Doubles numbers; fails any run that includes 13; records each run's size.
    struct Doubler {
        runs: Arc<Mutex<Vec<usize>>>,
    }

    impl Statement for Doubler {
        type Item = u32;
        type Output = u32;

        async fn run(&self, items: &[u32]) -> sqlx::Result<Vec<u32>> {
            self.runs.lock().unwrap().push(items.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
            if items.contains(&13) {
                return Err(sqlx::Error::Protocol("unlucky".into()));
            }
            Ok(items.iter().map(|i| i * 2).collect())
        }
    }

    fn doubler() -> (Batcher<Doubler>, Arc<Mutex<Vec<usize>>>) {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::start(Doubler { runs: runs.clone() });
        (batcher, runs)
    }

    #[tokio::test]
    async fn items_submitted_while_a_run_is_in_flight_share_the_next_run() {
        let (batcher, runs) = doubler();
        let first = tokio::spawn({
            let b = batcher.clone();
            async move { b.submit(1).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let rest: Vec<_> = (2..=10)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(i).await.unwrap() })
            })
            .collect();
        assert_eq!(first.await.unwrap(), 2);
        for (i, r) in (2..=10).zip(rest) {
            assert_eq!(r.await.unwrap(), i * 2, "each item gets its own answer");
        }
        assert_eq!(*runs.lock().unwrap(), vec![1, 9]);
    }

    #[tokio::test]
    async fn a_failing_item_fails_alone() {
        let (batcher, runs) = doubler();
        let handles: Vec<_> = [5, 13, 7]
            .into_iter()
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(i).await })
            })
            .collect();
        let mut answers = Vec::new();
        for h in handles {
            answers.push(h.await.unwrap().map_err(|e| e.to_string()));
        }
        assert_eq!(answers[0], Ok(10));
        assert!(answers[1].as_ref().unwrap_err().contains("unlucky"));
        assert_eq!(answers[2], Ok(14));
        // One run for the batch, then one per item.
        assert_eq!(*runs.lock().unwrap(), vec![3, 1, 1, 1]);
    }

    /// Fails every run as an unreachable database would; records each run's size.
    struct Unreachable {
        runs: Arc<Mutex<Vec<usize>>>,
    }

    impl Statement for Unreachable {
        type Item = u32;
        type Output = u32;

        async fn run(&self, items: &[u32]) -> sqlx::Result<Vec<u32>> {
            self.runs.lock().unwrap().push(items.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(sqlx::Error::PoolTimedOut)
        }
    }

    #[tokio::test]
    async fn an_unreachable_database_fails_the_whole_batch_once_and_the_next_ones_at_once() {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::start(Unreachable { runs: runs.clone() });
        let submit = |i| {
            let b = batcher.clone();
            tokio::spawn(async move { b.submit(i).await })
        };
        let first: Vec<_> = (0..5).map(submit).collect();
        for h in first {
            let e = h.await.unwrap().unwrap_err();
            assert!(
                matches!(e.sqlx_error(), Some(sqlx::Error::PoolTimedOut)),
                "{e}"
            );
        }
        // Within the pause, later items fail without another attempt on the database.
        let started = std::time::Instant::now();
        let e = submit(6).await.unwrap().unwrap_err();
        assert!(matches!(e.sqlx_error(), Some(sqlx::Error::PoolTimedOut)));
        assert!(started.elapsed() < Duration::from_millis(20));
        assert_eq!(runs.lock().unwrap().iter().sum::<usize>(), 5, "{runs:?}");
        // After it, the database is tried again.
        tokio::time::sleep(OUTAGE_PAUSE).await;
        submit(7).await.unwrap().unwrap_err();
        assert_eq!(runs.lock().unwrap().iter().sum::<usize>(), 6);
    }
}
