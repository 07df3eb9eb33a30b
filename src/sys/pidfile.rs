//! `/run/heartbeat.pid` with heartbeat's semantics (behaviour spec §8.1).
//!
//! * Layout: the pid right-aligned in 10 columns plus LF (cluster-glue's `%10lu\n`); read
//!   leniently (leading blanks, trailing text ignored), so files written by heartbeat and by
//!   heartbeat-rs are interchangeable.
//! * Locking: write `NAME.PID` and hard-link it to `NAME`; a file naming a dead process is
//!   stale and replaced.
//! * The file is left behind on a normal stop, so `-s` then answers "stale" (exit 1).
//!
//! The path is always a parameter, so tests never touch `/run`.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The pid file heartbeat uses.
pub const PIDFILE: &str = "/run/heartbeat.pid";

/// What a pid file says about the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The named process exists.
    Running(i32),
    /// No pid file.
    Stopped,
    /// A pid file naming a process that is gone (or an unreadable pid).
    Stale(Option<i32>),
}

impl Status {
    /// `heartbeat -s` exit status: 0 running, 3 stopped, 1 stale pid file.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Running(_) => 0,
            Status::Stopped => 3,
            Status::Stale(_) => 1,
        }
    }

    /// `heartbeat -s` output line (stdout). `uname` is `uname -n` (lower-cased here as
    /// heartbeat does); `node` the local node name.
    pub fn describe(self, uname: &str, node: &str) -> String {
        match self {
            Status::Running(pid) => format!(
                "heartbeat OK [pid {pid} et al] is running on {} [{node}]...",
                uname.to_ascii_lowercase()
            ),
            Status::Stopped | Status::Stale(_) => "heartbeat is stopped. No process".to_owned(),
        }
    }
}

/// A pid file problem other than "absent".
#[derive(Debug)]
pub enum PidfileError {
    Io {
        path: PathBuf,
        op: &'static str,
        err: io::Error,
    },
    /// Another live process holds the pid file.
    AlreadyRunning(i32),
    /// `-R` refused (see [`check_reexec`]).
    Refused(ReexecRefusal),
}

impl fmt::Display for PidfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidfileError::Io { path, op, err } => {
                write!(f, "cannot {op} {}: {err}", path.display())
            }
            PidfileError::AlreadyRunning(pid) => {
                write!(f, "heartbeat: already running [pid {pid}].")
            }
            PidfileError::Refused(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for PidfileError {}

/// Heartbeat's pid file layout.
pub fn format_pid(pid: i32) -> String {
    format!("{pid:>10}\n")
}

/// Parses a pid file's content; `None` if it names no positive pid.
pub fn parse_pid(bytes: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(bytes).ok()?;
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<i32>().ok().filter(|p| *p > 0)
}

/// Whether a process with this pid exists (EPERM means it exists but is not ours).
pub fn is_alive(pid: i32) -> bool {
    pid > 0 && !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// Reads the pid file: `Ok(None)` if it does not exist.
pub fn read(path: &Path) -> Result<Option<Option<i32>>, PidfileError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(parse_pid(&bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(PidfileError::Io {
            path: path.to_owned(),
            op: "read",
            err,
        }),
    }
}

/// `heartbeat -s`.
pub fn status(path: &Path) -> Result<Status, PidfileError> {
    Ok(match read(path)? {
        None => Status::Stopped,
        Some(Some(pid)) if is_alive(pid) => Status::Running(pid),
        Some(pid) => Status::Stale(pid),
    })
}

/// Creates the pid file for `pid` with heartbeat's link protocol. A stale file is
/// replaced; a file naming another live process is [`PidfileError::AlreadyRunning`]; a file
/// that already names `pid` is accepted (re-exec).
pub fn lock(path: &Path, pid: i32) -> Result<(), PidfileError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_owned();
        move |err| PidfileError::Io { path: p, op, err }
    };
    let tmp = PathBuf::from(format!("{}.{pid}", path.display()));
    fs::write(&tmp, format_pid(pid)).map_err(io("write", &tmp))?;
    let result = (|| {
        for _ in 0..3 {
            match fs::hard_link(&tmp, path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match read(path)? {
                        Some(Some(p)) if p == pid => return Ok(()),
                        Some(Some(p)) if is_alive(p) => {
                            return Err(PidfileError::AlreadyRunning(p));
                        }
                        // Stale or unreadable: remove and retry.
                        _ => match fs::remove_file(path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(e) => return Err(io("remove stale", path)(e)),
                        },
                    }
                }
                Err(e) => return Err(io("link", path)(e)),
            }
        }
        Err(io("lock", path)(io::Error::other(
            "pid file keeps changing",
        )))
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Why a re-executed daemon (`heartbeat -R`, §4.12) must not continue.
#[derive(Debug, PartialEq, Eq)]
pub enum ReexecRefusal {
    /// No live daemon named in the pid file: `ERROR: heartbeat is not running.`, exit 6.
    NotRunning,
    /// The pid file names another live process:
    /// `ERROR: Heartbeat already running [pid N].`, exit 1.
    OtherRunning(i32),
}

impl ReexecRefusal {
    pub fn exit_code(&self) -> u8 {
        match self {
            ReexecRefusal::NotRunning => 6,
            ReexecRefusal::OtherRunning(_) => 1,
        }
    }
}

impl fmt::Display for ReexecRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReexecRefusal::NotRunning => f.write_str("heartbeat is not running."),
            ReexecRefusal::OtherRunning(pid) => {
                write!(f, "Heartbeat already running [pid {pid}].")
            }
        }
    }
}

