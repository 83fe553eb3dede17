//! The real API as a process of its own, built inside `testkit` so its tests can start (and
//! SIGKILL) it, as they do the worker. Configured by `SLUICE_*` like `sluice-api`.
use std::{process::ExitCode, sync::Arc};

use sluice_shared::{Config, config::LogFormat, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("sluice-test-api: {e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = telemetry::init(LogFormat::Text, None, "sluice-test-api");
    let Ok(listener) = tokio::net::TcpListener::bind(config.listen).await else {
        eprintln!("sluice-test-api: cannot listen on {}", config.listen);
        return ExitCode::FAILURE;
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(telemetry::cancel_on_signal(shutdown.clone()));
    match sluice_api::run(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice-test-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}
