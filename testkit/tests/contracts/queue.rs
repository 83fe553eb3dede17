//! The contract between our statements on apalis's tables (`sluice_shared::queue`) and
//! apalis-postgres itself: one test per statement, each failing if apalis changes under it.
//! Where apalis's side is needed, its own worker runs (`apalis_worker`), not a copy of its SQL.

use std::{sync::Arc, time::Duration};

use apalis::prelude::{BoxDynError, Data, WorkerBuilder};
use apalis_postgres::PostgresStorage;
use sluice_shared::{
    job::{CHAT_QUEUE, ChatJob},
    queue,
};
use sluice_testkit::{Options, TestApp, wait};
use sluice_worker::store::{Lease, Offered, Store};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What apalis's own worker does with each job it is handed.
struct Handler {
    handed: mpsc::UnboundedSender<Uuid>,
    pool: PgPool,
    /// Delete the job's row before returning, as our finish statement does.
    delete_own_row: bool,
}

async fn handle(job: ChatJob, handler: Data<Arc<Handler>>) -> Result<(), BoxDynError> {
    if handler.delete_own_row {
        sqlx::query("DELETE FROM apalis.jobs WHERE idempotency_key = $1")
            .bind(job.message_id.to_string())
            .execute(&handler.pool)
            .await?;
    }
    let _ = handler.handed.send(job.message_id);
    Ok(())
}

/// apalis's own worker on the chat queue, named `name`, heartbeat every 500 ms and presumed
/// dead after 2 s; reports the answer id of each job it is handed. Stops with the test.
fn apalis_worker(pool: &PgPool, name: &str, delete_own_row: bool) -> mpsc::UnboundedReceiver<Uuid> {
    let (handed, jobs) = mpsc::unbounded_channel();
    let config = apalis_postgres::Config::default()
        .queue(CHAT_QUEUE)
        .heartbeat_interval(Duration::from_millis(500))
        .missed_heartbeats(4);
    let handler = Arc::new(Handler {
        handed,
        pool: pool.clone(),
        delete_own_row,
    });
    let worker = WorkerBuilder::new(name)
        .backend(PostgresStorage::<ChatJob>::new(pool).with_config(config))
        .data(handler)
        .build(handle);
    tokio::spawn(async move {
        let _ = worker.run().await;
    });
    jobs
}

/// The next answer id apalis's worker is handed, within 10 s.
async fn next_handed(jobs: &mut mpsc::UnboundedReceiver<Uuid>) -> Uuid {
    tokio::time::timeout(Duration::from_secs(10), jobs.recv())
        .await
        .expect("apalis's worker was handed a job within 10 s")
        .expect("apalis's worker is running")
}

/// A stack with no worker of ours: apalis's, started by the test, is the only one.
async fn without_our_worker() -> TestApp {
    TestApp::spawn_with(Options {
        in_process_worker: false,
        ..Options::default()
    })
    .await
}

/// An answer waiting in the queue: (its message id, its job's row id).
async fn queued_answer(app: &TestApp, token: &str) -> (Uuid, String) {
    let conversation = app.create_conversation(token).await;
    let answer = app
        .send(token, conversation, "queue contract")
        .await
        .assistant_message
        .id;
    (answer, job_id(&app.pool, answer).await)
}

async fn job_id(pool: &PgPool, answer: Uuid) -> String {
    sqlx::query_scalar("SELECT id FROM apalis.jobs WHERE idempotency_key = $1")
        .bind(answer.to_string())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// (status, lock_by, attempts) of a job's row.
async fn job_state(pool: &PgPool, id: &str) -> Option<(String, Option<String>, i32)> {
    sqlx::query_as("SELECT status, lock_by, attempts FROM apalis.jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// A worker in `apalis.workers` as apalis's `register` writes it, last seen `ago` seconds ago
/// (registered, then silent: a registration is always stamped now).
async fn registered_worker(pool: &PgPool, name: &str, ago: i32) {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen)
         VALUES ($1, $2, 'PgStorage', '', now())",
    )
    .bind(name)
    .bind(CHAT_QUEUE)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE apalis.workers SET last_seen = now() - make_interval(secs => $2) WHERE id = $1",
    )
    .bind(name)
    .bind(ago as f64)
    .execute(pool)
    .await
    .unwrap();
}

