//! Two heartbeat-rs daemons on this machine's loopback form a cluster.
//!
//! Loopback cannot host two `ucast` nodes (both would bind the same port and unicast
//! datagrams reach only one socket), so the nodes share a multicast group on `lo` with
//! `loop 1`: every member of the group receives every datagram. Each node has its own
//! temporary config dir (with `nodeinfo` naming it), state dir, run dir, pid file and logs.
//! Synchronisation is by reading the log files for heartbeat's lines, with a deadline.
#![allow(clippy::disallowed_methods)] // the test starts daemons and waits on real time

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
        std::fs::write(
            &script,
            "#!/bin/sh\nf=\"$HA_DIR/../svc-$1\"\ncase \"$2\" in\n\
             start) touch \"$f\";;\nstop) rm -f \"$f\";;\n\
             status) if [ -e \"$f\" ]; then echo running; else echo stopped; fi;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
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
        let child = Command::new(BIN)
            .arg("-f")
            .arg("-l")
            .args(self.args())
            .env("HEARTBEAT_REBOOT_COMMAND", "true")
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

/// A fence agent that records its stdin, echoes it (so the daemon logs it, redacted), fails
/// its first attempt and succeeds afterwards.
fn fake_fence_agent(dir: &Path) -> (PathBuf, PathBuf) {
    let agent = dir.join("fence_fake");
    let record = dir.join("fence-record");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nin=$(cat)\nprintf '%s\\n--\\n' \"$in\" >> {r}\necho \"agent got: $in\"\n\
             if [ -e {r}.failed-once ]; then exit 0; fi\ntouch {r}.failed-once\nexit 1\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    (agent, record)
}

#[test]
fn a_dead_peer_is_fenced_with_the_agent_failure_retried_then_taken_over() {
    let root = tempfile::tempdir().unwrap();
    let (agent, record) = fake_fence_agent(root.path());
    let (mut n1, mut n2) = cluster_of_two(
        root.path(),
        &format!("fence_agent n2 {} passwd=s3cret-pw\n", agent.display()),
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
