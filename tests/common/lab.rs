//! One netlab session for a lab test (root): the machine-wide lab lock, a lab root of the
//! test's own, and `netlab down` on drop (also when the test fails). Included next to
//! `mod common;` as `#[path = "common/lab.rs"] mod lab;`.
//!
//! netlab's namespace names are fixed (`hb-*`), so only one lab may run on a machine:
//! every session holds `/tmp/netlab.lock` (flock; it also serialises the tests of one
//! binary, since each open file description locks on its own) for its whole duration.
#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // drives netlab, reads the clock, polls files

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lab's service address.
pub const VIP: &str = "192.0.2.100";

/// netlab's MAC for eth0 of `node` (`node1` → `02:48:42:00:00:0b`).
pub fn mac(node: &str) -> String {
    let i: u32 = node
        .trim_start_matches("node")
        .parse()
        .expect("a node name like node1");
    format!("02:48:42:00:00:{:02x}", 10 + i)
}

/// The shared `lab/netlab`, or `None` (skip) when there is no shared directory.
pub fn netlab_path() -> Option<PathBuf> {
    std::panic::catch_unwind(crate::common::shared_dir)
        .ok()
        .map(|s| s.join("lab/netlab"))
        .filter(|p| p.exists())
}

pub struct Lab {
    pub netlab: PathBuf,
    pub root: PathBuf,
    _lock: nix::fcntl::Flock<File>,
}

impl Lab {
    /// Takes the lab lock and runs `netlab up UP_ARGS...` with `NETLAB_ROOT=root`, or says
    /// why not (`None`: not root, no netlab, or a lab nobody holds the lock for is up).
    pub fn up(root: &str, up_args: &[&str]) -> Option<Lab> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIP: lab tests need root");
            return None;
        }
        let Some(netlab) = netlab_path() else {
            eprintln!("SKIP: ../shared/lab/netlab not found (set HB_SHARED)");
            return None;
        };
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/tmp/netlab.lock")
            .ok()?;
        // Blocks while another lab session (another test, another engineer) holds it.
        let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok()?;
        let ns = Command::new("ip").args(["netns", "list"]).output().ok()?;
        if String::from_utf8_lossy(&ns.stdout)
            .lines()
            .any(|l| l.starts_with("hb-"))
        {
            eprintln!(
                "SKIP: hb-* namespaces exist but nobody holds the lab lock: a lab not ours is up"
            );
            return None;
        }
        let lab = Lab {
            netlab,
            root: PathBuf::from(root),
            _lock: lock,
        };
        // A root left behind by a killed run (its lab.env would make `up` refuse).
        let _ = lab.run(&["down"]);
        let mut args = vec!["up"];
        args.extend_from_slice(up_args);
        let out = lab.run(&args);
        assert!(out.status.success(), "netlab up: {}", text(&out));
        Some(lab)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.netlab);
        c.args(args).env("NETLAB_ROOT", &self.root);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("netlab")
    }

    /// Runs netlab and insists on success; returns its output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "netlab {args:?}: {}", text(&out));
        text(&out)
    }

    /// `$NETLAB_ROOT/NODE`: the node's etc-ha.d, var-lib-heartbeat, run, log as seen from
    /// outside.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join(node)
    }

    /// The node's heartbeat log (`/var/log/ha-log` inside it).
    pub fn ha_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.node_dir(node).join("log/ha-log")).unwrap_or_default()
    }

    /// Waits until node1 and node2 each log the other as active; the first pair that
    /// did not (`(node, peer)`) otherwise.
    pub fn wait_pair_active(&self) -> Result<(), (&'static str, &'static str)> {
        for (node, peer) in [("node1", "node2"), ("node2", "node1")] {
            let line = format!("Status update for node {peer}: status active");
            if !self.wait_log(node, &line, 0, Duration::from_secs(30)) {
                return Err((node, peer));
            }
        }
        Ok(())
    }

    /// Waits until `node`'s ha-log contains `needle` after byte `since` (a length taken
    /// earlier with `ha_log(node).len()`); false on timeout.
    pub fn wait_log(&self, node: &str, needle: &str, since: usize, timeout: Duration) -> bool {
        wait_for(timeout, || {
            self.ha_log(node)
                .get(since..)
                .is_some_and(|l| l.contains(needle))
        })
    }

    /// Which running (not crashed) nodes hold `ip`, as `netlab owner` says it: `node1`,
    /// `node1 node2`, or `none`. Read here in full rather than through `netlab owner`,
    /// whose `ip addr | grep -q` runs under `pipefail`: `ip` writes one line per address,
    /// so when grep exits at the match before `ip` writes the next line, `ip` dies of
    /// SIGPIPE and a node holding a further address after `ip` is reported as not holding
    /// it (seen as `none` right after node1 added node2's address to its own).
    pub fn owner(&self, ip: &str) -> String {
        let needle = format!(" {ip}/");
        let mut found = Vec::new();
        for i in 1.. {
            let node = format!("node{i}");
            let dir = self.node_dir(&node);
            if !dir.is_dir() {
                break;
            }
            if dir.join("crashed").exists() {
                continue;
            }
            let out = Command::new("ip")
                .args(["-n", &format!("hb-n{i}"), "-4", "-o", "addr", "show"])
                .output()
                .expect("ip addr show");
            if String::from_utf8_lossy(&out.stdout).contains(&needle) {
                found.push(node);
            }
        }
        if found.is_empty() {
            "none".to_owned()
        } else {
            found.join(" ")
        }
    }

    /// The pid of the daemon netlab started on `node` (if it runs).
    pub fn daemon_pid(&self, node: &str) -> Option<u32> {
        std::fs::read_to_string(self.node_dir(node).join("daemon.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The client's probe of `ip` every 10 ms, for at most `secs`, until a reply from
    /// `until` if given. Returns once the probe listens (its header line), so whatever the
    /// test does next is seen.
    pub fn probe(&self, ip: &str, secs: u32, until: Option<&str>) -> Probe {
        let secs = secs.to_string();
        let mut args = vec!["probe", ip, "--interval-ms", "10", "--for", &secs];
        if let Some(n) = until {
            args.extend(["--until", n]);
        }
        let mut child = self
            .cmd(&args)
            // Unbuffered, so the header arrives when the probe is ready.
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("probe");
        let stdout = child.stdout.take().expect("probe stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(());
                lines.push(l);
            }
            lines
        });
        // Bounded: a probe that never prints fails the test at finish() anyway.
        let _ = rx.recv_timeout(Duration::from_secs(10));
        Probe { child, reader }
    }
}

