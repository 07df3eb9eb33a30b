//! The running daemon performs `IPaddr` itself (netlink + gratuitous ARP on its timer), in a
//! private network namespace: a veth pair d0 (the daemon's, 10.9.0.1/24) / d1, where
//! `tcpdump` watches the frames arrive. The namespace is held
//! by a `sleep` started with `unshare -n`; the daemon runs inside it through `nsenter`.
//! Root only (skipped otherwise); nothing outside the namespace is touched.
#![allow(clippy::disallowed_methods)] // the test starts processes and waits on real time

mod common;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

/// The namespace holder; killed on drop (the namespace goes with it).
struct Netns {
    holder: Child,
}

impl Netns {
    fn new() -> Netns {
        let mut holder = Command::new("unshare")
            .args([
                "-n",
                "sh",
                "-c",
                "ip link set lo up && ip link add d0 type veth peer name d1 && \
                 ip link set d0 up && ip link set d1 up && ip addr add 10.9.0.1/24 dev d0 && \
                 ip addr add 10.9.0.2/24 dev d1 && \
                 echo ready && exec sleep 600",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        if let Some(out) = holder.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        assert_eq!(line, "ready\n", "namespace set-up failed");
        Netns { holder }
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path())).arg(program);
        c
    }

    fn sh(&self, cmd: &str) -> String {
        let out = self.command("sh").args(["-c", cmd]).output().expect("sh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn wait_for(what: &str, secs: u64, log: &Path, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; log:\n{}\nstderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default(),
            std::fs::read_to_string(log.with_file_name("stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_daemon_adds_announces_and_removes_an_ipaddr_natively() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP: needs root (a private network namespace)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let etc = d.join("etc");
    std::fs::create_dir_all(etc.join("resource.d")).unwrap();
    std::fs::write(
        etc.join("ha.cf"),
        format!(
            "logfile {d}/ha-log\ndebugfile {d}/ha-debug\nuse_logd no\nkeepalive 200ms\n\
             warntime 1\ndeadtime 2\ninitdead 2\nucast d0 10.9.0.3\nauto_failback on\n\
             realtime off\nenv ARP_REPEAT=3\nenv ARP_INTERVAL_MS=100\nnode n1 n2\n",
            d = d.display()
        ),
    )
    .unwrap();
    std::fs::write(etc.join("haresources"), "n1 IPaddr::10.9.0.50/24/d0\n").unwrap();
    let keys = etc.join("authkeys");
    std::fs::write(&keys, "auth 1\n1 sha1 native-ip-test\n").unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(etc.join("nodeinfo"), "n1\n").unwrap();
    // A script that must never run: the daemon does IPaddr itself.
    let marker = d.join("script-ran");
    let script = etc.join("resource.d/IPaddr");
    common::write_exec(
        &script,
        &format!("#!/bin/sh\necho \"$@\" >> {}\nexit 1\n", marker.display()),
        0o755,
    );

    let ns = Netns::new();
    let log: PathBuf = d.join("ha-log");
    let s = |p: &str| d.join(p).display().to_string();
    let mut daemon = ns
        .command(BIN)
        .args(["-f", "-l", "--no-host-checks", "--config-dir", &s("etc")])
        .args(["--pidfile", &s("pid")])
        .args([
            "--state-dir",
            &s("state"),
            "--run-dir",
            &s("run"),
            "--lock-dir",
            &s("run"),
        ])
        .env("HEARTBEAT_REBOOT_COMMAND", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("stderr")).unwrap())
        .spawn()
        .expect("start heartbeat in the namespace");

    let mut dump = ns
        .command("tcpdump")
        .args(["-l", "-n", "-i", "d1", "arp"])
        .stdout(std::fs::File::create(d.join("dump")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = || ns.sh("ip -o -4 addr show dev d0");
    wait_for("10.9.0.50 on d0", 30, &log, || {
        addr().contains("inet 10.9.0.50/24")
    });
    // Three pairs of gratuitous ARP, 100 ms apart: d1 learns d0's MAC for the address.
    // ARP_REPEAT=3, ARP_INTERVAL_MS=100: three request/reply pairs, a frame every 50 ms,
    // paced by the daemon's timer (not a burst, not a sleep in the loop).
    let garp = || {
        std::fs::read_to_string(d.join("dump"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("10.9.0.50 tell 10.9.0.50") || l.contains("Reply 10.9.0.50 is-at")
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    wait_for("six gratuitous ARP frames", 10, &log, || garp().len() >= 6);
    std::thread::sleep(Duration::from_millis(500));
    let _ = dump.kill();
    let _ = dump.wait();
    let frames = garp();
    assert_eq!(frames.len(), 6, "{frames:?}");
    let secs = |l: &str| -> f64 {
        let t = l.split_whitespace().next().unwrap_or("");
        t.split(':')
            .fold(0.0, |acc, x| acc * 60.0 + x.parse::<f64>().unwrap_or(0.0))
    };
    let span = secs(&frames[5]) - secs(&frames[0]);
    assert!(
        (0.2..2.0).contains(&span),
        "frames spread over {span} s: {frames:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!(
            "info: Running {}/resource.d/IPaddr 10.9.0.50/24/d0 start",
            etc.display()
        )),
        "{text}"
    );
    assert!(!marker.exists(), "the IPaddr script was run");

    // SIGTERM: the address is released before the daemon exits.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(daemon.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while daemon.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!addr().contains("10.9.0.50"), "{}", addr());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("IPaddr 10.9.0.50/24/d0 stop"), "{text}");
    assert!(!marker.exists(), "the IPaddr script was run");
}
