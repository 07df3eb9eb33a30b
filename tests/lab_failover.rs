//! Lab tests (netlab, root): two heartbeat-rs nodes manage one resource group, and the lab's
//! client, probing the service address 192.0.2.100 every 10 ms, sees where it answers.
//!
//! The group (haresources):
//!
//!     node1 192.0.2.100/24/eth0 Filesystem::IMG::MNT::ext4 hbrs-svc
//!
//! an address, an ext4 loop image shared by both nodes (the "shared disk", in the lab
//! root), and `hbrs-svc`, a plain LSB init script (tests/fixtures/lab/hbrs-svc) that keeps a
//! sleeping process and can be told, per node, to fail its start or stop. Our resource.d
//! scripts and send_arp are installed in each node. Timings: keepalive 200 ms, warntime
//! 500 ms, deadtime 1 s, initdead 2 s. The reboot action is replaced by a recorder that
//! appends to the node's /var/log/hbrs-reboot.log.
//!
//! Every test holds the lab lock, uses `NETLAB_ROOT=/tmp/hb-lab-failover` and ends with
//! `netlab down`. `#[ignore]`d (root, netlab):
//!
//!     cargo test --test lab_failover -- --ignored --test-threads=1 --nocapture
//!
//! Checks through the control socket (`cl_status`, `hb_standby --wait`) run only when the
//! daemon serves `/run/heartbeat/hbrs-api`; until the event loop registers it they are
//! skipped with a `NOTE:` line, and hb_standby / hb_takeover go through the FIFO.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

mod common;
#[path = "common/lab.rs"]
mod lab;

use lab::{Pair, PairSetup, VIP, text, wait_for};

const ROOT: &str = "/tmp/hb-lab-failover";
const DEADTIME_S: f64 = 1.0;
/// The longest a crash failover may take before the test calls it broken (deadtime 1 s;
/// generous because CI machines are loaded and the scripts run in debug-built shells).
const FAILOVER_LIMIT_S: f64 = 6.0;
/// Same for a planned move (hb_standby / hb_takeover / failback).
const MOVE_LIMIT_S: f64 = 6.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The lab's two nodes with the group above.
struct Cluster {
    pair: Pair,
}

impl std::ops::Deref for Cluster {
    type Target = Pair;
    fn deref(&self) -> &Pair {
        &self.pair
    }
}

impl Cluster {
    fn new(auto_failback: &str) -> Option<Cluster> {
        let root = std::path::Path::new(ROOT);
        let group = format!(
            "node1 {VIP}/24/eth0 Filesystem::{img}::{mnt}::ext4 hbrs-svc",
            img = root.join("disk.img").display(),
            mnt = root.join("mnt").display()
        );
        let pair = Pair::up(
            ROOT,
            &PairSetup {
                resources: group,
                config: vec!["--auto-failback".into(), auto_failback.into()],
                ..PairSetup::default()
            },
        )?;
        std::fs::create_dir_all(root.join("mnt")).expect("mount point");
        lab::make_ext4_image(&root.join("disk.img"), 16 << 20);
        for node in ["node1", "node2"] {
            std::fs::copy(
                repo().join("tests/fixtures/lab/hbrs-svc"),
                pair.lab.node_dir(node).join("etc-ha.d/resource.d/hbrs-svc"),
            )
            .expect("copy hbrs-svc");
        }
        Some(Cluster { pair })
    }

    /// Starts both nodes and waits until each sees the other active and the group runs on
    /// `holder`.
    fn start_both(&self, holder: &str) {
        self.pair.start_both();
        self.wait_group_on(holder, &[other(holder)]);
    }

    /// Runs a tool of ours inside `node` (through the control socket, else the FIFO).
    fn tool(&self, node: &str, argv: &[&str]) -> Output {
        let prog = self.tool_path(argv[0]);
        let mut args = vec!["exec", node, prog.as_str()];
        args.extend_from_slice(&argv[1..]);
        self.lab.run(&args)
    }

    /// Whether `node`'s daemon serves the control socket (`cl_status` works).
    fn has_control_socket(&self, node: &str) -> bool {
        self.lab
            .node_dir(node)
            .join("run/heartbeat/hbrs-api")
            .exists()
    }

