//! The real API process, built inside `testkit` so its tests can start (and SIGKILL) it, as
//! they do the worker.
fn main() -> std::process::ExitCode {
    sluice_api::cli::main()
}
