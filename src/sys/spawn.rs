//! Running resource scripts and notification scripts (behaviour spec §4.4, §2.5): each in its
//! own process group (so a stop can signal the whole script tree), stdin from `/dev/null`,
//! stdout and stderr appended to `HA_DEBUGLOG` when set (else `/dev/null`), the `HA_*`
//! environment added, `NOTIFY_SOCKET` removed, the signal mask cleared (the daemon blocks the
//! signals it reads through its signalfd, and std's `Command` keeps the mask across exec) and
//! the signals the daemon ignores reset to their defaults (an ignored disposition would
//! survive exec too).
//!
//! Reaping is per known pid (`waitpid(pid, WNOHANG)` on SIGCHLD): the daemon never reaps a
//! process it did not start.

// `pre_exec` is unsafe: the closure runs between fork and exec.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::sys::signal::{SigHandler, Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// What to run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Added to (or replacing) the daemon's environment.
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go (appended); `None` = `/dev/null`.
    pub output: Option<PathBuf>,
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    fn from_status(s: WaitStatus) -> Option<(i32, Exit)> {
        match s {
            WaitStatus::Exited(pid, code) => Some((pid.as_raw(), Exit::Code(code))),
            WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), Exit::Signal(sig as i32))),
            _ => None,
        }
    }
}

/// What every child of the daemon gets, whoever starts it (scripts, fence devices): its own
/// process group (so a timeout can kill all of it), no systemd notify socket, and signals as
/// a fresh process has them. std's `Command` would otherwise pass on the daemon's blocked
/// mask and ignored signals, and a script that cannot be interrupted is a stuck failover.
pub(crate) fn child_defaults(cmd: &mut Command) {
    cmd.env_remove(crate::sys::notify::ENV_SOCKET)
        .process_group(0);
    // SAFETY: the closure only calls sigprocmask(2) and sigaction(2) through nix, both
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )?;
            for s in crate::sys::signals::IGNORED {
                nix::sys::signal::signal(s, SigHandler::SigDfl)?;
            }
            Ok(())
        });
    }
}

/// Starts `spec`; returns the child's pid (also its process group id).
pub fn spawn(spec: &Spec) -> io::Result<i32> {
    spawn_capturing(spec, None)
}

/// [`spawn`], but with stdout alone written to `stdout` (truncated) when given: the status
/// output ResourceManager reads (stderr still goes to `spec.output`).
pub fn spawn_capturing(spec: &Spec, stdout: Option<&std::path::Path>) -> io::Result<i32> {
    spawn_with(spec, stdout, false)
}

/// [`spawn`] for an rc.d notification: every `HA_*` variable the daemon itself inherited is
/// removed first, so the script sees exactly the message's fields (a stale `HA_dest` from
/// the daemon's own environment would otherwise look like a field of the message).
pub fn spawn_clean_ha(spec: &Spec) -> io::Result<i32> {
    spawn_with(spec, None, true)
}

#[allow(clippy::disallowed_methods)] // the edge is where processes are spawned
fn spawn_with(spec: &Spec, stdout: Option<&std::path::Path>, clean_ha: bool) -> io::Result<i32> {
    let out = match &spec.output {
        Some(p) => OpenOptions::new().append(true).create(true).open(p)?,
        None => OpenOptions::new().write(true).open("/dev/null")?,
    };
    let err = out.try_clone()?;
    let out = match stdout {
        Some(p) => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)?,
        None => out,
    };
    let mut cmd = Command::new(&spec.program);
    if clean_ha {
        for (k, _) in std::env::vars_os() {
            if k.as_encoded_bytes().starts_with(b"HA_") {
                cmd.env_remove(k);
            }
        }
    }
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    child_defaults(&mut cmd);
    // The std Child handle is dropped without waiting: reaping goes through `reap`.
    let child = cmd.spawn()?;
    Ok(child.id() as i32)
}

/// Collects the children among `pids` that have ended, without blocking.
pub fn reap(pids: impl IntoIterator<Item = i32>) -> Vec<(i32, Exit)> {
    pids.into_iter()
        .filter_map(|pid| {
            waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))
                .ok()
                .and_then(Exit::from_status)
        })
        .collect()
}

/// Sends `sig` to the script's whole process group.
pub fn signal_group(pgid: i32, sig: Signal) -> io::Result<()> {
    killpg(Pid::from_raw(pgid), sig)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, output: Option<PathBuf>, env: &[(&str, &str)]) -> Spec {
        Spec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            output,
        }
    }

    /// Blocks until `pid` ends (tests only; the daemon reaps on SIGCHLD).
    fn wait(pid: i32) -> Exit {
        Exit::from_status(waitpid(Pid::from_raw(pid), None).unwrap())
            .unwrap()
            .1
    }

    #[test]
    fn output_env_and_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-debug");
        std::fs::write(&log, "earlier\n").unwrap();
        let pid = spawn(&sh(
            "echo out $HA_CURHOST; echo err >&2; \
             echo pgrp=$(cut -d' ' -f5 /proc/$$/stat) pid=$$; \
             echo notify=${NOTIFY_SOCKET:-unset}; read x || echo stdin-empty; exit 3",
            Some(log.clone()),
            &[("HA_CURHOST", "node1")],
        ))
        .unwrap();
        assert_eq!(wait(pid), Exit::Code(3));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("earlier\nout node1\nerr\n"), "{text}");
        assert!(text.contains(&format!("pgrp={pid} pid={pid}\n")), "{text}");
        assert!(text.contains("notify=unset\n"));
        assert!(text.ends_with("stdin-empty\n"));
    }

    #[test]
    fn reap_reports_only_finished_children() {
        let sleeper = spawn(&sh("exec sleep 60", None, &[])).unwrap();
        assert!(reap([sleeper]).is_empty(), "still running");
        signal_group(sleeper, Signal::SIGTERM).unwrap();
        assert_eq!(wait(sleeper), Exit::Signal(libc::SIGTERM));
        assert!(reap([sleeper]).is_empty(), "already reaped");
        assert!(!Exit::Signal(9).success());
        assert!(Exit::Code(0).success());
    }

    #[test]
    fn children_do_not_inherit_the_daemons_blocked_signals() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out");
        let log2 = log.clone();
        // On its own thread: Signals::new blocks SIGTERM, SIGCHLD, ... there.
        let pid = std::thread::spawn(move || {
            let _sigs = crate::sys::signals::Signals::new().unwrap();
            spawn(&sh(
                "exec grep -E '^Sig(Blk|Ign)' /proc/self/status",
                Some(log2),
                &[],
            ))
            .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(wait(pid), Exit::Code(0));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("SigBlk:\t0000000000000000\n"), "{text}");
        // SIGINT (bit 1), SIGPIPE (bit 12), SIGTTIN, SIGTTOU are not ignored either.
        let ign = text
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .map(|h| u64::from_str_radix(h, 16).unwrap())
            .unwrap();
        for s in crate::sys::signals::IGNORED {
            assert_eq!(ign & (1 << (s as u64 - 1)), 0, "{s:?} ignored in child");
        }
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let spec = Spec {
            program: "/nonexistent/script".into(),
            ..Spec::default()
        };
        assert!(spawn(&spec).is_err());
    }
}
