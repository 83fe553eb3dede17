use std::sync::Arc;

use sluice_shared::{Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::init();
    let config = match Config::load() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("sluice-worker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(sluice_shared::telemetry::cancel_on_signal(shutdown.clone()));
    match sluice_worker::run(config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice-worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