/// `-R`: the re-exec keeps the pid, so the pid file must name us.
pub fn check_reexec(path: &Path, my_pid: i32) -> Result<(), PidfileError> {
    match status(path)? {
        Status::Running(pid) if pid == my_pid => Ok(()),
        Status::Running(pid) => Err(PidfileError::Refused(ReexecRefusal::OtherRunning(pid))),
        Status::Stopped | Status::Stale(_) => Err(PidfileError::Refused(ReexecRefusal::NotRunning)),
    }
}

/// What `heartbeat -k` did.
#[derive(Debug, PartialEq, Eq)]
pub enum StopRequest {
    /// No pid file or a stale one: `INFO: Heartbeat already stopped.` (stderr), exit 0.
    AlreadyStopped,
    /// SIGTERM sent; wait with [`wait_gone`].
    Signalled(i32),
    /// `ERROR: Could not kill pid N : <errno text>`; exit 4 for EPERM/EACCES, else 1.
    KillFailed(i32, Errno),
}

impl StopRequest {
    pub fn exit_code(&self) -> u8 {
        match self {
            StopRequest::AlreadyStopped | StopRequest::Signalled(_) => 0,
            StopRequest::KillFailed(_, Errno::EPERM | Errno::EACCES) => 4,
            StopRequest::KillFailed(..) => 1,
        }
    }
}

/// `heartbeat -k`, first half: read the pid file and send SIGTERM.
pub fn request_stop(path: &Path) -> Result<StopRequest, PidfileError> {
    Ok(match status(path)? {
        Status::Stopped | Status::Stale(_) => StopRequest::AlreadyStopped,
        Status::Running(pid) => match kill(Pid::from_raw(pid), Signal::SIGTERM) {
            Ok(()) => StopRequest::Signalled(pid),
            Err(Errno::ESRCH) => StopRequest::AlreadyStopped,
            Err(e) => StopRequest::KillFailed(pid, e),
        },
    })
}

