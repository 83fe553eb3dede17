//! The `sluice-api` process: `serve` (the default) serves the API; `migrate` applies database
//! migrations and exits; `rotate-master-key` re-wraps every stored provider key under the
//! current `secrets.master_key` and exits. Start-up and exit codes: `sluice_shared::process`.

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
            Some("rotate-master-key") => tokio::select! {
                rotated = rotate_master_key(&started.config) => rotated,
                () = started.shutdown.cancelled() => Err(anyhow::anyhow!("stopped before every key was re-wrapped; run it again to go on")),
            },
            Some(other) => Err(UsageError(format!(
                "unknown command {other:?} (use `serve`, `migrate` or `rotate-master-key`)"
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

/// Re-wraps every provider key under the current master key (resumable: each batch commits).
async fn rotate_master_key(config: &Config) -> anyhow::Result<()> {
    let keys = sluice_shared::envelope::MasterKeys::from_config(&config.secrets)?
        .ok_or_else(|| UsageError("rotate-master-key needs secrets.master_key set".into()))?;
    let pool = db::connect(config).await?;
    let moved = crate::provider_keys::store::rotate_master_key(&pool, &keys).await?;
    println!(
        "{moved} provider keys re-wrapped; every key is now under master key {:?}",
        keys.current_id()
    );
    Ok(())
}
