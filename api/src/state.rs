//! The one `Clone` state every handler takes: cheap handles only.

use std::sync::Arc;

use async_nats::jetstream;
use sluice_shared::{Config, batch::Batcher, subjects::Subjects};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{
        extractor::LiveSessions,
        rate_limit::{AccountLimiter, AuthLimiter},
        tokens::JwtKeys,
    },
    messages::enqueue::InsertPairs,
    stream::hub::Hub,
};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    /// Handle on the events stream (Direct Get, consumers).
    pub events: jetstream::stream::Stream,
    pub subjects: Subjects,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    /// Per-IP limit on the auth routes.
    pub auth_limiter: AuthLimiter,
    /// Per-account limit on password sign-in.
    pub login_limiter: AccountLimiter,
    /// HTTP client for OAuth providers.
    pub oauth_http: reqwest::Client,
    /// Sends of concurrent requests, stored by shared statements.
    pub enqueues: Batcher<InsertPairs>,
    /// Session checks of concurrent requests, made by shared statements.
    pub live_sessions: Batcher<LiveSessions>,
    /// The process-wide live feed SSE responses wait on.
    pub hub: Arc<Hub>,
    /// Changes whenever the NATS connection is made again (requests in flight are lost).
    pub nats_reconnected: tokio::sync::watch::Receiver<u64>,
    /// What `/metrics` on `metrics_listen` shows.
    pub metrics: Arc<crate::metrics::ApiMetrics>,
    /// Whether jobs this API handed to the queue may still wait there (said in each offer).
    pub saturation: Arc<sluice_shared::saturation::Saturation>,
    /// Seals users' provider keys; `None` when `[secrets]` sets no master key.
    pub master_keys: Option<Arc<sluice_shared::envelope::MasterKeys>>,
    /// Where attachments are kept (`[files]`).
    pub files: Arc<dyn object_store::ObjectStore>,
    /// Generic durable streams (`/v1/stream/…`): their JetStream log and live readers.
    pub durable: Arc<crate::durable_streams::DurableStreams>,
    /// Wakes the file clean-up job (after a delete).
    pub file_cleanup: Arc<tokio::sync::Notify>,
    /// Fires on shutdown: open SSE responses end cleanly.
    pub shutdown: CancellationToken,
}