/// `heartbeat -k`, second half: poll once per `interval` until `pid` is gone (heartbeat
/// polls every second with no time limit; the daemon releases its resources meanwhile).
#[allow(clippy::disallowed_methods)] // a CLI waiting on another process, not the event loop
pub fn wait_gone(pid: i32, interval: std::time::Duration) {
    while is_alive(pid) {
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests spawn throw-away processes to signal
mod tests {
    use super::*;

    /// A pid that is certainly not running: a reaped child's.
    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id() as i32;
        child.wait().expect("wait");
        pid
    }

    #[test]
    fn layout_matches_cluster_glue() {
        assert_eq!(format_pid(4711), "      4711\n");
        assert_eq!(parse_pid(b"      4711\n"), Some(4711));
        assert_eq!(parse_pid(b"4711"), Some(4711));
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"-5\n"), None);
        assert_eq!(parse_pid(b"0\n"), None);
        assert_eq!(parse_pid(b"\xff\xfe"), None);
        assert_eq!(parse_pid(b"99999999999999"), None);
    }

    #[test]
    fn status_running_stopped_stale() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heartbeat.pid");
        assert_eq!(status(&p).unwrap(), Status::Stopped);
        assert_eq!(Status::Stopped.exit_code(), 3);
        let me = std::process::id() as i32;
        fs::write(&p, format_pid(me)).unwrap();
        let st = status(&p).unwrap();
        assert_eq!(st, Status::Running(me));
        assert_eq!(st.exit_code(), 0);
        assert_eq!(
            st.describe("Node1", "node1"),
            format!("heartbeat OK [pid {me} et al] is running on node1 [node1]...")
        );
        let dead = dead_pid();
        fs::write(&p, format_pid(dead)).unwrap();
        assert_eq!(status(&p).unwrap(), Status::Stale(Some(dead)));
        assert_eq!(status(&p).unwrap().exit_code(), 1);
        fs::write(&p, "garbage").unwrap();
        assert_eq!(status(&p).unwrap(), Status::Stale(None));
        assert_eq!(
            Status::Stale(None).describe("x", "y"),
            "heartbeat is stopped. No process"
        );
    }

    #[test]
    fn lock_creates_replaces_stale_and_refuses_live() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heartbeat.pid");
        let me = std::process::id() as i32;
        lock(&p, me).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), format_pid(me));
        lock(&p, me).unwrap(); // re-exec of the same pid
        // Another (fake) pid while we are alive: refused.
        match lock(&p, dead_pid()) {
            Err(PidfileError::AlreadyRunning(pid)) => assert_eq!(pid, me),
            other => panic!("{other:?}"),
        }
        // A stale file is taken over.
        let dead = dead_pid();
        fs::write(&p, format_pid(dead)).unwrap();
        lock(&p, me).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), format_pid(me));
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn reexec_requires_the_pid_file_to_name_us() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heartbeat.pid");
        let me = std::process::id() as i32;
        let refused = |r: Result<(), PidfileError>| match r {
            Err(PidfileError::Refused(x)) => x,
            other => panic!("{other:?}"),
        };
        let r = refused(check_reexec(&p, me));
        assert_eq!(
            (r.to_string().as_str(), r.exit_code()),
            ("heartbeat is not running.", 6)
        );
        fs::write(&p, format_pid(1)).unwrap(); // pid 1: alive, not us
        let r = refused(check_reexec(&p, me));
        assert_eq!(r, ReexecRefusal::OtherRunning(1));
        assert_eq!(r.to_string(), "Heartbeat already running [pid 1].");
        assert_eq!(r.exit_code(), 1);
        fs::write(&p, format_pid(me)).unwrap();
        check_reexec(&p, me).unwrap();
    }

    #[test]
    fn stop_request_on_absent_or_stale_file_is_already_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heartbeat.pid");
        assert_eq!(request_stop(&p).unwrap(), StopRequest::AlreadyStopped);
        fs::write(&p, format_pid(dead_pid())).unwrap();
        assert_eq!(request_stop(&p).unwrap(), StopRequest::AlreadyStopped);
        assert_eq!(StopRequest::AlreadyStopped.exit_code(), 0);
        assert_eq!(StopRequest::KillFailed(1, Errno::EPERM).exit_code(), 4);
        assert_eq!(StopRequest::KillFailed(1, Errno::EINVAL).exit_code(), 1);
    }

    #[test]
    fn stop_request_signals_the_process_and_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("heartbeat.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        fs::write(&p, format_pid(pid)).unwrap();
        assert_eq!(request_stop(&p).unwrap(), StopRequest::Signalled(pid));
        let st = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGTERM));
        wait_gone(pid, std::time::Duration::from_millis(10));
        assert!(!is_alive(pid));
    }
}
