//! sluice-worker: takes chat jobs from the Postgres queue (apalis), calls the model provider
//! and publishes every token to NATS JetStream. Scale it by running more processes.
#![forbid(unsafe_code)]

pub mod attachments;
pub mod cancels;
pub mod chat_job;
pub mod cli;
pub mod finished_jobs;
pub mod handoff;
pub mod metrics;
pub mod prompt;
pub mod providers;
pub mod publisher;
pub mod store;
pub mod title_job;
pub mod wakeup;

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollWith, StreamStrategy};
use apalis_postgres::PostgresStorage;
use async_nats::jetstream;
use futures::StreamExt;
use sluice_shared::{
    Config, db,
    job::{CHAT_QUEUE, ChatJob, TITLE_QUEUE, TitleJob},
    nats,
    subjects::Subjects,
};
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::limit::GlobalConcurrencyLimitLayer;

/// Cheap handles every job needs.
pub struct WorkerState {
    pub pool: PgPool,
    pub nats: async_nats::Client,
    /// Changes at each NATS reconnect (`publisher.rs`).
    pub nats_reconnected: tokio::sync::watch::Receiver<u64>,
    pub store: store::Store,
    pub js: jetstream::Context,
    pub cancels: cancels::Cancels,
    pub subjects: Subjects,
    pub config: Arc<Config>,
    /// `worker.concurrency` answers at once, whichever way their jobs came: the queue's
    /// worker waits for a slot before it fetches, an offer is taken only with a slot free.
    pub slots: Arc<Semaphore>,
    /// Told when an answer ends while the queue may be busy: the queue's worker then fetches
    /// at once, so a job waiting there takes the freed slot (in arrival order).
    pub slot_freed: Arc<Notify>,
    pub saturation: sluice_shared::saturation::Saturation,
    /// Where each model is served (its deployments, in order).
    pub routes: providers::routes::Routes,
    /// Opens users' own provider keys; `None` when `[secrets]` sets no master key.
    pub master_keys: Option<sluice_shared::envelope::MasterKeys>,
    /// What `/metrics` on `worker.metrics_listen` shows.
    pub metrics: Arc<metrics::WorkerMetrics>,
    /// Where attachments are kept (images are read from it for the prompt).
    pub files: Arc<dyn object_store::ObjectStore>,
}

