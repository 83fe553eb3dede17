//! The one `Clone` state every handler takes: cheap handles only.

use std::sync::Arc;

use async_nats::jetstream;
use sluice_shared::{Config, subjects::Subjects};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::auth::tokens::JwtKeys;

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
    /// Bounds concurrent consumer creations, so a reconnect storm cannot swamp NATS.
    pub attach_limit: Arc<Semaphore>,
    /// Fires on shutdown: open SSE responses end cleanly.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// The stream's last sequence: every event published after this call is above it.
    pub async fn events_last_seq(&self) -> anyhow::Result<u64> {
        Ok(self.events.get_info().await?.state.last_sequence)
    }
}
