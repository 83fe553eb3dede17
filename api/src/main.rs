//! `sluice-api` serves the API; `sluice-api migrate` applies database migrations and exits.
fn main() -> std::process::ExitCode {
    sluice_api::cli::main()
}
