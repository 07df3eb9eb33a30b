//! Lab tests (netlab, root): our resource scripts and send_arp inside a lab node, seen from
//! the lab's client. One lab at a time per machine: every session holds
//! /tmp/netlab.lock (flock, which also serialises the tests of this binary); the lab is
//! always taken down (guard), also on failure. Skips with a message when not root, when
//! netlab is missing, or when a lab not ours is up. `#[ignore]`d: run as root with
//! `cargo test --test lab_resources -- --ignored --test-threads=1` (scripts/test does).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
#[path = "common/lab.rs"]
mod lab;

use lab::{Lab, VIP, text};

const ROOT: &str = "/tmp/hb-lab-rsc";
const NODE1_MAC: &str = "02:48:42:00:00:0b";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `netlab exec NODE sh -c SCRIPT`, with our scripts and send_arp at hand.
fn sh(lab: &Lab, node: &str, script: &str) -> Output {
    let prelude = format!(
        "R={rd}; export HA_SEND_ARP={sa} HA_RSCTMP=/run/resource-agents \
         HA_LOGFILE=/var/log/ha-log HA_DEBUGLOG=/var/log/ha-debug \
         HA_DATEFMT='%Y/%m/%d_%T\t'\n",
        rd = repo().join("resource.d").display(),
        sa = env!("CARGO_BIN_EXE_send_arp"),
    );
    lab.run(&["exec", node, "sh", "-c", &format!("{prelude}{script}")])
}

/// The probe starts before the address exists: the first reply can only come after our
/// gratuitous ARP (or the client's own ARP request) taught the client the MAC.
///
/// `watch_secs`: probe that long instead of stopping at the first reply, for scripts that
/// send their ARPs in the background (the client's own ARP request may win the race).
fn probe_sees_gratuitous_arp_and_replies(lab: &Lab, start: &str, watch_secs: Option<u32>) {
    let probe = match watch_secs {
        Some(s) => lab.probe(VIP, s, None),
        None => lab.probe(VIP, 20, Some("node1")),
    };
    let out = sh(lab, "node1", start);
    assert!(out.status.success(), "{}", text(&out));
    let seen = probe.finish();
    let p = seen.text();
    eprintln!("{p}");
    assert!(seen.reached, "no reply from node1: {p}");
    assert!(
        p.contains(&format!("ARP {VIP} is-at {NODE1_MAC} (node1) gratuitous")),
        "no gratuitous ARP seen: {p}"
    );
    assert!(
        p.contains(&format!("UP {VIP} via {NODE1_MAC} (node1)")),
        "{p}"
    );
}

#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_ipaddr_scripts_move_the_address_and_announce_it() {
    let Some(lab) = Lab::up(ROOT, &["1"]) else {
        return;
    };
    // IPaddr: add, announce; status; idempotent start; stop; status.
    probe_sees_gratuitous_arp_and_replies(&lab, &format!("$R/IPaddr {VIP}/24/eth0 start"), Some(3));
    let out = sh(
        &lab,
        "node1",
        &format!(
            "$R/IPaddr {VIP}/24/eth0 status; $R/IPaddr {VIP}/24/eth0 start >/dev/null; \
             ip -o -4 addr show dev eth0 | grep -c ' {VIP}/24 '; \
             $R/IPaddr {VIP}/24/eth0 stop; $R/IPaddr {VIP}/24/eth0 status; \
             ip -o -4 addr show dev eth0 | grep -c ' {VIP}/' ; true"
        ),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "INFO:  Running OK\n1\nINFO:  Success\nINFO:  Resource is stopped\n0\n",
        "{}",
        text(&out)
    );
    // heartbeat's log layout, in the node's own /var/log
    let log = std::fs::read_to_string(lab.root.join("node1/log/ha-log")).unwrap_or_default();
    assert!(log.contains(&format!("  IPaddr(IPaddr_{VIP})[")), "{log}");

    // IPaddr2 with the interface and netmask found from the routes.
    probe_sees_gratuitous_arp_and_replies(&lab, &format!("$R/IPaddr2 {VIP} start"), Some(3));
    let out = sh(&lab, "node1", &format!("$R/IPaddr2 {VIP} stop"));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_send_arp_with_resource_agents_arguments() {
    let Some(lab) = Lab::up(ROOT, &["1"]) else {
        return;
    };
    // The address is added by hand; only our send_arp (called the way resource-agents'
    // IPaddr calls heartbeat's) can make the client's probe see a gratuitous ARP.
    probe_sees_gratuitous_arp_and_replies(
        &lab,
        &format!(
            "ip addr add {VIP}/24 dev eth0 && \"$HA_SEND_ARP\" -i 100 -r 5 \
             -p /run/send_arp-{VIP} eth0 {VIP} auto {VIP} ffffffffffff && \
             test ! -e /run/send_arp-{VIP}"
        ),
        None,
    );
}

#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_filesystem_on_a_loop_image() {
    let Some(lab) = Lab::up(ROOT, &["1"]) else {
        return;
    };
    let img = lab.root.join("node1/var-lib-heartbeat/fs.img");
    lab::make_ext4_image(&img, 16 << 20);
    // One exec: each `netlab exec` has a private mount namespace of its own.
    let out = sh(
        &lab,
        "node1",
        "I=/var/lib/heartbeat/fs.img; M=/mnt/hbrs-data
         $R/Filesystem $I $M ext4 status
         $R/Filesystem $I $M ext4 start
         $R/Filesystem $I $M ext4 status
         echo data > $M/file
         $R/Filesystem $I $M ext4 stop
         $R/Filesystem $I $M ext4 status
         $R/Filesystem $I $M ext4 start >/dev/null; cat $M/file
         $R/Filesystem $I $M ext4 stop >/dev/null; losetup -j $I | wc -l",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "INFO:  Resource is stopped\nINFO:  Success\nINFO:  Running OK\nINFO:  Success\n\
         INFO:  Resource is stopped\ndata\n0\n",
        "{}",
        text(&out)
    );
    assert!(Path::new(&img).exists());
}

/// The point of the gratuitous ARP: the client already has node1's MAC cached for the
/// address; after node1 dies and node2 starts IPaddr2, the client must switch to node2's
/// MAC at once (without it, only when its ARP entry goes stale, tens of seconds later).
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_takeover_moves_the_clients_arp_entry_to_the_new_node() {
    let Some(lab) = Lab::up(ROOT, &["2"]) else {
        return;
    };
    probe_sees_gratuitous_arp_and_replies(&lab, &format!("$R/IPaddr2 {VIP}/24/eth0 start"), None);
    let crash = lab.run(&["crash", "node1"]);
    assert!(crash.status.success(), "{}", text(&crash));

    let probe = lab.probe(VIP, 20, Some("node2"));
    let t0 = lab::epoch();
    let out = sh(&lab, "node2", &format!("$R/IPaddr2 {VIP}/24/eth0 start"));
    assert!(out.status.success(), "{}", text(&out));
    let seen = probe.finish();
    let p = seen.text();
    eprintln!("{p}");
    assert!(seen.reached, "the client never reached node2: {p}");
    let node2 = "02:48:42:00:00:0c";
    assert!(
        p.contains(&format!("ARP {VIP} is-at {node2} (node2) gratuitous")),
        "{p}"
    );
    let up = seen.first_up_via("node2").expect("UP line");
    // Figure for the report: script start to the client's first reply from node2.
    eprintln!(
        "FIGURE: IPaddr2 start on node2 -> client reaches node2: {:.3} s",
        up - t0
    );
    assert!(up - t0 < 5.0, "took {:.3} s", up - t0);
}
