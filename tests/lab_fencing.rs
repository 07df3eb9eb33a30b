//! Lab tests (netlab, root) of fencing (issue #8, docs/fencing.md): two heartbeat-rs nodes
//! whose fence device is the lab's "power switch" (`netlab crash NODE`, through
//! tests/fixtures/fence/fence_netlab), or an operator (meatware + `meatclient`).
//!
//! Timings: keepalive 200 ms, warntime 500 ms, deadtime 1 s, initdead 2 s. The reboot action
//! is replaced by a recorder (as in lab_failover). Every test holds the lab lock, uses
//! `NETLAB_ROOT=/tmp/hb-lab-fencing` and ends with `netlab down`. `#[ignore]`d (root,
//! netlab):
//!
//!     cargo test --test lab_fencing -- --ignored --test-threads=1 --nocapture

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

mod common;
#[path = "common/lab.rs"]
mod lab;

use lab::{Pair, PairSetup, VIP, text, wait_for};

const ROOT: &str = "/tmp/hb-lab-fencing";
/// node2's own group in the partition test, so that both sides want to fence.
const VIP2: &str = "192.0.2.101";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn agent() -> String {
    repo()
        .join("tests/fixtures/fence/fence_netlab")
        .display()
        .to_string()
}

/// The `fence_agent` line whose device crashes nodes through this test's lab.
fn fence_line() -> String {
    format!(
        "fence_agent * {} netlab={}/bin/netlab-outside nsenter=no",
        agent(),
        ROOT
    )
}

/// The lab's two nodes with a fence device or an operator.
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
    /// Two configured, not yet started, heartbeat-rs nodes with the haresources `groups`
    /// (one line each) and the extra ha.cf directives `set`.
    fn new(groups: &[String], set: &[String]) -> Option<Cluster> {
        let root = Path::new(ROOT);
        let netlab = lab::netlab_path()?;
        // netlab gives daemons a clean environment; the fence agent (run by the daemon)
        // needs to know which netlab, and which lab root, to crash nodes with.
        let setup = PairSetup {
            env: vec![
                ("NETLAB", netlab.display().to_string()),
                ("NETLAB_ROOT", root.display().to_string()),
            ],
            resources: groups.join("\n"),
            config: set
                .iter()
                .flat_map(|s| ["--set".to_string(), s.clone()])
                .collect(),
        };
        let pair = Pair::up(ROOT, &setup)?;
        // The fence agent runs inside a node, where the lab's /run/netns is not visible. It
        // would leave through PID 1's namespaces (`nsenter -t 1`), which sandboxes often do
        // not allow; this test's own process is in the lab's namespaces and may be entered.
        lab::write_exec(
            &pair.bin.join("netlab-outside"),
            &format!(
                "#!/bin/sh\nexec nsenter -t {} -m -n -- {} \"$@\"\n",
                std::process::id(),
                pair.lab.netlab.display()
            ),
        );
        Some(Cluster { pair })
    }

    /// Starts both nodes, waits until each sees the other active and `ip` answers on
    /// `holder`.
    fn start_both(&self, ip: &str, holder: &str) {
        self.pair.start_both();
        self.wait_owner(ip, holder, 30);
    }

    fn wait_owner(&self, ip: &str, node: &str, secs: u32) {
        let out = self
            .lab
            .run(&["wait-owner", ip, node, "--timeout", &secs.to_string()]);
        assert!(
            out.status.success(),
            "{ip} not on {node}: {}\n{}",
            text(&out),
            self.logs(50)
        );
    }

    fn owner(&self, ip: &str) -> String {
        self.lab.owner(ip)
    }

    fn crashed(&self, node: &str) -> bool {
        self.lab.node_dir(node).join("crashed").exists()
    }

    /// Runs a tool of ours inside `node`, with `stdin` as its input.
    fn tool(&self, node: &str, argv: &[&str], stdin: &str) -> Output {
        let mut line = format!("printf '{stdin}' | {}", self.tool_path(argv[0]));
        for a in &argv[1..] {
            line.push(' ');
            line.push_str(a);
        }
        self.lab.run(&["exec", node, "sh", "-c", &line])
    }

    fn count(&self, node: &str, needle: &str) -> usize {
        self.lab.ha_log(node).matches(needle).count()
    }
}

