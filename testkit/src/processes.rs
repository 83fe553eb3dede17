//! The stack's own processes (`sluice-test-worker`, `sluice-test-api`, the release binaries of
//! the bench), started with exactly a test's configuration.

use std::process::{Child, Command, Stdio};

use sluice_shared::Config;

use crate::{TestApp, services};

/// A process of the stack (`binary`) configured exactly as `config`: the whole configuration
/// as a file (`SLUICE_CONFIG`, beside the test services' data), its secrets — which the file
/// holds redacted — as environment variables. Logs go by `SLUICE_PROCESS_LOG` (a `RUST_LOG`
/// filter; `warn` unless set).
pub fn command(config: &Config, binary: &str) -> Command {
    let text = toml::to_string(config).expect("the config serializes as TOML");
    let secrets = config.secrets_as_env();
    // A secret the file holds redacted and no variable sets would reach the child as
    // "[redacted]": fail here, naming it.
    let mut table = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = format!("{}__", name.replace('.', "__"));
        } else if let Some((key, "\"[redacted]\"")) = line.split_once(" = ") {
            let variable = format!("SLUICE_{table}{key}").to_uppercase();
            assert!(
                secrets.iter().any(|(name, _)| *name == variable),
                "{variable} is not in Config::secrets_as_env"
            );
        }
    }
    // A file of its own per child, written whole before it starts: a child starting while
    // another's file is rewritten never reads half of one.
    let file = services::started()
        .dir()
        .join(format!("{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, text).expect("write the process's config file");
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "RUST_LOG",
            std::env::var("SLUICE_PROCESS_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("SLUICE_CONFIG", &file)
        .envs(secrets)
        .stdin(Stdio::null());
    command
}

impl TestApp {
    /// Starts a real worker process on this app's database and NATS prefix. Integration
    /// tests pass `env!("CARGO_BIN_EXE_sluice-test-worker")`.
    pub fn worker_process(&self, binary: &str) -> Child {
        self.worker_process_sized(binary, self.config.worker.concurrency)
    }

    /// The same, running `concurrency` answers at once.
    pub fn worker_process_sized(&self, binary: &str, concurrency: usize) -> Child {
        self.process(binary)
            .env("SLUICE_WORKER__CONCURRENCY", concurrency.to_string())
            .spawn()
            .expect("start worker process")
    }

    /// Starts a real API process on this app's database and NATS prefix, listening on `port`,
    /// reached by clients at `public_url` (every API behind one address must share it: it is
    /// the issuer of the tokens they accept from each other). Integration tests pass
    /// `env!("CARGO_BIN_EXE_sluice-test-api")`.
    pub fn api_process(&self, binary: &str, port: u16, public_url: &str) -> Child {
        self.process(binary)
            .env("SLUICE_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLUICE_PUBLIC_URL", public_url)
            .spawn()
            .expect("start API process")
    }

    /// A process of the stack, configured like this app.
    fn process(&self, binary: &str) -> Command {
        command(&self.config, binary)
    }
}