/// Two heartbeat-rs nodes in a lab (`netlab up 2`), configured, not yet started: keepalive
/// 200 ms, warntime 500 ms, deadtime 1 s, initdead 2 s, our resource.d scripts and send_arp
/// in each node, the reboot action replaced by a recorder appending to the node's
/// `/var/log/hbrs-reboot.log`. `$root/bin` holds the daemon's wrapper (netlab gives daemons
/// a clean environment) and our tools (`hb_standby`, `hb_takeover`, `cl_status`,
/// `meatclient`) for [`Pair::tool`].
pub struct Pair {
    pub lab: Lab,
    pub bin: PathBuf,
}

/// What a test adds to [`Pair::up`]'s set-up.
#[derive(Default)]
pub struct PairSetup<'a> {
    /// Exported by the daemon's wrapper (`NAME`, value).
    pub env: Vec<(&'a str, String)>,
    /// haresources, one group a line.
    pub resources: String,
    /// Extra `netlab config` arguments (`--auto-failback off`, `--set "stonith_host ..."`).
    pub config: Vec<String>,
}

impl Pair {
    /// The lab at `root` with two configured nodes, or `None` (skip: see [`Lab::up`]).
    pub fn up(root: &str, setup: &PairSetup<'_>) -> Option<Pair> {
        let lab = Lab::up(root, &["2"])?;
        let bin = lab.root.join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        write_exec(
            &bin.join("reboot-recorder"),
            "#!/bin/sh\necho \"$(date +%s.%N) reboot: ${HB_REBOOT_REASON:-}\" >>/var/log/hbrs-reboot.log\n",
        );
        let mut wrapper = format!(
            "#!/bin/sh\nexport HEARTBEAT_REBOOT_COMMAND={}\n",
            bin.join("reboot-recorder").display()
        );
        for (name, value) in &setup.env {
            wrapper += &format!("export {name}={value}\n");
        }
        wrapper += &format!("exec {} \"$@\"\n", env!("CARGO_BIN_EXE_heartbeat"));
        write_exec(&bin.join("heartbeat"), &wrapper);
        for tool in ["hb_standby", "hb_takeover", "cl_status"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_heartbeat"), bin.join(tool))
                .expect("tool link");
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_meatclient"), bin.join("meatclient"))
            .expect("meatclient link");
        let send_arp = format!("env SEND_ARP={}", env!("CARGO_BIN_EXE_send_arp"));
        let mut args = vec![
            "config",
            "--keepalive",
            "200ms",
            "--warntime",
            "500ms",
            "--deadtime",
            "1",
            "--initdead",
            "2",
            "--set",
            &send_arp,
            "--resources",
            &setup.resources,
        ];
        args.extend(setup.config.iter().map(String::as_str));
        lab.ok(&args);
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("resource.d");
        for node in ["node1", "node2"] {
            let rd = lab.node_dir(node).join("etc-ha.d/resource.d");
            for f in std::fs::read_dir(&ours).expect("resource.d") {
                let f = f.expect("entry").path();
                std::fs::copy(&f, rd.join(f.file_name().expect("name"))).expect("copy script");
            }
        }
        Some(Pair { lab, bin })
    }

    /// Starts the daemon (in the foreground, as netlab wants) on `node`.
    pub fn start(&self, node: &str) {
        let daemon = self.bin.join("heartbeat");
        let daemon = daemon.to_str().expect("utf-8 path");
        self.lab
            .ok(&["start", node, "--daemon", daemon, "--", "-f"]);
    }

    /// Starts node1 then node2 and waits until each sees the other active.
    pub fn start_both(&self) {
        self.start("node1");
        self.start("node2");
        if let Err((node, peer)) = self.lab.wait_pair_active() {
            panic!("{node} never saw {peer} active:\n{}", self.logs(50));
        }
    }

    /// The path of our tool `name` (see [`Pair`]), for `netlab exec`.
    pub fn tool_path(&self, name: &str) -> String {
        self.bin.join(name).display().to_string()
    }

    /// The last `n` lines of both nodes' ha-log, for failure messages.
    pub fn logs(&self, n: usize) -> String {
        let mut s = String::new();
        for node in ["node1", "node2"] {
            let log = self.lab.ha_log(node);
            let tail: Vec<&str> = log.lines().rev().take(n).collect();
            s += &format!("--- {node} ha-log (last {n} lines)\n");
            for l in tail.into_iter().rev() {
                s += l;
                s.push('\n');
            }
        }
        s
    }
}

/// Writes an executable script.
pub fn write_exec(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.run(&["down"]);
        if !out.status.success() {
            eprintln!("netlab down failed: {}", text(&out));
        }
    }
}

