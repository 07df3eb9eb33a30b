//! Running one resource operation the way heartbeat's ResourceManager does (behaviour spec
//! §2.4–2.6): `SCRIPT [ARG...] start|stop|status`, resolved in `resource.d` then `init.d`,
//! on top of [`sys::spawn`] (own process group, stdin `/dev/null`, output appended to the
//! debug log, the `HA_*` environment of `sys::daemon::script_env`). A status operation's
//! stdout alone goes to a capture file and is interpreted by [`status_says_running`].
//!
//! Two ways to use it:
//! * the daemon: [`spawn`] returns a [`Running`]; register [`Running::pidfd`] (readable when
//!   the script exits) with mio, or call [`Running::try_reap`] on SIGCHLD; at
//!   [`Running::deadline`] call [`Running::kill`].
//! * tools and tests: [`run_blocking`].
//!
//! [`sys::spawn`]: crate::sys::spawn

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use crate::sys::spawn as sp;

/// Where heartbeat looks for resource scripts, in order (§2.4).
pub const RESOURCE_DIR: &str = "/etc/ha.d/resource.d";
pub const INIT_DIR: &str = "/etc/init.d";
/// The notification runner in the configuration directory (behaviour spec §4.4), and the
/// directory of the scripts it runs.
pub const HARC: &str = "harc";
pub const RC_DIR: &str = "rc.d";
/// Status output kept for interpretation; the rest is read and dropped so a chatty script
/// cannot block on a full pipe nor grow the daemon.
pub const MAX_STATUS_OUTPUT: usize = 64 * 1024;
/// The operation, always passed as the last argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Start,
    Stop,
    Status,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Status => "status",
        }
    }
}

/// The two directories searched for a script; injectable for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptDirs {
    pub resource_dir: PathBuf,
    pub init_dir: PathBuf,
}

impl Default for ScriptDirs {
    fn default() -> Self {
        ScriptDirs {
            resource_dir: PathBuf::from(RESOURCE_DIR),
            init_dir: PathBuf::from(INIT_DIR),
        }
    }
}

impl ScriptDirs {
    /// The first of `resource_dir/NAME`, `init_dir/NAME` that is a regular, executable file.
    /// A name with a `/`, `.` or `..` is refused: haresources names a script, not a path.
    pub fn resolve(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return None;
        }
        [&self.resource_dir, &self.init_dir]
            .into_iter()
            .map(|d| d.join(name))
            .find(|p| is_executable_file(p))
    }
}

