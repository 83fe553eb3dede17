//! The `sluice-worker` process: configuration from the environment, stop on Ctrl-C/SIGTERM.

use std::{process::ExitCode, sync::Arc};

use sluice_shared::{Config, telemetry};
use tokio_util::sync::CancellationToken;

pub fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("sluice-worker: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let config = match Config::load() {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("sluice-worker: {e}");
                return ExitCode::from(2);
            }
        };
        let _telemetry = telemetry::init(
            config.log_format,
            config.otel_endpoint.as_deref(),
            "sluice-worker",
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(telemetry::cancel_on_signal(shutdown.clone()));
        match crate::run(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sluice-worker: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
