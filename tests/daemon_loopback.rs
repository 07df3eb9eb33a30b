//! Two heartbeat-rs daemons on this machine's loopback form a cluster.
//!
//! Loopback cannot host two `ucast` nodes (both would bind the same port and unicast
//! datagrams reach only one socket), so the nodes share a multicast group on `lo` with
//! `loop 1`: every member of the group receives every datagram. Each node has its own
//! temporary config dir (with `nodeinfo` naming it), state dir, run dir, pid file and logs.
//! Synchronisation is by reading the log files for heartbeat's lines, with a deadline.
#![allow(clippy::disallowed_methods)] // the test starts daemons and waits on real time

mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

struct Node {
    name: &'static str,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn setup(root: &Path, name: &'static str, port: u16, group: &str) -> Node {
        Node::setup_with(root, name, port, group, "", "n1 TestSvc::a\n")
    }

    fn setup_with(
        root: &Path,
        name: &'static str,
        port: u16,
        group: &str,
        extra_ha_cf: &str,
        haresources: &str,
    ) -> Node {
        let dir = root.join(name);
        let etc = dir.join("etc");
        std::fs::create_dir_all(etc.join("resource.d")).unwrap();
        std::fs::write(
            etc.join("ha.cf"),
            format!(
                "logfile {d}/ha-log\ndebugfile {d}/ha-debug\nuse_logd no\n\
                 keepalive 200ms\nwarntime 1\ndeadtime 2\ninitdead 4\n\
                 udpport {port}\nmcast lo {group} {port} 1 1\nauto_failback on\n\
                 realtime off\nnode n1 n2\n{extra_ha_cf}",
                d = dir.display()
            ),
        )
        .unwrap();
        std::fs::write(etc.join("haresources"), haresources).unwrap();
        let keys = etc.join("authkeys");
        std::fs::write(&keys, "auth 1\n1 sha1 loopback-test\n").unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(etc.join("nodeinfo"), format!("{name}\n")).unwrap();
        let script = etc.join("resource.d/TestSvc");
        common::write_exec(
            &script,
            "#!/bin/sh\nf=\"$HA_DIR/../svc-$1\"\ncase \"$2\" in\n\
             start) touch \"$f\";;\nstop) rm -f \"$f\";;\n\
             status) if [ -e \"$f\" ]; then echo running; else echo stopped; fi;;\nesac\n",
            0o755,
        );
        Node {
            name,
            dir,
            child: None,
        }
    }

    fn args(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            "--config-dir".into(),
            format!("{d}/etc"),
            "--pidfile".into(),
            format!("{d}/heartbeat.pid"),
            "--state-dir".into(),
            format!("{d}/state"),
            "--run-dir".into(),
            format!("{d}/run"),
            "--lock-dir".into(),
            format!("{d}/run"),
        ]
    }

    fn start(&mut self) {
        self.start_with_env(&[]);
    }

    fn start_with_env(&mut self, env: &[(&str, &str)]) {
        let child = Command::new(BIN)
            .arg("-f")
            .arg("-l")
            .args(self.args())
            .env("HEARTBEAT_REBOOT_COMMAND", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("stderr")).unwrap())
            .spawn()
            .expect("start heartbeat");
        self.child = Some(child);
    }

    fn cli(&self, flag: &str) -> std::process::Output {
        Command::new(BIN)
            .arg(flag)
            .args(self.args())
            .output()
            .expect("run heartbeat")
    }

    /// `heartbeat -k` runs while we reap the daemon: the daemon is our child, so until we
    /// wait for it, it lingers as a zombie that `-k` would see as still running.
    fn stop_with_k(&mut self) {
        let mut k = Command::new(BIN)
            .arg("-k")
            .args(self.args())
            .spawn()
            .expect("run heartbeat -k");
        assert!(self.wait_exit(30).success(), "{} exits 0", self.name);
        let end = Instant::now() + Duration::from_secs(10);
        let st = loop {
            if let Some(st) = k.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < end, "heartbeat -k did not return");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(st.code(), Some(0), "heartbeat -k exit status");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ha-log")).unwrap_or_default()
    }

    fn holds_service(&self) -> bool {
        self.dir.join("svc-a").exists()
    }

    fn api_socket(&self) -> PathBuf {
        self.dir.join("run/hbrs-api")
    }

    /// Runs one of the multi-call tools (`cl_status`, `hb_standby`, `hb_takeover`) against
    /// this node's control socket.
    fn tool(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let link = self.dir.join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(BIN, &link).unwrap();
        }
        Command::new(&link)
            .args(args)
            .env("HB_API_SOCKET", self.api_socket())
            .env("HB_FIFO", self.dir.join("state/fifo"))
            .output()
            .expect("run the tool")
    }

    fn cl_status(&self, args: &[&str]) -> (i32, String) {
        let out = self.tool("cl_status", args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Waits until `cond` holds, failing with the node's log after `secs`.
    fn wait_for(&self, what: &str, secs: u64, cond: impl Fn(&Node) -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !cond(self) {
            assert!(
                Instant::now() < end,
                "{}: timed out waiting for {what}; log:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_exit(&mut self, secs: u64) -> ExitStatus {
        let child = self.child.as_mut().expect("started");
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.child = None;
                return st;
            }
            assert!(
                Instant::now() < end,
                "{} did not exit; log:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[test]
fn two_daemons_see_each_other_active_and_sigterm_releases() {
    let root = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    // A group of our own, so concurrent runs do not hear each other.
    let group = format!("225.0.{}.{}", (port >> 8) as u8, (port & 0xff) as u8 | 1);
    let mut n1 = Node::setup(root.path(), "n1", port, &group);
    let mut n2 = Node::setup(root.path(), "n2", port, &group);

    assert_eq!(n1.cli("-s").status.code(), Some(3), "no pid file: stopped");
    n1.start();
    n2.start();

    n1.wait_for("n2 active", 30, |n| {
        n.log().contains("Status update for node n2: status active")
    });
    n2.wait_for("n1 active", 30, |n| {
        n.log().contains("Status update for node n1: status active")
    });
    for n in [&n1, &n2] {
        let log = n.log();
        assert!(log.contains("Configuration validated. Starting heartbeat 3.0.6"));
        assert!(
            log.contains("info: Local status now set to: 'active'"),
            "{log}"
        );
        let out = n.cli("-s");
        assert_eq!(out.status.code(), Some(0), "{}", n.name);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("heartbeat OK [pid ") && text.contains(&format!("[{}]...", n.name)),
            "{text}"
        );
    }
    // The generation was persisted in each node's own state dir.
    let generation = std::fs::read(n1.dir.join("state/hb_generation")).unwrap();
    assert_eq!(generation.len(), 16);

    // n1 is the group's home node and acquires it.
    n1.wait_for("the group on n1", 40, Node::holds_service);
    assert!(!n2.holds_service());

    // SIGTERM (heartbeat -k): n1 releases and exits; n2 takes the group over.
    n1.stop_with_k();
    assert!(!n1.holds_service(), "released on shutdown");
    let log = n1.log();
    let running_stop = log.find("TestSvc a stop").expect("stop ran");
    let complete = log
        .find("n1 Heartbeat shutdown complete.")
        .expect("shutdown line");
    assert!(running_stop < complete);
    assert_eq!(n1.cli("-s").status.code(), Some(1), "pid file left: stale");
    n2.wait_for("takeover by n2", 30, Node::holds_service);

    // And the last one stops too, releasing.
    n2.stop_with_k();
    assert!(!n2.holds_service());
    let again = n2.cli("-k");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "INFO: Heartbeat already stopped.\n"
    );
}

#[test]
fn a_bad_configuration_exits_6_without_starting() {
    let root = tempfile::tempdir().unwrap();
    let n = Node::setup(root.path(), "n1", free_udp_port(), "225.0.0.3");
    std::fs::write(n.dir.join("etc/ha.cf"), "node n1\nbogus_directive 1\n").unwrap();
    let out = Command::new(BIN).arg("-f").args(n.args()).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .ends_with("ERROR: Configuration error, heartbeat not started.\n")
    );
    assert!(!n.dir.join("heartbeat.pid").exists());
    assert!(!n.dir.join("state/hb_generation").exists());
}

#[test]
fn unknown_option_prints_heartbeats_usage_and_exits_2() {
    let out = Command::new(BIN).arg("-Z").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Usage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]"),
        "{err}"
    );
}