/// Runs one worker process until `shutdown` fires; then stops fetching, lets in-flight jobs
/// finish for `worker.shutdown_grace_secs`, and returns. Jobs still running after that stay
/// leased to this worker and are taken over by another once the lease lapses.
pub async fn run(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics = metrics::WorkerMetrics::new();
    let pool = db::connect_counting(&config, metrics.postgres_connections.clone()).await?;
    let (nats_client, nats_reconnected) =
        nats::connect_watching(&config, metrics.nats_reconnects.clone()).await?;
    if let Some(addr) = config.worker.metrics_listen {
        metrics.registry.serve(addr, None, shutdown.clone()).await?;
    }
    let js = jetstream::new(nats_client.clone());
    let subjects = Subjects::new(&config.nats_prefix);
    nats::ensure_stream(
        &js,
        &subjects,
        Duration::from_secs(config.stream_max_age_secs),
    )
    .await?;
    let state = Arc::new(WorkerState {
        pool: pool.clone(),
        nats: nats_client.clone(),
        nats_reconnected,
        store: store::Store::new(&pool),
        cancels: cancels::Cancels::start(&nats_client, subjects.control_all()).await?,
        js,
        subjects,
        routes: providers::routes::Routes::build(&config, &metrics)?,
        master_keys: sluice_shared::envelope::MasterKeys::from_config(&config.secrets)?,
        files: sluice_shared::files::store(&config.files)?,
        metrics,
        slots: Arc::new(Semaphore::new(config.worker.concurrency)),
        slot_freed: Arc::new(Notify::new()),
        saturation: sluice_shared::saturation::Saturation::default(),
        config: config.clone(),
    });
    let sweeper = tokio::spawn(finished_jobs::sweep_until(
        pool.clone(),
        CHAT_QUEUE,
        shutdown.clone(),
    ));
    let title_sweeper = tokio::spawn(finished_jobs::sweep_until(
        pool.clone(),
        TITLE_QUEUE,
        shutdown.clone(),
    ));
    let w = &config.worker;
    let queue = apalis_postgres::Config::default()
        .queue(CHAT_QUEUE)
        // `get_jobs` already marks fetched jobs `Queued` under this worker, which apalis's
        // recovery treats as held; its extra lock statement per job (to `Running`) would cost
        // one UPDATE per job and change nothing we rely on.
        .lock_tasks(false)
        .batch_size(w.batch_size)
        .heartbeat_interval(Duration::from_millis(w.heartbeat_ms))
        .missed_heartbeats(w.missed_heartbeats);
    let concurrency = w.concurrency;
    let name = format!("sluice-worker-{}", uuid::Uuid::new_v4().simple());
    tracing::info!(worker = %name, concurrency, "worker starting");
    let queue_worker = handoff::QueueWorker::default();
    let grace = Duration::from_secs(w.shutdown_grace_secs);
    let offers = sluice_shared::handoff::offer_window(&config).map(|_| {
        tokio::spawn(handoff::serve(
            state.clone(),
            queue_worker.clone(),
            grace,
            shutdown.clone(),
        ))
    });
    // Title jobs (`title_job.rs`): their own queue in the same table, two at a time beside the
    // chat worker (a title is a nicety: it never takes a slot from an answer), woken by
    // LISTEN/NOTIFY like the chat queue, the heartbeat the safety net.
    let titles = {
        let (state, pool, name) = (state.clone(), pool.clone(), format!("{name}-titles"));
        let queue = queue.clone().queue(TITLE_QUEUE).batch_size(2);
        move |restarts| {
            let storage = PostgresStorage::<TitleJob>::new(&pool).with_config(queue.clone());
            let notifications = apalis_postgres::Pubsub::new(pool.clone(), TITLE_QUEUE.to_string());
            let wakeups = StreamStrategy::new(wakeup::WithEcho::new(notifications.map(|_| ())));
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(PollWith::new(storage, wakeups))
                .concurrency(2)
                .catch_panic()
                .enable_tracing()
                .parallelize(tokio::spawn)
                .data(state.clone())
                .build(title_job::title_job)
        }
    };
    Monitor::new()
        .register(titles)
        .register(move |restarts| {
            let worker_name = format!("{name}-{restarts}");
            queue_worker.set(&worker_name);
            // Jobs no worker took from an offer (`handoff.rs`), and retries: LISTEN/NOTIFY wakes
            // the worker when one becomes due, and so does a slot freeing (a job may be waiting
            // for one); the heartbeat also fetches, which covers a notification lost while the
            // listener reconnects.
            let storage = PostgresStorage::<ChatJob>::new(&pool).with_config(queue.clone());
            let notifications = apalis_postgres::Pubsub::new(pool.clone(), CHAT_QUEUE.to_string());
            let freed = futures::stream::unfold(state.slot_freed.clone(), |freed| async move {
                freed.notified().await;
                Some(((), freed))
            });
            let wakeups = futures::stream::select(notifications.map(|_| ()), freed.boxed());
            let wakeups = StreamStrategy::new(wakeup::WithEcho::new(wakeups));
            let backend = PollWith::new(storage, wakeups);
            // A restarted worker takes a new name: jobs the failed one held are re-enqueued
            // once its heartbeat lapses, like a crashed worker's.
            // The process's one limit (shared with offers): apalis asks its backend for the
            // next job only once this layer is ready, i.e. a slot is free.
            let slots = GlobalConcurrencyLimitLayer::with_semaphore(state.slots.clone());
            WorkerBuilder::new(worker_name)
                .backend(backend)
                .layer(slots)
                .catch_panic()
                .enable_tracing()
                .parallelize(tokio::spawn)
                .data(state.clone())
                .build(chat_job::chat_job)
        })
        // apalis ends a worker for good when one of its queries fails (Postgres restarting, the
        // pool timing out): start it again. Each start waits for a connection (up to the
        // pool's acquire timeout), so an outage does not spin.
        .should_restart(|worker, error| {
            tracing::error!(worker = %worker.name(), %error, "queue worker failed; restarting it");
            true
        })
        .shutdown_timeout(grace)
        .run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
        .await?;
    if let Some(offers) = offers {
        match offers.await {
            Ok(Err(e)) => tracing::error!(error = %e, "job offers stopped"),
            Err(e) => tracing::error!(error = %e, "job offers panicked"),
            Ok(Ok(())) => {}
        }
    }
    sweeper.abort();
    title_sweeper.abort();
    tracing::info!("worker stopped");
    Ok(())
}
