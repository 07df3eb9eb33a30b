//! Lab test (root, netlab): two heartbeat-rs daemons in network namespaces form a cluster
//! over bcast, ucast, mcast and serial; 192.0.2.100 ends up on node1; a graceful stop of
//! node1 hands it to node2. The session itself is `scripts/lab-daemon` (it holds
//! `/tmp/netlab.lock`, uses `NETLAB_ROOT=/tmp/hb-lab-daemon`, always runs `netlab down`, and
//! replaces the reboot action with `/bin/true`). One test, so lab sessions never overlap:
//!
//!     cargo test --test lab_daemon -- --ignored --nocapture
#![allow(clippy::disallowed_methods)] // runs the lab script

use std::process::Command;

#[test]
#[ignore = "needs root and netlab (iproute2, nftables, socat); run with --ignored"]
fn two_heartbeat_rs_nodes_form_a_cluster_over_every_medium() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the lab needs root");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab-daemon");
    let out = Command::new(script)
        .arg(env!("CARGO_BIN_EXE_heartbeat"))
        .output()
        .expect("run scripts/lab-daemon");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    if text.starts_with("SKIP") {
        return;
    }
    assert!(out.status.success(), "a lab scenario failed:\n{text}");
    for medium in ["bcast", "ucast", "mcast", "serial"] {
        assert!(
            text.contains(&format!("RESULT {medium} PASS")),
            "{medium}:\n{text}"
        );
    }
}