fn cluster_of_two(root: &Path, extra_ha_cf: &str, haresources: &str) -> (Node, Node) {
    let port = free_udp_port();
    let group = format!("225.0.{}.{}", (port >> 8) as u8, (port & 0xff) as u8 | 1);
    let n1 = Node::setup_with(root, "n1", port, &group, extra_ha_cf, haresources);
    let n2 = Node::setup_with(root, "n2", port, &group, extra_ha_cf, haresources);
    (n1, n2)
}

#[test]
fn cl_status_standby_and_takeover_work_against_a_running_daemon() {
    let root = tempfile::tempdir().unwrap();
    let (mut n1, mut n2) = cluster_of_two(root.path(), "", "n1 TestSvc::a\n");
    n1.start();
    n2.start();
    n1.wait_for("the group on n1", 40, Node::holds_service);
    n1.wait_for("n2 active", 30, |n| {
        n.cl_status(&["nodestatus", "n2"]).1 == "active\n"
    });
    n1.wait_for("a stable rscstatus", 30, |n| {
        n.cl_status(&["rscstatus"]).1 != "transition\n"
    });

    // A client that connects and says nothing neither blocks the others nor stays forever.
    let idle = std::os::unix::net::UnixStream::connect(n1.api_socket()).unwrap();
    let idle_since = Instant::now();
    assert_eq!(
        n1.cl_status(&["hbstatus"]),
        (0, "Heartbeat is running on this machine.\n".into())
    );
    assert_eq!(n1.cl_status(&["listnodes"]).0, 0);
    // heartbeat lists the nodes in reverse declaration order (`node n1 n2`).
    assert_eq!(n1.cl_status(&["listnodes"]).1, "n2\nn1\n");
    assert_eq!(n1.cl_status(&["nodeweight", "n2"]), (0, "100\n".into()));
    assert_eq!(n1.cl_status(&["nodesite", "n2"]), (0, "\n".into()));
    assert_eq!(n1.cl_status(&["nodetype", "n2"]), (0, "normal\n".into()));
    assert_eq!(n1.cl_status(&["nodestatus", "n1"]), (0, "active\n".into()));
    let links = n1.cl_status(&["listhblinks", "n2"]);
    assert_eq!(links.0, 0, "{links:?}");
    let link = links.1.trim().to_string();
    assert!(!link.is_empty());
    assert_eq!(
        n1.cl_status(&["hblinkstatus", "n2", &link]),
        (0, "up\n".into())
    );
    let rsc = n1.cl_status(&["rscstatus"]).1;
    assert!(rsc == "local\n" || rsc == "all\n", "{rsc}");
    assert_eq!(
        n1.cl_status(&["hbparameter", "-p", "hbversion"]),
        (
            0,
            "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)\n".into()
        )
    );
    assert_eq!(
        n1.cl_status(&["hbparameter", "-p", "keepalive"]),
        (0, "200ms\n".into())
    );
    assert_eq!(
        n1.cl_status(&["clientstatus", "n1", "cl_status"]),
        (1, "offline\n".into())
    );
    let summary = n1.cl_status(&["summary"]).1;
    assert!(summary.contains("holder: n1\tstate: running"), "{summary}");

    // A script's FIFO message that is not a command is logged with the reason.
    std::fs::OpenOptions::new()
        .append(true)
        .open(n1.dir.join("state/fifo"))
        .and_then(|mut f| {
            std::io::Write::write_all(
                &mut f,
                b">>>\nt=resource\nrsc_hold=foreign\ninfo=mach_down\n<<<\n",
            )
        })
        .unwrap();
    n1.wait_for("the FIFO message logged", 10, |n| {
        n.log().contains(
            "WARN: FIFO message t=resource (info,rsc_hold,t) not sent: mach_down's report is not needed",
        )
    });

    // `heartbeat status --json` is the same snapshot as JSON.
    let out = Command::new(BIN)
        .args(["status", "--json"])
        .env("HB_API_SOCKET", n1.api_socket())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("\"local_node\":\"n1\""), "{json}");
    assert!(
        json.contains(
            "\"owner\":\"n1\",\"resources\":\"TestSvc::a\",\"holder\":\"n1\",\"state\":\"running\""
        ),
        "{json}"
    );
    assert!(json.contains("\"fencing\":[]"), "{json}");
    // n2's view: n1 holds the group (the peer's report).
    let out = Command::new(BIN)
        .args(["status", "--json"])
        .env("HB_API_SOCKET", n2.api_socket())
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"holder\":\"n1\",\"state\":\"stopped\""),
        "{json}"
    );

    // hb_standby --wait on n1: n2 takes the group, the tool reports when it is done.
    let out = n1.tool("hb_standby", &["--wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", n1.log());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("standby done"),
        "{out:?}"
    );
    assert!(n2.holds_service() && !n1.holds_service());

    // hb_takeover --wait on n1: n2 goes standby, n1 acquires again.
    n1.wait_for("a stable rscstatus", 30, |n| {
        n.cl_status(&["rscstatus"]).1 != "transition\n"
    });
    let out = n1.tool("hb_takeover", &["--wait"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", n1.log());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("takeover done"),
        "{out:?}"
    );
    assert!(n1.holds_service() && !n2.holds_service());
    let json =
        String::from_utf8_lossy(&n1.tool("cl_status", &["summary", "--json"]).stdout).into_owned();
    assert!(
        json.contains("\"last_transition\":{\"cause\":\"n2 standby [all]\""),
        "{json}"
    );

    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut &idle, &mut buf).unwrap();
    assert_eq!(n, 0, "the idle connection is closed by the daemon");
    assert!(idle_since.elapsed() >= Duration::from_secs(9));

    n1.stop_with_k();
    n2.stop_with_k();
    assert!(!n1.api_socket().exists(), "the socket goes with the daemon");
}

