use std::process::ExitCode;

fn main() -> ExitCode {
    heartbeat_rs::cli::main(std::env::args_os())
}