/// A partition with a working fence device: both nodes hold a group, so both want to fence;
/// node1 (home of the first haresources line: favoured) fences at once, node2 waits out
/// `fence_delay` and is crashed first. Afterwards node1 alone runs both groups, and at no
/// time did both live nodes hold the service address.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_partition_both_holding_the_favoured_node_fences_first() {
    let Some(c) = Cluster::new(
        &[
            format!("node1 {VIP}/24/eth0"),
            format!("node2 {VIP2}/24/eth0"),
        ],
        &[fence_line(), "fence_delay 4".to_owned()],
    ) else {
        return;
    };
    c.start_both(VIP, "node1");
    c.wait_owner(VIP2, "node2", 30);
    let since1 = c.lab.ha_log("node1").len();

    let t0 = lab::epoch();
    c.lab.ok(&["partition", "node2"]);
    // Until the loser is crashed, node1 alone holds its address: never both, never nobody.
    let decided = wait_for(Duration::from_secs(20), || {
        let o = c.owner(VIP);
        assert_eq!(o, "node1", "{VIP} held by {o}:\n{}", c.logs(50));
        c.crashed("node1") || c.crashed("node2")
    });
    assert!(decided, "nobody was fenced:\n{}", c.logs(50));
    eprintln!(
        "FIGURE: partition -> a node crashed by the fence device after {:.3} s",
        lab::epoch() - t0
    );
    assert!(
        c.crashed("node2"),
        "the favoured node1 was fenced:\n{}",
        c.logs(50)
    );
    assert!(!c.crashed("node1"));
    assert!(
        c.lab.wait_log(
            "node1",
            "node node2 now reset.",
            since1,
            Duration::from_secs(10)
        ),
        "{}",
        c.logs(50)
    );
    // node1 takes node2's group over, and keeps its own: it never stopped it.
    c.wait_owner(VIP2, "node1", 20);
    assert_eq!(c.owner(VIP), "node1", "{}", c.logs(50));
    let log1 = c.lab.ha_log("node1");
    assert!(
        !log1[since1..].contains(&format!("IPaddr {VIP}/24/eth0 stop")),
        "node1 stopped its own address:\n{}",
        c.logs(50)
    );
    // node2 never shot: it was crashed before it saw node1 dead, or while it waited out the
    // race delay.
    let log2 = c.lab.ha_log("node2");
    assert!(!log2.contains("Resetting node node1"), "{}", c.logs(50));
    if log2.contains("node node1: is dead") {
        assert!(
            log2.contains("fence race delay: fencing node1"),
            "node2 did not wait out the race delay:\n{}",
            c.logs(50)
        );
    }
    assert!(
        !log2.contains(&format!("Taking over resource group {VIP}")),
        "{log2}"
    );
}

/// A fence device that fails: after node1 crashes, node2 retries every 5 s and never takes
/// the address over.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_failing_fence_device_blocks_takeover() {
    let Some(c) = Cluster::new(
        &[format!("node1 {VIP}/24/eth0")],
        &[format!("fence_agent * {} netlab=/bin/false", agent())],
    ) else {
        return;
    };
    c.start_both(VIP, "node1");
    c.lab.ok(&["crash", "node1"]);
    let t0 = lab::epoch();
    let retries = wait_for(Duration::from_secs(25), || {
        assert_eq!(c.owner(VIP), "none", "taken over unfenced:\n{}", c.logs(50));
        c.count("node2", "STONITH of node1 failed.  Retrying...") >= 3
    });
    assert!(retries, "no three failed attempts:\n{}", c.logs(50));
    eprintln!(
        "FIGURE: three failed fence attempts after {:.1} s, address still on nobody",
        lab::epoch() - t0
    );
    let log2 = c.lab.ha_log("node2");
    assert!(log2.contains("fence_netlab failed: exit status"), "{log2}");
    assert!(log2.contains("Host node1 not reset!"), "{log2}");
    assert!(!log2.contains("node node1 now reset."), "{log2}");
    assert!(
        !log2.contains(&format!("Taking over resource group {VIP}")),
        "{log2}"
    );
}

