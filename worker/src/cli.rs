//! The `sluice-worker` process. Start-up and exit codes: `sluice_shared::process`.

use std::process::ExitCode;

use sluice_shared::process::{self, Started};

pub fn main() -> ExitCode {
    process::main("sluice-worker", |started: Started| {
        crate::run(started.config, started.shutdown)
    })
}
