//! Lab tests (root, netlab) of the daemon on a real OS, what `tests/daemon_loopback.rs`
//! cannot see on `lo`. Each is one session of `scripts/lab-daemon-life` (it holds
//! `/tmp/netlab.lock`, uses `NETLAB_ROOT=/tmp/hb-lab-life`, always runs `netlab down`):
//!
//! * `life` (about 25 s): `heartbeat -s` (3 / 0 / 1), syslog and logfile lines in
//!   heartbeat's layouts, a partitioned LAN reported while the other keeps the cluster up,
//!   `-r` (unchanged, broken ha.cf, not running), `-k` returning only once the address is
//!   released and the daemon gone.
//! * `rekey` (about 15 s): SIGHUP after a changed `authkeys` puts the new key in use
//!   (behaviour spec §4.12, §8.6). Both nodes get `auth 2` with keys 1 and 2 and a SIGHUP,
//!   captured from before the change and parsed as netstrings: once a node signs a
//!   datagram with key 2, none after it may carry key 1 (retransmissions included), and
//!   nobody may be declared dead.
//!
//!     cargo test --test lab_daemon_life -- --ignored --nocapture --test-threads=1
#![allow(clippy::disallowed_methods)] // runs the lab script

use std::process::Command;

/// Runs one scenario of `scripts/lab-daemon-life` and checks its `RESULT` line.
fn scenario(name: &str) {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the lab needs root");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab-daemon-life");
    let out = Command::new(script)
        .args([env!("CARGO_BIN_EXE_heartbeat"), name])
        .output()
        .expect("run scripts/lab-daemon-life");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    if text.starts_with("SKIP") {
        return;
    }
    assert!(out.status.success(), "the lab scenario failed:\n{text}");
    assert!(text.contains(&format!("RESULT {name} PASS")), "{text}");
}

#[test]
#[ignore = "needs root and netlab (iproute2, nftables, socat, python3); run with --ignored"]
fn process_life_media_and_logging_in_the_lab() {
    scenario("life");
}

#[test]
#[ignore = "needs root and netlab; run with --ignored"]
fn sighup_with_new_authkeys_signs_with_the_new_key() {
    scenario("rekey");
}