/// A fence agent (its script) that records its stdin in `record`, echoes it (so the daemon
/// logs it, redacted), fails its first attempt and succeeds afterwards. Status probes
/// (`action=monitor`) succeed and are only counted, in `RECORD.probes`.
fn fake_fence_agent(record: &Path) -> String {
    format!(
        "#!/bin/sh\nin=$(cat)\n\
         case \"$in\" in action=monitor*) echo probed >> {r}.probes; exit 0;; esac\n\
         printf '%s\\n--\\n' \"$in\" >> {r}\necho \"agent got: $in\"\n\
         if [ -e {r}.failed-once ]; then exit 0; fi\ntouch {r}.failed-once\nexit 1\n",
        r = record.display()
    )
}

/// Writes the fence agent `script` to `agent` and sets up two nodes on which it fences n2
/// (with a secret parameter that must never be logged).
fn fenced_pair(root: &Path, agent: &Path, script: &str, haresources: &str) -> (Node, Node) {
    common::write_exec(agent, script, 0o755);
    cluster_of_two(
        root,
        &format!("fence_agent n2 {} passwd=s3cret-pw\n", agent.display()),
        haresources,
    )
}

#[test]
fn a_dead_peer_is_fenced_with_the_agent_failure_retried_then_taken_over() {
    let root = tempfile::tempdir().unwrap();
    let record = root.path().join("fence-record");
    let (mut n1, mut n2) = fenced_pair(
        root.path(),
        &root.path().join("fence_fake"),
        &fake_fence_agent(&record),
        "n1 TestSvc::a\nn2 TestSvc::b\n",
    );
    n1.start();
    n2.start();
    n2.wait_for("group b on n2", 40, |n| n.dir.join("svc-b").exists());
    n1.wait_for("group a on n1", 40, Node::holds_service);

    // n2 dies without a word: n1 must fence it before taking b over.
    if let Some(c) = n2.child.as_mut() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    n2.child = None;
    n1.wait_for("b taken over after fencing", 60, |n| {
        n.dir.join("svc-b").exists()
    });
    let log = n1.log();
    let failed = log
        .find("STONITH of n2 failed.  Retrying...")
        .expect("first attempt failed");
    let reset = log
        .find("node n2 now reset.")
        .expect("second attempt succeeded");
    assert!(failed < reset, "{log}");
    assert!(
        log.contains("ERROR: fence_fake failed: exit status 1"),
        "{log}"
    );
    assert!(
        log.contains("agent got:"),
        "the agent's output is logged\n{log}"
    );
    assert!(
        !log.contains("s3cret-pw"),
        "a secret reached the log\n{log}"
    );
    let debug = std::fs::read_to_string(n1.dir.join("ha-debug")).unwrap_or_default();
    assert!(
        !debug.contains("s3cret-pw"),
        "a secret reached the debug log"
    );
    let rec = std::fs::read_to_string(&record).unwrap();
    assert_eq!(rec.matches("--\n").count(), 2, "{rec}");
    assert!(
        rec.contains("action=reboot\nport=n2\npasswd=s3cret-pw"),
        "{rec}"
    );

    let json =
        String::from_utf8_lossy(&n1.tool("cl_status", &["summary", "--json"]).stdout).into_owned();
    assert!(
        json.contains(
            "\"fencing\":[{\"node\":\"n2\",\"device\":\"fence_fake\",\"in_progress\":false,\
             \"state\":\"settled\",\"next_attempt\":null,\"device_run\":\"idle\",\
             \"attempts\":2,\"last_result\":{\"ok\":true,"
        ),
        "{json}"
    );
    n1.stop_with_k();
}