/// A running `netlab probe`.
pub struct Probe {
    child: Child,
    reader: JoinHandle<Vec<String>>,
}

/// What a finished probe saw.
pub struct ProbeLog {
    /// The probe's exit status was success (with `--until`: a reply from that node came).
    pub reached: bool,
    pub lines: Vec<String>,
}

impl Probe {
    /// Waits for the probe to end (its `--for`, or `--until` satisfied).
    pub fn finish(mut self) -> ProbeLog {
        let st = self.child.wait().expect("probe");
        let lines = self.reader.join().unwrap_or_default();
        ProbeLog {
            reached: st.success(),
            lines,
        }
    }
}

impl ProbeLog {
    /// Epoch seconds of the first `UP <ip> via <node's MAC>` line.
    pub fn first_up_via(&self, node: &str) -> Option<f64> {
        let m = format!(" via {} ({node})", mac(node));
        self.lines
            .iter()
            .find(|l| l.contains(" UP ") && l.contains(&m))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|e| e.parse().ok())
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Unix time in seconds (netlab and the probe print epoch seconds).
pub fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Polls `cond` every 50 ms until it holds (true) or `timeout` passes (false). For state
/// outside this process (files, a node's processes) that offers nothing to wait on.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Creates a `size`-byte ext4 image at `path` (a loop-mountable "shared disk").
pub fn make_ext4_image(path: &Path, size: u64) {
    let f = File::create(path).expect("image");
    f.set_len(size).expect("size");
    drop(f);
    let mk = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(path)
        .output()
        .expect("mkfs.ext4");
    assert!(mk.status.success(), "{}", text(&mk));
}