/// The names in `CONFIG_DIR/rc.d` (none if it cannot be read), as heartbeat lists it for
/// deciding which messages are notifications; whether each is executable is `harc`'s
/// business when it runs.
pub fn rc_scripts(config_dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(config_dir.join(RC_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The warning for rc.d scripts that would be notified (`cluster::rcd::routed`) while
/// `CONFIG_DIR/harc`, which runs them, is missing or not executable (heartbeat-rs does not
/// ship it; heartbeat's package does).
pub fn harc_missing(config_dir: &Path, rc: &[String]) -> Option<String> {
    let routed: Vec<&str> = rc
        .iter()
        .map(String::as_str)
        .filter(|n| crate::cluster::rcd::routed(n))
        .collect();
    let harc = config_dir.join(HARC);
    if routed.is_empty() || is_executable_file(&harc) {
        return None;
    }
    Some(format!(
        "heartbeat-rs: {} is missing or not executable: the rc.d notification scripts {} will not run",
        harc.display(),
        routed.join(" ")
    ))
}

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Everything a resource operation needs besides the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub dirs: ScriptDirs,
    /// Added to the daemon's environment: `sys::daemon::script_env` (HA_CURHOST, HA_DIR,
    /// HA_FUNCS, HA_DATEFMT, HA_LOGFILE, HA_DEBUGLOG, HA_LOGFACILITY, OCF_ROOT, HA_debug,
    /// HA_LOGD, HA_NICEFAILBACK, HA_<env directives>).
    pub env: Vec<(String, String)>,
    /// `HA_DEBUGLOG`: start/stop output (and status stderr) is appended here.
    pub debuglog: Option<PathBuf>,
    /// A directory only the daemon writes (e.g. the reset-at-start rsctmp), for the
    /// short-lived status capture files.
    pub capture_dir: PathBuf,
}

/// One operation to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub script: String,
    pub args: Vec<String>,
    pub op: Op,
    /// heartbeat has none (a hanging script hangs the group); ours is optional.
    pub timeout: Option<Duration>,
}

#[derive(Debug)]
pub enum ScriptError {
    /// `ERROR: Cannot locate resource script S` (heartbeat treats it as a failure, and a
    /// status as "not running").
    NotFound {
        script: String,
    },
    /// The status capture file could not be created.
    Capture {
        path: PathBuf,
        err: std::io::Error,
    },
    Spawn {
        path: PathBuf,
        err: std::io::Error,
    },
    Wait {
        path: PathBuf,
        err: std::io::Error,
    },
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptError::NotFound { script } => write!(f, "Cannot locate resource script {script}"),
            ScriptError::Capture { path, err } => {
                write!(f, "cannot create {}: {err}", path.display())
            }
            ScriptError::Spawn { path, err } => write!(f, "cannot run {}: {err}", path.display()),
            ScriptError::Wait { path, err } => {
                write!(f, "cannot wait for {}: {err}", path.display())
            }
        }
    }
}

impl std::error::Error for ScriptError {}

/// How the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Killed (with its process group) because the request's timeout passed.
    TimedOut,
}

/// The result of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub op: Op,
    pub exit: Exit,
    /// Standard output of a status operation (at most [`MAX_STATUS_OUTPUT`] bytes).
    pub output: Vec<u8>,
}

impl Outcome {
    /// heartbeat's verdict: start/stop succeed on exit 0; a status says "running" by its
    /// output alone (the exit code is ignored, §2.6).
    pub fn ok(&self) -> bool {
        match self.op {
            Op::Start | Op::Stop => self.exit == Exit::Code(0),
            Op::Status => self.exit != Exit::TimedOut && status_says_running(&self.output),
        }
    }
}

