//! The Postgres pool and migrations (ours, then apalis's queue tables in schema `apalis`).

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::Config;

/// Our own migrations (`migrations/`), recorded in `public._sqlx_migrations`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

pub async fn connect(config: &Config) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(config.database_url.expose_secret())
        .await
}

/// Applies our migrations, then apalis's. apalis records its history in
/// `apalis._sqlx_migrations` (its `sqlx.toml`), ours in `public._sqlx_migrations`, so the two
/// never collide. Our first migration creates the `hstore` extension apalis needs.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    apalis_postgres::PostgresStorage::setup(pool).await?;
    Ok(())
}
