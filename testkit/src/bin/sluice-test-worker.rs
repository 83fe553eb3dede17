//! The real worker process, built inside `testkit` so its tests can start (and SIGKILL) it.
fn main() -> std::process::ExitCode {
    sluice_worker::cli::main()
}
