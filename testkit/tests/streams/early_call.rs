//! The provider call opens while the worker's claim runs (`worker/src/chat_job/early.rs`):
//! with the claim held up, the upstream already has the request; once the claim goes through,
//! that one call serves the answer. When the claim finds the answer over, the early call is
//! aborted and nothing is published.

use std::time::Duration;

use sluice_testkit::{
    Options, TestApp,
    fake_openai::{FakeOpenAi, Fault},
    sse::answer_text,
    wait, with_fake_openai,
};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

/// An answer whose claim is held up (every write to `messages` waits on a table lock) while a
/// worker has started on it and the upstream already has its request.
struct HeldClaim {
    app: TestApp,
    token: String,
    conversation: uuid::Uuid,
    sent: sluice_shared::dto::SentOut,
    /// Commit it to let the claim through.
    held: sqlx::PgConnection,
    shutdown: CancellationToken,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl HeldClaim {
    /// A stack with no worker while the question is sent (its job waits in the queue), then
    /// the writes held and a worker started.
    async fn start(fake: &FakeOpenAi, question: &str) -> Self {
        let app = TestApp::spawn_with(Options {
            in_process_worker: false,
            ..with_fake_openai(fake)
        })
        .await;
        let token = app.guest().await;
        let conversation = app.create_conversation(&token).await;
        let sent = app.send(&token, conversation, question).await;
        let url = secrecy::ExposeSecret::expose_secret(&app.config.database_url).to_string();
        let mut held = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE messages IN SHARE MODE")
            .execute(&mut held)
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let worker = tokio::spawn(sluice_worker::run(app.config.clone(), shutdown.clone()));
        wait::until(
            "the upstream got the request",
            Duration::from_secs(15),
            || async { fake.requests() },
            |n| *n == 1,
        )
        .await;
        Self {
            app,
            token,
            conversation,
            sent,
            held,
            shutdown,
            worker,
        }
    }

    fn answer(&self) -> uuid::Uuid {
        self.sent.assistant_message.id
    }

    async fn status(&self) -> String {
        sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
            .bind(self.answer())
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    async fn release(&mut self) {
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.held)
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.worker.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_upstream_has_the_request_before_the_claim_and_one_call_serves_the_answer() {
    let fake = FakeOpenAi::start(8, Duration::from_millis(2)).await;
    let mut claim = HeldClaim::start(&fake, "be quick").await;
    // The claim has not gone through: the answer is still queued.
    assert_eq!(claim.status().await, "queued");

    claim.release().await;
    let events = claim
        .app
        .read_to_end(&claim.token, &claim.sent.stream_url)
        .await;
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    assert!(!answer_text(&events).is_empty());
    assert_eq!(fake.requests(), 1, "the early call served the answer");
    assert_eq!(claim.status().await, "done");
    claim.stop().await;
}

#[tokio::test]
async fn an_answer_over_before_its_claim_aborts_the_early_call_and_publishes_nothing() {
    // Headers, then silence: the early call is still open when the claim settles.
    let fake = FakeOpenAi::start(8, Duration::from_millis(2)).await;
    fake.push_fault(Fault::Stall);
    let mut claim = HeldClaim::start(&fake, "never mind").await;
    // The answer ends (as a cancel of a queued answer does) before the claim gets to it.
    sqlx::query("UPDATE messages SET status = 'cancelled', completed_at = now() WHERE id = $1")
        .bind(claim.answer())
        .execute(&mut claim.held)
        .await
        .unwrap();
    claim.release().await;

    fake.wait_for_disconnected(1).await;
    assert_eq!(fake.requests(), 1);
    assert_eq!(claim.status().await, "cancelled");
    let app = &claim.app;
    let subjects = sluice_shared::subjects::Subjects::new(&app.config.nats_prefix);
    let events = async_nats::jetstream::new(app.nats.clone())
        .get_stream(subjects.stream_name())
        .await
        .unwrap();
    let published = events
        .direct_get_last_for_subject(subjects.message(claim.conversation, claim.answer()))
        .await;
    assert!(published.is_err(), "nothing was published for the answer");
    claim.stop().await;
}