/// Our claim of a handed-off job, leasing its row to `worker`.
async fn claim_offered(store: &Store, answer: Uuid, job_id: &str, worker: &str) {
    let lease = Lease {
        job_id: job_id.to_string(),
        worker: worker.to_string(),
    };
    // Without the queue check: the API may make an older test row due at any moment (its
    // offer found no worker), which would rightly make a checking claim decline.
    let claimed = store.claim_offered(answer, lease, false).await.unwrap();
    assert!(
        matches!(claimed, Offered::Claimed(_)),
        "the offer was claimed"
    );
}

/// `queue::make_due`: a row on offer (not yet due) becomes due and apalis's worker fetches it;
/// a row a worker leased and could not finish becomes `Failed` with one attempt spent, which
/// apalis's fetch takes again while attempts remain.
#[tokio::test]
async fn rows_made_due_are_fetched_by_apalis_s_worker() {
    let app = without_our_worker().await;
    let token = app.guest().await;
    let (on_offer, on_offer_job) = queued_answer(&app, &token).await;
    // As the API leaves an offered row: `Pending`, due only after the offer window.
    sqlx::query("UPDATE apalis.jobs SET run_at = now() + interval '1 hour' WHERE id = $1")
        .bind(&on_offer_job)
        .execute(&app.pool)
        .await
        .unwrap();
    let (leased, leased_job) = queued_answer(&app, &token).await;
    registered_worker(&app.pool, "failed-worker", 0).await;
    claim_offered(&Store::new(&app.pool), leased, &leased_job, "failed-worker").await;

    assert!(
        queue::make_due(&app.pool, &on_offer_job, None)
            .await
            .unwrap()
    );
    assert!(
        queue::make_due(&app.pool, &leased_job, Some("failed-worker"))
            .await
            .unwrap()
    );
    assert_eq!(
        job_state(&app.pool, &leased_job).await,
        Some(("Failed".into(), None, 1))
    );
    // A lease is only given back by the worker that holds it.
    assert!(
        !queue::make_due(&app.pool, &leased_job, Some("someone-else"))
            .await
            .unwrap()
    );

    let mut handed = apalis_worker(&app.pool, "apalis-own", false);
    let mut got = vec![
        next_handed(&mut handed).await,
        next_handed(&mut handed).await,
    ];
    got.sort();
    let mut want = vec![on_offer, leased];
    want.sort();
    assert_eq!(got, want);
}

/// `queue::lease` (in our claim): a handed-off row leased to a worker whose heartbeat stopped
/// is re-run by apalis's own recovery at once (the lease made it due), one attempt spent, like
/// a row apalis fetched itself; a row leased to a live worker is left to it.
#[tokio::test]
async fn a_lease_whose_worker_died_is_recovered_by_apalis_and_a_live_one_is_not() {
    let app = without_our_worker().await;
    let token = app.guest().await;
    let store = Store::new(&app.pool);
    let (orphan, orphan_job) = queued_answer(&app, &token).await;
    let (kept, kept_job) = queued_answer(&app, &token).await;
    // On offer, as the API leaves a row: not due until long after the offer window.
    sqlx::query("UPDATE apalis.jobs SET run_at = now() + interval '1 hour' WHERE id = ANY($1)")
        .bind(vec![orphan_job.clone(), kept_job.clone()])
        .execute(&app.pool)
        .await
        .unwrap();
    registered_worker(&app.pool, "dead-worker", 3600).await;
    registered_worker(&app.pool, "live-worker", 0).await;
    claim_offered(&store, orphan, &orphan_job, "dead-worker").await;
    claim_offered(&store, kept, &kept_job, "live-worker").await;
    for (job, worker) in [(&orphan_job, "dead-worker"), (&kept_job, "live-worker")] {
        assert_eq!(
            job_state(&app.pool, job).await,
            Some(("Running".into(), Some(worker.into()), 0)),
            "leased as apalis's fetch leaves a row"
        );
    }

    let mut handed = apalis_worker(&app.pool, "apalis-own", false);
    assert_eq!(next_handed(&mut handed).await, orphan);
    let (_, lock_by, attempts) = job_state(&app.pool, &orphan_job).await.unwrap_or_default();
    assert_ne!(lock_by.as_deref(), Some("dead-worker"));
    assert!(
        attempts >= 1,
        "the dead worker's attempt counts: {attempts}"
    );
    assert_eq!(
        job_state(&app.pool, &kept_job).await,
        Some(("Running".into(), Some("live-worker".into()), 0)),
        "a live worker's lease is its own"
    );
}

