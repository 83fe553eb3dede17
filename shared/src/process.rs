//! How a Sluice process starts and exits, the same for `sluice-api` and `sluice-worker`: the
//! async runtime, configuration from the environment, telemetry, the shutdown signal, and exit
//! codes — 0 when it ran, 1 when it failed, 2 for a bad configuration or command line.

use std::{fmt, future::Future, process::ExitCode, sync::Arc};

use tokio_util::sync::CancellationToken;

use crate::{Config, telemetry};

/// What a process was started with.
pub struct Started {
    pub config: Arc<Config>,
    /// The first command-line argument, if any (`serve`, `migrate`).
    pub command: Option<String>,
    /// Cancelled on Ctrl-C or SIGTERM.
    pub shutdown: CancellationToken,
}

/// A command line the process does not understand: exit code 2, like a bad configuration.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Runs the process `name` (as logs and traces name it): `run` gets what it was started with.
pub fn main<F, Fut>(name: &'static str, run: F) -> ExitCode
where
    F: FnOnce(Started) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        eprintln!("{name}: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        let config = match Config::load() {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::from(2);
            }
        };
        let _telemetry = telemetry::init(config.log_format, config.otel_endpoint.as_deref(), name);
        let shutdown = CancellationToken::new();
        tokio::spawn(telemetry::cancel_on_signal(shutdown.clone()));
        let started = Started {
            config,
            command: std::env::args().nth(1),
            shutdown,
        };
        match run(started).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.is::<UsageError>() => {
                eprintln!("{name}: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("{name}: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
