//! `heartbeat --check-config` and `heartbeat -D`.

use std::process::ExitCode;

use super::Options;

pub fn run(_opts: &Options) -> ExitCode {
    eprintln!("heartbeat: --check-config is not implemented yet");
    ExitCode::from(super::EXIT_NOT_CONFIGURED)
}
