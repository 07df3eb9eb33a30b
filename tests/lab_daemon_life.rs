//! Lab test (root, netlab): the daemon's process life, media and logging on a real OS, what
//! `tests/daemon_loopback.rs` cannot see on `lo`: `heartbeat -s` (3 / 0 / 1), syslog and
//! logfile lines in heartbeat's layouts, a partitioned LAN reported while the other keeps the
//! cluster up, `-r` (unchanged, broken ha.cf, not running), `-k` returning only once the
//! address is released and the daemon gone. The session is `scripts/lab-daemon-life` (it
//! holds `/tmp/netlab.lock`, uses `NETLAB_ROOT=/tmp/hb-lab-life`, always runs `netlab down`).
//! About 25 s.
//!
//!     cargo test --test lab_daemon_life -- --ignored --nocapture
#![allow(clippy::disallowed_methods)] // runs the lab script

use std::process::Command;

#[test]
#[ignore = "needs root and netlab (iproute2, nftables, socat, python3); run with --ignored"]
fn process_life_media_and_logging_in_the_lab() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the lab needs root");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab-daemon-life");
    let out = Command::new(script)
        .args([env!("CARGO_BIN_EXE_heartbeat"), "life"])
        .output()
        .expect("run scripts/lab-daemon-life");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    if text.starts_with("SKIP") {
        return;
    }
    assert!(out.status.success(), "the lab scenario failed:\n{text}");
    assert!(text.contains("RESULT life PASS"), "{text}");
}