/// §2.6, byte for byte: `not ` (any case) followed later by `running`/`Running` means
/// stopped; otherwise `running`, `Running` or `OK` anywhere means running. Hence the quirks:
/// `NOT OK` is running, `RUNNING` is stopped, empty output is stopped.
pub fn status_says_running(out: &[u8]) -> bool {
    // "not " followed later by running  <=>  the first "not " starts at least 4 bytes
    // before the last "running"/"Running" (linear, whatever the output).
    let first_not = out
        .windows(4)
        .position(|w| w[..3].eq_ignore_ascii_case(b"not") && w[3] == b' ');
    let last_running = rfind(out, b"running").max(rfind(out, b"Running"));
    if let (Some(n), Some(r)) = (first_not, last_running)
        && r >= n + 4
    {
        return false;
    }
    last_running.is_some() || find(out, b"OK").is_some()
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A spawned operation.
#[derive(Debug)]
pub struct Running {
    pub path: PathBuf,
    pub op: Op,
    pid: i32,
    pidfd: Option<OwnedFd>,
    capture: Option<PathBuf>,
    deadline: Option<Instant>,
    killed: bool,
}

static CAPTURES: AtomicU64 = AtomicU64::new(0);

/// Start one operation without waiting for it.
#[allow(clippy::disallowed_methods)] // the edge reads the clock
pub fn spawn(ctx: &Context, req: &Request) -> Result<Running, ScriptError> {
    let path = ctx
        .dirs
        .resolve(&req.script)
        .ok_or_else(|| ScriptError::NotFound {
            script: req.script.clone(),
        })?;
    let capture = match req.op {
        Op::Status => {
            let n = CAPTURES.fetch_add(1, Ordering::Relaxed);
            let p = ctx
                .capture_dir
                .join(format!(".status-{}-{n}", std::process::id()));
            // create_new: never follow or reuse what someone else put there.
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
                .map_err(|err| ScriptError::Capture {
                    path: p.clone(),
                    err,
                })?;
            Some(p)
        }
        Op::Start | Op::Stop => None,
    };
    let spec = sp::Spec {
        program: path.clone(),
        args: req
            .args
            .iter()
            .map(Into::into)
            .chain(std::iter::once(req.op.as_str().into()))
            .collect(),
        env: ctx.env.clone(),
        output: ctx.debuglog.clone(),
    };
    let pid = match sp::spawn_capturing(&spec, capture.as_deref()) {
        Ok(pid) => pid,
        Err(err) => {
            if let Some(c) = &capture {
                let _ = std::fs::remove_file(c);
            }
            return Err(ScriptError::Spawn { path, err });
        }
    };
    Ok(Running {
        pidfd: pidfd_open(pid),
        path,
        op: req.op,
        pid,
        capture,
        deadline: req.timeout.map(|t| Instant::now() + t),
        killed: false,
    })
}

/// A pidfd (readable once the process has exited) for the event loop; `None` on kernels
/// before 5.3, where the caller relies on SIGCHLD.
#[allow(unsafe_code)]
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it
    // touches no memory of ours.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Running {
    /// Also the script's process group id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Readable when the script has exited (register with mio).
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Kill the script's whole process group (timeout, or shutdown).
    pub fn kill(&mut self) {
        let _ = sp::signal_group(self.pid, Signal::SIGKILL);
        self.killed = true;
    }

    /// Reap the script if it has exited (never blocks). A background child of the script
    /// (heartbeat's scripts background send_arp) is not waited for.
    pub fn try_reap(&mut self) -> Option<Outcome> {
        let (_, st) = sp::reap([self.pid]).into_iter().next()?;
        let exit = match (self.killed, st) {
            (true, _) => Exit::TimedOut,
            (false, sp::Exit::Code(c)) => Exit::Code(c),
            (false, sp::Exit::Signal(s)) => Exit::Signal(s),
        };
        let output = self
            .capture
            .take()
            .map(|p| read_capture(&p))
            .unwrap_or_default();
        Some(Outcome {
            op: self.op,
            exit,
            output,
        })
    }
}

