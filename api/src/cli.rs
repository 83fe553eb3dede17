//! The `sluice-api` process: `serve` (the default) serves the API; `migrate` applies database
//! migrations and exits. Configuration from the environment, stop on Ctrl-C/SIGTERM.

use std::{process::ExitCode, sync::Arc};

use sluice_shared::{Config, db, telemetry};
use tokio_util::sync::CancellationToken;

pub fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("sluice-api: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let config = match Config::load() {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("sluice-api: {e}");
                return ExitCode::from(2);
            }
        };
        let _telemetry = telemetry::init(
            config.log_format,
            config.otel_endpoint.as_deref(),
            "sluice-api",
        );
        let result = match std::env::args().nth(1).as_deref() {
            None | Some("serve") => serve(config).await,
            Some("migrate") => migrate(&config).await,
            Some(other) => {
                eprintln!("sluice-api: unknown command {other:?} (use `serve` or `migrate`)");
                return ExitCode::from(2);
            }
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sluice-api: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn serve(config: Arc<Config>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(telemetry::cancel_on_signal(shutdown.clone()));
    crate::run(config, listener, shutdown).await
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let pool = db::connect(config).await?;
    db::migrate(&pool).await?;
    println!("migrations applied");
    Ok(())
}
