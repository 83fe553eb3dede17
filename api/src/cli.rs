//! The `sluice-api` process: `serve` (the default) serves the API; `migrate` applies database
//! migrations and exits. Start-up and exit codes: `sluice_shared::process`.

use std::{process::ExitCode, sync::Arc};

use sluice_shared::{
    Config, db,
    process::{self, Started, UsageError},
};
use tokio_util::sync::CancellationToken;

pub fn main() -> ExitCode {
    process::main("sluice-api", |started: Started| async move {
        match started.command.as_deref() {
            None | Some("serve") => serve(started.config, started.shutdown).await,
            // The signal handler is installed for every command: a migration waiting on a
            // lock must still stop on Ctrl-C / SIGTERM.
            Some("migrate") => tokio::select! {
                migrated = migrate(&started.config) => migrated,
                () = started.shutdown.cancelled() => Err(anyhow::anyhow!("stopped before the migrations finished")),
            },
            Some(other) => Err(UsageError(format!(
                "unknown command {other:?} (use `serve` or `migrate`)"
            ))
            .into()),
        }
    })
}

async fn serve(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    crate::run(config, listener, shutdown).await
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let pool = db::connect(config).await?;
    db::migrate(&pool).await?;
    println!("migrations applied");
    Ok(())
}