fn read_capture(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.take(MAX_STATUS_OUTPUT as u64).read_to_end(&mut out);
    }
    let _ = std::fs::remove_file(p);
    out
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(p) = self.capture.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Run one operation to its end (tools, tests). Honours the request's timeout.
#[allow(clippy::disallowed_methods)] // the edge reads the clock
pub fn run_blocking(ctx: &Context, req: &Request) -> Result<Outcome, ScriptError> {
    let mut r = spawn(ctx, req)?;
    loop {
        if let Some(o) = r.try_reap() {
            return Ok(o);
        }
        let now = Instant::now();
        if let Some(d) = r.deadline
            && now >= d
            && !r.killed
        {
            r.kill();
            continue;
        }
        // Wait for the exit (pidfd) up to the deadline; without a pidfd, re-check every
        // 10 ms.
        let left = r
            .deadline
            .filter(|_| !r.killed)
            .map(|d| d.saturating_duration_since(now));
        let wait = match (left, r.pidfd.is_some()) {
            (Some(l), true) => l,
            (None, true) => Duration::from_millis(u64::from(u16::MAX)),
            (Some(l), false) => l.min(Duration::from_millis(10)),
            (None, false) => Duration::from_millis(10),
        };
        let ms = u16::try_from(wait.as_millis().max(1)).unwrap_or(u16::MAX);
        let res = match r.pidfd.as_ref() {
            Some(p) => poll(
                &mut [PollFd::new(p.as_fd(), PollFlags::POLLIN)],
                PollTimeout::from(ms),
            ),
            None => poll(&mut [], PollTimeout::from(ms)),
        };
        match res {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(ScriptError::Wait {
                    path: r.path.clone(),
                    err: std::io::Error::from_raw_os_error(e as i32),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_interpretation_follows_heartbeat() {
        let running = |s: &str| status_says_running(s.as_bytes());
        assert!(running("INFO:  Running OK\n"));
        assert!(running("httpd (pid 42) is running...\n"));
        assert!(running("all OK"));
        assert!(!running("INFO:  Resource is stopped\n"));
        assert!(!running("httpd is not running\n"));
        assert!(!running("NOT running"));
        assert!(!running("Not Running"));
        assert!(!running(""));
        assert!(!running("stopped"));
        // quirks
        assert!(running("NOT OK"));
        assert!(!running("RUNNING"));
        // "not" without a following space does not negate
        assert!(running("nothing running"));
        // the negation needs "running" AFTER it
        assert!(running("running; not stopped"));
        assert!(!running("running; not running"));
    }

    /// The definition of §2.6 written the slow, obvious way.
    fn reference(out: &[u8]) -> bool {
        let has = |s: &[u8], w: &[u8]| s.windows(w.len()).any(|x| x == w);
        let negated = (0..out.len()).any(|i| {
            out.get(i..i + 4).is_some_and(|w| {
                w[..3].eq_ignore_ascii_case(b"not")
                    && w[3] == b' '
                    && (has(&out[i + 4..], b"running") || has(&out[i + 4..], b"Running"))
            })
        });
        !negated && (has(out, b"running") || has(out, b"Running") || has(out, b"OK"))
    }

    #[test]
    fn linear_status_matches_the_definition() {
        let words: [&[u8]; 8] = [
            b"not ", b"NoT ", b"running", b"Running", b"OK", b"RUNNING", b"x", b" ",
        ];
        // every sequence of up to 4 words
        let mut cases: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let next: Vec<Vec<u8>> = cases
                .iter()
                .flat_map(|c| words.iter().map(move |w| [c.as_slice(), w].concat()))
                .collect();
            cases.extend(next);
        }
        for c in &cases {
            assert_eq!(
                status_says_running(c),
                reference(c),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        // overlapping: "not running" where the "running" starts inside nothing else
        assert!(!status_says_running(b"notrunning not running"));
    }

    #[test]
    fn rc_d_is_listed_and_a_missing_harc_is_reported_only_when_it_matters() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path();
        assert!(rc_scripts(etc).is_empty(), "no rc.d: nothing");
        std::fs::create_dir(etc.join(RC_DIR)).unwrap();
        for n in ["status", "ifstat", ".ifstat.swp", "ip-request"] {
            std::fs::write(etc.join(RC_DIR).join(n), "").unwrap();
        }
        let rc = rc_scripts(etc);
        assert_eq!(rc, ["ifstat", "ip-request", "status"]);
        // Only native types: harc is never needed.
        let native = vec!["status".to_string(), "ip-request".to_string()];
        assert_eq!(harc_missing(etc, &native), None);
        let warn = harc_missing(etc, &rc).unwrap_or_default();
        assert!(
            warn.ends_with("harc is missing or not executable: the rc.d notification scripts ifstat will not run"),
            "{warn}"
        );
        let harc = etc.join(HARC);
        std::fs::write(&harc, "#!/bin/sh\n").unwrap();
        assert!(harc_missing(etc, &rc).is_some(), "not executable");
        std::fs::set_permissions(&harc, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(harc_missing(etc, &rc), None);
    }

    #[test]
    fn resolve_refuses_paths() {
        let d = ScriptDirs::default();
        assert_eq!(d.resolve("../../bin/sh"), None);
        assert_eq!(d.resolve(""), None);
        assert_eq!(d.resolve(".."), None);
    }
}
