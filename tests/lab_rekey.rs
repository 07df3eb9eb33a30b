//! Lab test (root, netlab): SIGHUP after a changed `authkeys` puts the new key in use
//! (behaviour spec §4.12, §8.6). Both nodes get `auth 2` with keys 1 and 2 and a SIGHUP;
//! every packet captured afterwards must be signed with key 2 and nobody may be declared
//! dead. Session: `scripts/lab-daemon-life BINARY rekey` (about 10 s).
//!
//! Run by `scripts/test` as root with the other lab suites.
//!
//!     cargo test --test lab_rekey -- --ignored --nocapture
#![allow(clippy::disallowed_methods)] // runs the lab script

use std::process::Command;

#[test]
#[ignore = "needs root and netlab; run with --ignored"]
fn sighup_with_new_authkeys_signs_with_the_new_key() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the lab needs root");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab-daemon-life");
    let out = Command::new(script)
        .args([env!("CARGO_BIN_EXE_heartbeat"), "rekey"])
        .output()
        .expect("run scripts/lab-daemon-life");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    if text.starts_with("SKIP") {
        return;
    }
    assert!(out.status.success(), "the lab scenario failed:\n{text}");
    assert!(text.contains("RESULT rekey PASS"), "{text}");
}