    fn mounted(&self, node: &str) -> bool {
        // The mount lives in the daemon's own mount namespace (netlab gives each node's
        // daemon a private one; its scripts inherit it).
        let Some(pid) = self.lab.daemon_pid(node) else {
            return false;
        };
        let mnt = format!(" {} ", self.lab.root.join("mnt").display());
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&mnt))
    }

    fn service_running(&self, node: &str) -> bool {
        let out = self
            .lab
            .run(&["exec", node, "/etc/ha.d/resource.d/hbrs-svc", "status"]);
        out.status.success()
    }

    fn owner(&self) -> String {
        self.lab.owner(VIP)
    }

    /// Waits until the whole group runs on `holder` (address, mount, service), then checks
    /// that none of it is on the `others` (running nodes only).
    fn wait_group_on(&self, holder: &str, others: &[&str]) {
        let complete = wait_for(Duration::from_secs(30), || {
            self.owner() == holder && self.mounted(holder) && self.service_running(holder)
        });
        assert!(
            complete,
            "group not complete on {holder}: owner {}, mounted {}, service {}\n{}",
            self.owner(),
            self.mounted(holder),
            self.service_running(holder),
            self.logs(40)
        );
        for &o in others {
            assert!(!self.mounted(o), "{o} has the file system mounted too");
            assert!(!self.service_running(o), "{o} runs the service too");
        }
        if self.has_control_socket(holder) {
            self.check_rscstatus(holder, others);
        }
    }

    /// Needs the control socket: `cl_status rscstatus` says the holder holds the set the
    /// group belongs to (node1's group: `local` on node1, `foreign` on node2, or `all`) and
    /// no other node does. A node without the group may still say `local`: heartbeat reports
    /// its own (here empty) set as held (fixture `cl_status/node2-standby.txt`).
    fn check_rscstatus(&self, holder: &str, others: &[&str]) {
        let held = |node: &str| {
            let out = self.tool(node, &["cl_status", "rscstatus"]);
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let settled = wait_for(Duration::from_secs(10), || {
            let group_set = |node: &str| if node == "node1" { "local" } else { "foreign" };
            let holds_group = |node: &str| {
                let h = held(node);
                h == "all" || h == group_set(node)
            };
            holds_group(holder) && others.iter().all(|o| !holds_group(o))
        });
        assert!(
            settled,
            "cl_status rscstatus: {holder} {:?}, others {:?}",
            held(holder),
            others.iter().map(|o| held(o)).collect::<Vec<_>>()
        );
    }

    /// Runs `trigger`, and returns how long the client took from then to its first reply
    /// from `to`; asserts it came.
    fn moves_to(&self, to: &str, what: &str, trigger: impl FnOnce()) -> f64 {
        let probe = self.lab.probe(VIP, 40, Some(to));
        let t0 = lab::epoch();
        trigger();
        let seen = probe.finish();
        assert!(
            seen.reached,
            "{what}: the client never got a reply from {to}:\n{}\n{}",
            seen.text(),
            self.logs(40)
        );
        let dt = seen.first_up_via(to).map_or(f64::NAN, |t| t - t0);
        eprintln!("FIGURE: {what}: client answered by {to} after {dt:.3} s");
        dt
    }

    fn crash(&self, node: &str) {
        self.lab.ok(&["crash", node]);
    }

    /// Sets or clears a fault of hbrs-svc on `node` (`start` or `stop`).
    fn inject(&self, node: &str, op: &str, on: bool) {
        let f = self
            .lab
            .node_dir(node)
            .join(format!("var-lib-heartbeat/hbrs-svc.fail-{op}"));
        if on {
            std::fs::write(&f, b"").expect("fault marker");
        } else {
            let _ = std::fs::remove_file(&f);
        }
    }
}

fn other(node: &str) -> &'static str {
    if node == "node1" { "node2" } else { "node1" }
}

fn assert_ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", text(o));
}

/// Crash of the holder → the peer answers; rejoin with auto_failback on → it returns;
/// hb_standby and hb_takeover move it both ways, from either node.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_crash_failback_standby_and_takeover_move_the_group() {
    let Some(c) = Cluster::new("on") else {
        return;
    };
    c.start_both("node1");

    let dt = c.moves_to("node2", "crash of node1", || c.crash("node1"));
    assert!(dt < FAILOVER_LIMIT_S, "failover took {dt:.3} s");
    assert!(
        dt > DEADTIME_S * 0.5,
        "failover before the deadtime? {dt:.3} s"
    );
    c.wait_group_on("node2", &[]);

    let dt = c.moves_to("node1", "node1 rejoins, auto_failback on", || {
        c.start("node1")
    });
    assert!(dt < MOVE_LIMIT_S + 3.0, "failback took {dt:.3} s");
    c.wait_group_on("node1", &["node2"]);

    let dt = c.moves_to("node2", "hb_standby on node1", || {
        assert_ok(&c.tool("node1", &["hb_standby"]), "hb_standby")
    });
    assert!(dt < MOVE_LIMIT_S, "handover took {dt:.3} s");
    c.wait_group_on("node2", &["node1"]);

    let dt = c.moves_to("node1", "hb_takeover on node1", || {
        assert_ok(&c.tool("node1", &["hb_takeover"]), "hb_takeover")
    });
    assert!(dt < MOVE_LIMIT_S, "takeover took {dt:.3} s");
    c.wait_group_on("node1", &["node2"]);

    let dt = c.moves_to("node2", "hb_takeover on node2", || {
        assert_ok(&c.tool("node2", &["hb_takeover"]), "hb_takeover")
    });
    assert!(dt < MOVE_LIMIT_S, "takeover took {dt:.3} s");
    c.wait_group_on("node2", &["node1"]);

    // With the control socket, --wait reports the end of the transition.
    let wait = c.has_control_socket("node2");
    let dt = c.moves_to("node1", "hb_standby on node2", || {
        let argv: &[&str] = if wait {
            &["hb_standby", "--wait"]
        } else {
            &["hb_standby"]
        };
        let out = c.tool("node2", argv);
        assert_ok(&out, "hb_standby");
        if wait {
            assert!(
                String::from_utf8_lossy(&out.stdout).starts_with("standby done"),
                "{}",
                text(&out)
            );
        }
    });
    assert!(dt < MOVE_LIMIT_S, "handover took {dt:.3} s");
    c.wait_group_on("node1", &["node2"]);
    if !wait {
        eprintln!("NOTE: no control socket: cl_status and hb_standby --wait checks skipped");
    }
    // A stop that ends the background gratuitous ARPs early is no error.
    for n in ["node1", "node2"] {
        let log = c.lab.ha_log(n);
        assert!(
            !log.contains("Could not send gratuitous arps"),
            "{n}: {log}"
        );
    }
}