/// behaviour §7.2: the STONITH device's status is probed at comm-up (the agent with
/// `action=monitor`, no `port`); a failed probe is logged as heartbeat logs it and changes
/// nothing else. Only a node with a device that fences a peer probes.
#[test]
fn the_fence_device_is_probed_at_comm_up_and_a_failed_probe_is_only_logged() {
    let root = tempfile::tempdir().unwrap();
    let record = root.path().join("probe-record");
    let script = format!(
        "#!/bin/sh\nin=$(cat)\nprintf '%s\\n--\\n' \"$in\" >> {r}\n\
         echo \"no power switch here\"\nexit 1\n",
        r = record.display()
    );
    let (mut n1, mut n2) = fenced_pair(
        root.path(),
        &root.path().join("fence_probe"),
        &script,
        "n1 TestSvc::a\n",
    );
    n1.start();
    n2.start();
    n1.wait_for("the probe's result", 40, |n| {
        n.log()
            .contains("This may mean that the STONITH device has failed!")
    });
    let log = n1.log();
    let order = [
        "info: Comm_now_up(): updating status to active",
        "info: Checking status of STONITH device [fence_probe]",
        "info: fence_probe: no power switch here",
        "ERROR: STONITH device fence_probe not operational!",
        "ERROR: STONITH status operation failed.",
        "info: This may mean that the STONITH device has failed!",
    ];
    let at: Vec<Option<usize>> = order.iter().map(|l| log.find(l)).collect();
    assert!(
        at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
        "{at:?}\n{log}"
    );
    // Nothing else happens: the group still comes up, nobody is fenced.
    n1.wait_for("group a on n1", 40, Node::holds_service);
    let log = n1.log();
    assert!(!log.contains("Resetting node"), "{log}");
    assert_eq!(
        log.matches("Checking status of STONITH device").count(),
        1,
        "{log}"
    );
    let rec = std::fs::read_to_string(&record).unwrap();
    assert_eq!(rec, "action=monitor\npasswd=s3cret-pw\n--\n");
    // n2 has no device that fences n1: nothing to probe.
    assert!(
        !n2.log().contains("Checking status of STONITH device"),
        "{}",
        n2.log()
    );
    n2.stop_with_k();
    n1.stop_with_k();
}

