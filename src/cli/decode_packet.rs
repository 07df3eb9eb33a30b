//! `heartbeat --decode-packet`: decode and verify one raw UDP payload.

use std::process::ExitCode;

use super::Options;

pub fn run(_opts: &Options) -> ExitCode {
    eprintln!("heartbeat: --decode-packet is not implemented yet");
    ExitCode::from(2)
}
