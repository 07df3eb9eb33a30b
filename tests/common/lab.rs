//! netlab sessions for the lab tests (root): one lab per machine, so a session holds
//! /tmp/netlab.lock (flock) from `up` until it is dropped, uses its own NETLAB_ROOT, and
//! always ends with `netlab down` (also when the test panics). Include with
//! `#[path = "common/lab.rs"] mod lab;` next to `mod common;`.
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::disallowed_methods)] // drives netlab and the lab's processes

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The shared lab (`shared/lab/netlab`) via the one shared-directory helper; `None` (skip)
/// instead of its panic when there is no shared directory.
pub fn netlab() -> Option<PathBuf> {
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
    /// Takes the machine-wide lab lock and runs `netlab up ARGS` with NETLAB_ROOT=`root`, or
    /// explains why not (not root, no netlab, a lab not ours is up) and returns `None`.
    pub fn up(root: &str, args: &[&str]) -> Option<Lab> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIP: lab tests need root");
            return None;
        }
        let Some(netlab) = netlab() else {
            eprintln!("SKIP: ../shared/lab/netlab not found (set HB_SHARED)");
            return None;
        };
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/tmp/netlab.lock")
            .ok()?;
        // Blocks while another engineer's lab session holds the lock.
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
        let mut up = vec!["up"];
        up.extend_from_slice(args);
        let out = lab.run(&up);
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

    /// `netlab ARGS`, `Err` with its output if it failed.
    pub fn ok(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run(args);
        if out.status.success() {
            Ok(text(&out))
        } else {
            Err(format!("netlab {}: {}", args.join(" "), text(&out)))
        }
    }

    /// A file of node `node` as seen from outside (`log/ha-log`, `etc-ha.d/authkeys`, ...).
    pub fn node_path(&self, node: &str, rel: &str) -> PathBuf {
        self.root.join(node).join(rel)
    }

    /// The client's probe of `ip`, in the background, for `secs` (or until a reply from
    /// `until`). Its stdout is piped; the header line comes once it listens.
    pub fn probe(&self, ip: &str, secs: u32, until: Option<&str>) -> Child {
        let secs = secs.to_string();
        let mut args = vec!["probe", ip, "--interval-ms", "10", "--for", &secs];
        if let Some(n) = until {
            args.extend(["--until", n]);
        }
        self.cmd(&args)
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("probe")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.run(&["down"]);
        if !out.status.success() {
            eprintln!("netlab down failed: {}", text(&out));
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Polls `path` (a log file) every 100 ms until `pred` holds for its text, up to `secs`.
pub fn wait_file(path: &Path, secs: u64, pred: impl Fn(&str) -> bool) -> Result<String, String> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let t = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&t) {
            return Ok(t);
        }
        if std::time::Instant::now() >= end {
            return Err(format!("{} after {secs} s", path.display()));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