impl Node {
    fn hup(&self) {
        let pid = self.child.as_ref().expect("started").id();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    fn write_authkeys(&self, text: &str, mode: u32) {
        let keys = self.dir.join("etc/authkeys");
        std::fs::write(&keys, text).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn sighup_rereads_a_changed_authkeys_for_sending_and_verifying() {
    let root = tempfile::tempdir().unwrap();
    let (mut n1, mut n2) = cluster_of_two(root.path(), "", "n1 TestSvc::a\n");
    n1.start();
    n2.start();
    for n in [&n1, &n2] {
        let peer = if n.name == "n1" { "n2" } else { "n1" };
        n.wait_for("the peer active", 30, |n| {
            n.cl_status(&["nodestatus", peer]).1 == "active\n"
        });
    }
    let reread = "new keys in use for sending and verifying";

    // Nothing changed: heartbeat's line.
    n1.hup();
    n1.wait_for("Configuration unchanged.", 10, |n| {
        n.log().contains("info: Configuration unchanged.")
    });

    // A readable-by-others keyfile is refused; the old keys stay.
    n1.write_authkeys("auth 2\n2 sha1 next\n", 0o644);
    n1.hup();
    n1.wait_for("the refusal", 10, |n| {
        n.log()
            .contains("not re-read; the previous keys stay in use")
    });

    // Roll both nodes to a new key (the old one still accepted), then drop the old one.
    for n in [&n1, &n2] {
        n.write_authkeys("auth 2\n1 sha1 loopback-test\n2 sha1 next\n", 0o600);
        n.hup();
    }
    for n in [&n1, &n2] {
        n.wait_for("the keys re-read", 10, |n| {
            n.log().matches(reread).count() == 1
        });
    }
    for n in [&n1, &n2] {
        n.write_authkeys("auth 2\n2 sha1 next\n", 0o600);
        n.hup();
    }
    for n in [&n1, &n2] {
        n.wait_for("the keys re-read again", 10, |n| {
            n.log().matches(reread).count() == 2
        });
    }
    // Both sign with key 2 only: the cluster stays whole for more than a dead time.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!n1.log().contains("node n2: is dead"), "{}", n1.log());
    assert_eq!(n1.cl_status(&["nodestatus", "n2"]).1, "active\n");

    // n2 alone moves to a key n1 does not have: n1 can no longer verify n2, which dies.
    n2.write_authkeys("auth 3\n3 sha1 other\n", 0o600);
    n2.hup();
    n1.wait_for("n2 dead for n1", 20, |n| {
        n.log().contains("node n2: is dead")
    });

    // A changed, valid ha.cf: quick restart (§4.12). Same pid, the group stays up and no
    // script runs, and the new process has the new setting.
    let ha_cf = n1.dir.join("etc/ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap();
    let mark = n1.log().len();
    let since = |n: &Node| n.log().get(mark..).unwrap_or_default().to_string();
    std::fs::write(&ha_cf, format!("{text}keepalive 300ms\n")).unwrap();
    n1.hup();
    n1.wait_for("the new process up", 20, |n| {
        let l = since(n);
        l.contains("ha.cf changed (keepalive 200ms -> 300ms): quick restart keeping resources")
            // n2 is dead for n1 (other keys): n1 holds everything.
            && l.contains("info: Current resources: -R -C all")
            && l.contains("info: Performing heartbeat restart exec.")
            && l.contains("Heartbeat generation:")
            && n.cl_status(&["hbparameter", "-p", "keepalive"]).1 == "300ms\n"
    });
    assert!(
        n1.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the same process (pid) runs on"
    );
    assert!(n1.holds_service(), "the group stays up");
    let l = since(&n1);
    assert!(!l.contains("TestSvc a "), "no resource script ran:\n{l}");
    assert!(
        !l.contains("Resources being acquired from n2"),
        "the old process took n2's over already:\n{l}"
    );

    // An invalid one is refused with the precise error; the running configuration stays.
    let mark = n1.log().len();
    std::fs::write(&ha_cf, format!("{text}bogus_directive 1\n")).unwrap();
    n1.hup();
    n1.wait_for("the errors reported", 10, |n| {
        let l = n.log().get(mark..).unwrap_or_default().to_string();
        l.contains("bogus_directive")
            && l.contains("info: Config errors: Heartbeat NOT restarted")
            && l.contains("the changed configuration has errors; the running one stays")
    });
    assert!(!n1.log()[mark..].contains("Performing heartbeat restart exec."));
    assert_eq!(
        n1.cl_status(&["hbparameter", "-p", "keepalive"]).1,
        "300ms\n"
    );
    n1.stop_with_k();
    n2.stop_with_k();
}

#[test]
fn meatware_waits_for_the_operator_then_the_peer_is_taken_over() {
    let root = tempfile::tempdir().unwrap();
    let (mut n1, mut n2) = cluster_of_two(
        root.path(),
        "stonith_host * meatware n1 n2\n",
        "n1 TestSvc::a\nn2 TestSvc::b\n",
    );
    n1.start();
    n2.start();
    n2.wait_for("group b on n2", 40, |n| n.dir.join("svc-b").exists());
    n1.wait_for("group a on n1", 40, Node::holds_service);
    if let Some(c) = n2.child.as_mut() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    n2.child = None;
    n1.wait_for("the operator asked", 30, |n| {
        n.log()
            .contains("CRIT: OPERATOR INTERVENTION REQUIRED to reset n2.")
    });
    let run = n1.dir.join("run");
    assert!(run.join("meatware.n2").exists(), "the request FIFO");
    let summary = n1.cl_status(&["summary"]).1;
    assert!(
        summary.contains(
            "n2 with Meatware STONITH device: in progress: waiting for the operator: \
             meatclient -c n2"
        ),
        "{summary}"
    );
    assert!(
        !n1.dir.join("svc-b").exists(),
        "no takeover before the fence"
    );

    // The operator confirms; the daemon reads the FIFO (registered with its poll).
    let mut mc = Command::new(env!("CARGO_BIN_EXE_meatclient"))
        .args(["-c", "n2", "-d"])
        .arg(&run)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(mc.stdin.as_mut().unwrap(), b"y\n").unwrap();
    assert_eq!(mc.wait().unwrap().code(), Some(0));
    n1.wait_for("b taken over", 30, |n| n.dir.join("svc-b").exists());
    let log = n1.log();
    assert!(log.contains("node Meatware-reset: n2"), "{log}");
    assert!(log.contains("node n2 now reset."), "{log}");
    n1.stop_with_k();
}

#[test]
fn a_peer_not_allowed_by_apiauth_is_refused_by_the_daemon() {
    let root = tempfile::tempdir().unwrap();
    let (mut n1, _n2) = cluster_of_two(root.path(), "apiauth anon uid=4242\n", "n1 TestSvc::a\n");
    n1.start();
    n1.wait_for("the control socket", 30, |n| n.api_socket().exists());
    let out = n1.tool("hb_standby", &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("standby refused: refused"),
        "{out:?}"
    );
    assert_eq!(
        n1.cl_status(&["hbstatus"]),
        (
            0,
            "Heartbeat is apparently running on this machine, but refuses my connection\n".into()
        )
    );
    assert_eq!(n1.cl_status(&["rscstatus"]), (1, String::new()));
    assert!(!n1.log().contains("wants to go standby"), "{}", n1.log());
    n1.stop_with_k();
}

/// A stand-in for `/etc/ha.d/harc` in the node's config dir: each run records its argument
/// and `HA_*` environment in `notified/call-PID`, and `notified/overlap` if another run was
/// still going (notifications must run one at a time).
fn fake_harc(n: &Node, rc_d: &[&str]) -> PathBuf {
    let etc = n.dir.join("etc");
    let out = n.dir.join("notified");
    std::fs::create_dir_all(etc.join("rc.d")).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    for name in rc_d {
        std::fs::write(etc.join("rc.d").join(name), "#!/bin/sh\nexit 0\n").unwrap();
    }
    let harc = etc.join("harc");
    common::write_exec(
        &harc,
        &format!(
            "#!/bin/sh\nd={d}\nmkdir \"$d/running\" 2>/dev/null || echo overlap >> \"$d/overlap\"\n\
             {{ echo \"arg=$1 $#\"; env | grep '^HA_' | sort; }} > \"$d/.call-$$\"\n\
             sleep 0.3\nrmdir \"$d/running\"\nmv \"$d/.call-$$\" \"$d/call-$$\"\n",
            d = out.display()
        ),
        0o755,
    );
    out
}

fn notified(dir: &Path) -> Vec<String> {
    let mut calls: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            name.starts_with("call-")
                .then(|| std::fs::read_to_string(e.path()).unwrap_or_default())
        })
        .collect();
    calls.sort();
    calls
}

#[test]
fn link_changes_run_harc_ifstat_one_at_a_time_with_the_message_environment() {
    let root = tempfile::tempdir().unwrap();
    let (mut n1, mut n2) = cluster_of_two(root.path(), "", "");
    // `status` is handled natively: its script is listed in the log and never run.
    let out = fake_harc(&n1, &["ifstat", "status", ".hidden"]);
    n1.start_with_env(&[("HA_dest", "stale-from-the-daemons-environment")]);
    n2.start();
    let up = |_: &Node| notified(&out).iter().any(|c| c.contains("HA_st=up"));
    n1.wait_for("harc ifstat for n2's link up", 30, up);
    n1.wait_for("n2 active", 30, |n| {
        n.log().contains("Status update for node n2: status active")
    });
    assert!(
        n1.log().contains(
            "heartbeat-rs: rc.d scripts for messages handled natively are not run: status"
        )
    );
    // n2 vanishes: its link dies after the dead time.
    if let Some(c) = n2.child.as_mut() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    n2.child = None;
    let dead = |_: &Node| notified(&out).iter().any(|c| c.contains("HA_st=dead"));
    n1.wait_for("harc ifstat for n2's link dead", 30, dead);
    let calls = notified(&out);
    let etc = n1.dir.join("etc");
    for c in &calls {
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0], "arg=ifstat 1", "{c}");
        for want in [
            "HA_t=ifstat".to_string(),
            "HA_node=n2".into(),
            "HA_ifname=lo".into(),
            "HA_CURHOST=n1".into(),
            format!("HA_DIR={}", etc.display()),
            "HA_NICEFAILBACK=yes".into(),
        ] {
            assert!(lines.contains(&want.as_str()), "{want} in {c}");
        }
        assert!(
            lines
                .iter()
                .any(|l| *l == "HA_OSTATUS=up" || *l == "HA_OSTATUS=active"),
            "{c}"
        );
        assert!(!c.contains("stale-from-the-daemons-environment"), "{c}");
    }
    assert!(!out.join("overlap").exists(), "two notifications at once");
    n1.stop_with_k();
}

