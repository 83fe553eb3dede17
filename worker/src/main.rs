fn main() -> std::process::ExitCode {
    sluice_worker::cli::main()
}
