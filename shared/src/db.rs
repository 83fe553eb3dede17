//! The Postgres pool and migrations (ours, then apalis's queue tables in schema `apalis`).

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::{
    Connection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::Config;

/// Our own migrations (`migrations/`), recorded in `public._sqlx_migrations`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A connection idle longer than this is pinged before it is handed out (it may have been cut
/// by a Postgres restart or a proxy). Busier ones are not: sqlx's default pings on every
/// acquire, a round trip that doubled the server wake-ups of every hot statement.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub async fn connect(config: &Config) -> Result<PgPool, sqlx::Error> {
    connect_counting(config, metrics::Counter::noop()).await
}

/// `connect`, counting every connection the pool opens in `opened` (after the first ones, each
/// is a reconnect: the pool opens connections as it needs them, and again after an outage).
pub async fn connect_counting(
    config: &Config,
    opened: metrics::Counter,
) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = config.database_url.expose_secret().parse()?;
    // Our hot statements bind arrays (one element per batched item). For those Postgres keeps
    // re-planning a custom plan per call (0.1–0.2 ms, more than some of them take to run)
    // instead of reusing its generic plan. Every statement here finds rows by key, where the
    // generic plan is the same plan.
    let options = options.options([("plan_cache_mode", "force_generic_plan")]);
    pool_options(config.database_max_connections)
        .after_connect(move |_, _| {
            opened.increment(1);
            Box::pin(async { Ok(()) })
        })
        .connect_with(options)
        .await
}

/// A pool of one connection, on `pool`'s server, for one batched statement
/// (`sluice_shared::batch`). Its batcher runs one statement at a time anyway, and meeting the
/// same server process every time keeps that process's caches warm: from a shared pool each
/// run woke whichever connection had idled longest.
///
/// Its connection is never shared, so waiting for it only ever means waiting for Postgres:
/// a short acquire timeout makes an outage answer within a second (`batch` then fails fast).
pub fn dedicated(pool: &PgPool) -> PgPool {
    pool_options(1)
        .acquire_timeout(DEDICATED_ACQUIRE_TIMEOUT)
        .connect_lazy_with((*pool.connect_options()).clone())
}

const DEDICATED_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `e` says the database cannot be reached (an outage, answered 503), as opposed to a
/// statement that failed on a working database (a bug or a conflict).
pub fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        // Class 08: connection exceptions; 57P01–57P03: the server is shutting down or starting.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Applies our migrations, then apalis's, then our triggers on its tables. apalis records
/// its history in `apalis._sqlx_migrations` (its `sqlx.toml`), ours in
/// `public._sqlx_migrations`, so the two never collide. Our first migration creates the
/// `hstore` extension apalis needs.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    apalis_postgres::PostgresStorage::setup(pool).await?;
    crate::queue::install_triggers(pool).await?;
    Ok(())
}