/// Meatware: node2 waits for the operator after node1 crashed (CRIT request, status shows
/// it), and takes over only after `meatclient -c node1`.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_meatware_waits_for_meatclient() {
    let Some(c) = Cluster::new(
        &[format!("node1 {VIP}/24/eth0")],
        &["stonith_host * meatware node1 node2".to_owned()],
    ) else {
        return;
    };
    c.start_both(VIP, "node1");
    c.lab.ok(&["crash", "node1"]);
    assert!(
        c.lab.wait_log(
            "node2",
            "OPERATOR INTERVENTION REQUIRED to reset node1.",
            0,
            Duration::from_secs(15)
        ),
        "{}",
        c.logs(50)
    );
    assert!(c.lab.ha_log("node2").contains("meatclient -c node1"));
    let summary = c.tool("node2", &["cl_status", "summary"], "");
    let summary = text(&summary);
    if c.lab
        .node_dir("node2")
        .join("run/heartbeat/hbrs-api")
        .exists()
    {
        assert!(
            summary.contains("waiting for the operator: meatclient -c node1"),
            "{summary}"
        );
    } else {
        eprintln!("NOTE: no control socket, cl_status summary not checked");
    }
    // For the next 3 s (an observation window, nothing to wait for) nobody holds the
    // address.
    assert!(
        !wait_for(Duration::from_secs(3), || c.owner(VIP) != "none"),
        "taken over without the operator:\n{}",
        c.logs(50)
    );

    let t0 = lab::epoch();
    let out = c.tool("node2", &["meatclient", "-c", "node1"], "y\\n");
    assert!(out.status.success(), "meatclient: {}", text(&out));
    assert!(text(&out).contains("reset confirmed"), "{}", text(&out));
    c.wait_owner(VIP, "node2", 20);
    eprintln!(
        "FIGURE: meatclient -> node2 holds {VIP} after {:.3} s",
        lab::epoch() - t0
    );
    let log2 = c.lab.ha_log("node2");
    assert!(log2.contains("node node1 now reset."), "{log2}");
}

/// Built-in ipfail (ha.cf respawns Debian's /usr/libexec/heartbeat/ipfail): node1 (active) stops seeing the ping node (the ping node drops its
/// echoes), node2 still sees it → node1 gives its group up and node2 takes it.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_ipfail_moves_the_group_off_the_node_that_lost_its_ping_node() {
    let Some(c) = Cluster::new(
        &[format!("node1 {VIP}/24/eth0")],
        &[
            "ping 192.0.2.254".to_owned(),
            "respawn hacluster /usr/libexec/heartbeat/ipfail".to_owned(),
        ],
    ) else {
        return;
    };
    c.start_both(VIP, "node1");
    let since1 = c.lab.ha_log("node1").len();
    // Only node1's echoes are dropped, inside the ping host: node1 and node2 still see
    // each other.
    for rule in [
        "add table inet hbrs",
        "add chain inet hbrs in { type filter hook input priority 0 ; }",
        "add rule inet hbrs in ip saddr 192.0.2.11 drop",
    ] {
        let mut args = vec!["exec", "ping", "nft"];
        args.extend(rule.split_whitespace());
        c.lab.ok(&args);
    }
    let t0 = lab::epoch();
    c.wait_owner(VIP, "node2", 30);
    eprintln!(
        "FIGURE: node1 lost the ping node -> node2 holds {VIP} after {:.3} s",
        lab::epoch() - t0
    );
    assert!(
        c.lab.wait_log(
            "node1",
            "Giving up because we have less visible ping nodes.",
            since1,
            Duration::from_secs(1)
        ),
        "{}",
        c.logs(50)
    );
    assert!(!c.crashed("node1") && !c.crashed("node2"));
}

/// A partition when only node1 holds a group: node1 (the holder, favoured) crashes node2
/// through the fence device at once and keeps the address; never both holding it while
/// both live.
#[test]
#[ignore = "needs root and netlab; run with --ignored --test-threads=1"]
fn lab_partition_one_group_ends_with_one_holder_and_one_fenced_node() {
    let Some(c) = Cluster::new(
        &[format!("node1 {VIP}/24/eth0")],
        &[fence_line(), "fence_delay 2".to_owned()],
    ) else {
        return;
    };
    c.start_both(VIP, "node1");
    let t0 = lab::epoch();
    c.lab.ok(&["partition", "node2"]);
    let decided = wait_for(Duration::from_secs(30), || {
        let o = c.owner(VIP);
        assert_ne!(o, "node1 node2", "both nodes hold {VIP}:\n{}", c.logs(50));
        c.crashed("node1") || c.crashed("node2")
    });
    assert!(decided, "nobody was fenced:\n{}", c.logs(50));
    let (winner, loser) = ("node1", "node2");
    assert!(c.crashed(loser), "the holder was fenced:\n{}", c.logs(50));
    eprintln!(
        "FIGURE: one group, partition -> {loser} crashed by {winner} after {:.3} s",
        lab::epoch() - t0
    );
    assert!(!c.crashed(winner));
    assert!(
        c.lab.wait_log(
            winner,
            &format!("node {loser} now reset."),
            0,
            Duration::from_secs(10)
        ),
        "{}",
        c.logs(50)
    );
    c.wait_owner(VIP, winner, 20);
    assert!(
        !c.lab.ha_log(loser).contains("Resetting node node1"),
        "{}",
        c.logs(50)
    );
}
