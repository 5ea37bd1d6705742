fn main() -> std::process::ExitCode {
    datapump::cli::main()
}