#[test]
fn a_quick_restart_waits_for_a_running_start_and_says_so() {
    // n1 alone; its group's start blocks until the test opens a gate. A changed ha.cf
    // SIGHUPped meanwhile must not cut the start short: the restart waits (and the log
    // says why), then happens once the start has finished.
    let root = tempfile::tempdir().unwrap();
    let (mut n1, _n2) = cluster_of_two(root.path(), "", "n1 TestGate::a\n");
    let gate = n1.dir.join("gate");
    let waiting = n1.dir.join("start-waiting");
    common::write_exec(
        &n1.dir.join("etc/resource.d/TestGate"),
        &format!(
            "#!/bin/sh\nf=\"$HA_DIR/../gate-svc\"\ncase \"$2\" in\n\
             start) touch {w}; while [ ! -e {g} ]; do sleep 0.05; done; touch \"$f\";;\n\
             stop) rm -f \"$f\";;\n\
             status) if [ -e \"$f\" ]; then echo running; else echo stopped; fi;;\nesac\n",
            w = waiting.display(),
            g = gate.display()
        ),
        0o755,
    );
    n1.start();
    n1.wait_for("the start to block", 30, |_| waiting.exists());
    let ha_cf = n1.dir.join("etc/ha.cf");
    let text = std::fs::read_to_string(&ha_cf).unwrap();
    std::fs::write(&ha_cf, format!("{text}keepalive 300ms\n")).unwrap();
    n1.hup();
    n1.wait_for("the restart to wait", 10, |n| {
        n.log()
            .contains("heartbeat-rs: quick restart waits until no resource operation")
    });
    assert!(
        !n1.log().contains("Performing heartbeat restart exec."),
        "restarted during the start:\n{}",
        n1.log()
    );
    std::fs::write(&gate, "").unwrap();
    n1.wait_for("the restart after the start", 20, |n| {
        n.log().contains("info: Performing heartbeat restart exec.")
            && n.cl_status(&["hbparameter", "-p", "keepalive"]).1 == "300ms\n"
    });
    assert!(n1.dir.join("gate-svc").exists(), "the group stays up");
    assert_eq!(
        n1.log().matches("quick restart waits").count(),
        1,
        "said once:\n{}",
        n1.log()
    );
    n1.stop_with_k();
}