/// `queue::install_triggers`: when apalis's recovery puts a dead worker's job back in the
/// queue, the workers' channel hears of it at once (apalis's own trigger fires on inserts
/// only, and a recovered job would wait for some later due insert to be fetched).
#[tokio::test]
async fn a_job_recovered_from_a_dead_worker_wakes_the_workers() {
    let app = without_our_worker().await;
    let token = app.guest().await;
    let store = Store::new(&app.pool);
    let (answer, job) = queued_answer(&app, &token).await;
    registered_worker(&app.pool, "dying-worker", 0).await;
    claim_offered(&store, answer, &job, "dying-worker").await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&app.pool)
        .await
        .unwrap();
    listener.listen(queue::NOTIFY_CHANNEL).await.unwrap();
    let _apalis = apalis_worker(&app.pool, "apalis-own", false);
    // The lease holder stops beating; apalis's heartbeat (every 500 ms) recovers its job.
    sqlx::query("UPDATE apalis.workers SET last_seen = now() - interval '1 hour' WHERE id = $1")
        .bind("dying-worker")
        .execute(&app.pool)
        .await
        .unwrap();
    let woken = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = listener.recv().await.unwrap();
            let payload: serde_json::Value = serde_json::from_str(n.payload()).unwrap();
            if payload["id"] == job.as_str() {
                return payload;
            }
        }
    })
    .await
    .expect("the recovered job was announced on the workers' channel");
    assert_eq!(woken["job_type"], CHAT_QUEUE);
}

/// `queue::install_triggers`: apalis's `register` inserts the worker's row with `last_seen` in
/// whole seconds of the process's clock (up to a second old, as written here); the row says
/// the moment of the insert instead, so a worker that has just started is never presumed dead
/// before its first heartbeat.
#[tokio::test]
async fn a_worker_registers_as_seen_this_moment() {
    let app = without_our_worker().await;
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen)
         VALUES ('just-started', $1, 'PgStorage', '', now() - interval '900 milliseconds')",
    )
    .bind(CHAT_QUEUE)
    .execute(&app.pool)
    .await
    .unwrap();
    let age: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - last_seen)::float8 FROM apalis.workers
         WHERE id = 'just-started'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(age < 0.1, "registered {age} s ago");
}

/// `queue::spent` (in our finish) deletes a job's row before apalis acks it. apalis's ack
/// then updates nothing, and its worker carries on: every later job is still handed out.
#[tokio::test]
async fn apalis_s_worker_carries_on_when_the_rows_it_acks_were_deleted() {
    let app = without_our_worker().await;
    let token = app.guest().await;
    let mut handed = apalis_worker(&app.pool, "apalis-own", true);
    for _ in 0..3 {
        let (answer, _) = queued_answer(&app, &token).await;
        assert_eq!(next_handed(&mut handed).await, answer);
    }
    assert_eq!(app.queue_rows().await, 0);
}

#[tokio::test]
async fn finished_jobs_leave_the_queue_table_and_dead_ones_stay_a_week() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "sweep me").await;
    app.sse(&token, &sent.stream_url, None)
        .await
        .collect()
        .await;
    wait::until(
        "the done job to leave the queue table",
        Duration::from_secs(10),
        || app.queue_rows(),
        |rows| *rows == 0,
    )
    .await;
    assert_eq!(
        app.message(&token, sent.assistant_message.id).await["status"],
        "done"
    );

    // Dead jobs are kept for inspection, for a week; live ones are never touched, nor are
    // failed ones with attempts left (apalis fetches those again).
    for (id, status, attempts, age_days) in [
        ("dead-old", "Killed", 3, 8),
        ("dead-new", "Killed", 3, 1),
        ("failed-old", "Failed", 3, 8),
        ("pending", "Pending", 0, 8),
        ("queued", "Queued", 0, 8),
        ("retry", "Failed", 1, 8),
        ("running", "Running", 0, 8),
    ] {
        sqlx::query(
            "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, done_at)
             VALUES ('\\x00', $1, 'chat', $2, $3, 3, now() - make_interval(days => $4))",
        )
        .bind(id)
        .bind(status)
        .bind(attempts)
        .bind(age_days)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sluice_shared::queue::sweep(&app.pool, "chat")
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM apalis.jobs ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, ["dead-new", "pending", "queued", "retry", "running"]);
}