/// auto_failback off: after a crash the group stays with the peer when the node rejoins;
/// an explicit hb_standby still brings it back.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_rejoin_with_auto_failback_off_leaves_the_group_on_the_peer() {
    let Some(c) = Cluster::new("off") else {
        return;
    };
    c.start_both("node1");
    let dt = c.moves_to("node2", "crash of node1", || c.crash("node1"));
    assert!(dt < FAILOVER_LIMIT_S, "failover took {dt:.3} s");
    c.wait_group_on("node2", &[]);

    let since = c.lab.ha_log("node1").len();
    let probe = c.lab.probe(VIP, 4, None);
    c.start("node1");
    // node1 is back and has settled its (empty) share of the resources...
    assert!(
        c.lab.wait_log(
            "node1",
            "Initial resource acquisition complete",
            since,
            Duration::from_secs(20)
        ),
        "node1 never completed its initial acquisition:\n{}",
        c.logs(40)
    );
    // ...and for the rest of the probe's 4 s the address never answers from node1.
    let seen = probe.finish();
    assert!(
        seen.first_up_via("node1").is_none(),
        "the group came back without auto_failback:\n{}",
        seen.text()
    );
    c.wait_group_on("node2", &["node1"]);

    c.moves_to("node1", "hb_standby on node2", || {
        assert_ok(&c.tool("node2", &["hb_standby"]), "hb_standby")
    });
    c.wait_group_on("node1", &["node2"]);
}

/// hbrs-svc cannot start on node1: node1 releases the whole group (address and mount too)
/// and, after heartbeat's 30 s, hands it to node2, where it runs.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_start_failure_moves_the_group_to_the_peer() {
    let Some(c) = Cluster::new("on") else {
        return;
    };
    c.inject("node1", "start", true);
    let probe = c.lab.probe(VIP, 60, Some("node2"));
    c.start("node1");
    c.start("node2");
    let seen = probe.finish();
    assert!(
        seen.reached,
        "the group never reached node2:\n{}\n{}",
        seen.text(),
        c.logs(40)
    );
    c.wait_group_on("node2", &["node1"]);
    let log1 = c.lab.ha_log("node1");
    assert!(
        log1.contains("Giving up resources due to failure of hbrs-svc"),
        "{log1}"
    );
    assert_eq!(c.owner(), "node2");
}

/// hbrs-svc cannot stop on node1: after the retries (10 × 1 s) and a status that still
/// says running, the reboot action runs (here: the recorder).
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_stop_failure_ends_in_the_reboot_action() {
    let Some(c) = Cluster::new("on") else {
        return;
    };
    c.start_both("node1");
    c.inject("node1", "stop", true);
    let t0 = lab::epoch();
    assert_ok(&c.tool("node1", &["hb_standby"]), "hb_standby");
    let record = c.lab.node_dir("node1").join("log/hbrs-reboot.log");
    let rebooted = wait_for(Duration::from_secs(40), || record.exists());
    assert!(rebooted, "no reboot recorded:\n{}", c.logs(40));
    eprintln!(
        "FIGURE: stop failure -> reboot action after {:.1} s: {}",
        lab::epoch() - t0,
        std::fs::read_to_string(&record).unwrap_or_default().trim()
    );
    let log1 = c.lab.ha_log("node1");
    assert!(
        log1.contains("Retrying failed stop operation [hbrs-svc]"),
        "{log1}"
    );
    assert!(
        log1.contains("Resource STOP failure. Reboot required!"),
        "{log1}"
    );
    // The peer never took the half-stopped group: the address (released last) is still on
    // node1 alone, the service runs there only.
    assert_eq!(c.owner(), "node1");
    assert!(c.service_running("node1"));
    assert!(!c.service_running("node2"));
    assert!(!c.lab.node_dir("node2").join("log/hbrs-reboot.log").exists());
}