/// Two runs of one job (a worker presumed dead, its job handed out again) each get their own
/// attempt, even when their claims share a statement; the stale one finishing late changes
/// nothing: not the answer, and not the queue row its successor runs under (losing that row
/// would leave the answer unfinished if the successor crashed too). The successor's answer is
/// stored and its queue row goes with it.
#[tokio::test]
async fn a_stale_attempt_finishing_late_leaves_the_answer_and_queue_row_to_its_successor() {
    use sluice_shared::events::{Ending, Usage};
    use sluice_worker::store::{Finish, Finished, Timing};

    let app = TestApp::spawn_without_worker().await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "who owns this answer?").await;
    let id = sent.assistant_message.id;
    let store = Store::new(&app.pool);

    let (a, b) = tokio::join!(store.claim(id), store.claim(id));
    let mut attempts = [a.unwrap().unwrap().attempt, b.unwrap().unwrap().attempt];
    attempts.sort();
    assert_eq!(attempts, [1, 2]);

    let finish = |attempt, text: &str| Finish {
        message_id: id,
        attempt,
        content: text.into(),
        ending: Ending::Done {
            finish_reason: "stop".into(),
            usage: Usage {
                input_tokens: 3,
                output_tokens: 1,
            },
        },
        usage: Some(Usage {
            input_tokens: 3,
            output_tokens: 1,
        }),
        usage_estimated: false,
        cost_usd: None,
        provider: Some("demo"),
        timing: Timing {
            latency_ms: 5,
            ttft_ms: Some(1),
            start_seq: None,
        },
    };
    let queue_rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM apalis.jobs WHERE idempotency_key = $1")
            .bind(id.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert_eq!(
        store.finish(finish(1, "stale")).await.unwrap(),
        Finished::NotOwned
    );
    assert_eq!(queue_rows().await, 1, "the successor's queue row is kept");
    let answer = app.message(&token, id).await;
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("streaming"), Some(""))
    );

    assert!(matches!(
        store.finish(finish(2, "fresh")).await.unwrap(),
        Finished::Stored { .. }
    ));
    assert_eq!(
        queue_rows().await,
        0,
        "a stored answer's queue row is spent"
    );
    let answer = app.message(&token, id).await;
    assert_eq!(
        (answer["status"].as_str(), answer["content"].as_str()),
        (Some("done"), Some("fresh"))
    );
}

/// The API writes the answer's job into apalis's table itself, in the statement that stores the
/// messages. This pins that row to the one apalis's own `push_tasks` writes for the same task,
/// so an apalis upgrade that changes its table shows up here.
#[tokio::test]
async fn the_enqueue_statement_writes_the_row_apalis_itself_would() {
    use apalis::prelude::TaskBuilder;

    // No worker and no offer: with an offer nobody takes, the API makes the row due at once
    // (`queue::make_due` rewrites `run_at`), and this test pins the row the INSERT wrote.
    let app = TestApp::spawn_with(Options {
        in_process_worker: false,
        configure: Box::new(|c| c.worker.handoff_ms = 0),
    })
    .await;
    let token = app.guest().await;
    let conv = app.create_conversation(&token).await;
    let sent = app.send(&token, conv, "queue me").await;

    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct JobRow {
        id: String,
        job_type: String,
        job: Vec<u8>,
        status: String,
        attempts: i32,
        max_attempts: i32,
        run_at: chrono::DateTime<chrono::Utc>,
        priority: Option<i32>,
        metadata: Option<String>,
        idempotency_key: Option<String>,
    }
    let read = |queue: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, JobRow>(
                "SELECT id, job_type, job, status, attempts, max_attempts, run_at, priority,
                        metadata::text AS metadata, idempotency_key
                 FROM apalis.jobs WHERE job_type = $1",
            )
            .bind(queue)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let ours = read("chat").await;
    let job: serde_json::Value = serde_json::from_slice(&ours.job).unwrap();
    assert_eq!(job["message_id"], sent.assistant_message.id.to_string());
    assert_eq!(job["conversation_id"], conv.to_string());
    assert!(ours.id.parse::<ulid::Ulid>().is_ok(), "{}", ours.id);

    // The same task through apalis's own code path, into another queue.
    let task = TaskBuilder::new(ours.job.clone())
        .run_at_timestamp(ours.run_at.timestamp() as u64)
        .max_attempts(ours.max_attempts as usize)
        .idempotency_key(ours.idempotency_key.clone().unwrap())
        .build();
    let mut conn = app.pool.acquire().await.unwrap();
    apalis_postgres::queries::push_tasks(&mut *conn, "reference", vec![task])
        .await
        .unwrap();
    let reference = read("reference").await;
    assert_eq!(
        JobRow {
            id: reference.id.clone(),
            job_type: "reference".into(),
            ..ours
        },
        reference
    );
}
