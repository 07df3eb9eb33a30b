//! Running one resource operation the way heartbeat's ResourceManager does (behaviour spec
//! §2.4–2.6, §4.4): `SCRIPT [ARG...] start|stop|status`, resolved in `resource.d` then
//! `init.d`, stdin `/dev/null`, start/stop output appended to the debug log, status output
//! captured and interpreted, a clean documented environment, its own process group.
//!
//! Two ways to use it:
//! * the daemon: [`spawn`] returns a [`Running`] whose [`Running::pidfd`] (readable when the
//!   child exits) and [`Running::stdout_fd`] (status output) are registered with mio; on
//!   readiness call [`Running::drain`] / [`Running::try_reap`]; at [`Running::deadline`]
//!   call [`Running::kill`]. `try_reap` must be the only reaper of this pid.
//! * tools and tests: [`run_blocking`].
//!
//! The interpretation of status output is the pure function [`status_says_running`].

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::config::{AutoFailback, Config};

/// Where heartbeat looks for resource scripts, in order (§2.4).
pub const RESOURCE_DIR: &str = "/etc/ha.d/resource.d";
pub const INIT_DIR: &str = "/etc/init.d";
/// Status output kept for interpretation; the rest is read and dropped so a chatty script
/// cannot block on a full pipe nor grow the daemon.
pub const MAX_STATUS_OUTPUT: usize = 64 * 1024;
/// PATH given to scripts (heartbeat's own helper directories included, as its shellfuncs do).
pub const DEFAULT_PATH: &str = "/usr/share/heartbeat:/usr/libexec/heartbeat:/usr/local/sbin:\
/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The environment heartbeat gives every script (§2.5, §4.4, §9.1). Nothing is inherited
/// from the daemon's own environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEnv {
    /// `HA_CURHOST`: the local node name.
    pub cur_host: String,
    /// `HA_DIR` (`HA_FUNCS` is `HA_DIR/shellfuncs`).
    pub ha_dir: PathBuf,
    /// `HA_LOGFILE` (empty when there is none).
    pub logfile: Option<PathBuf>,
    /// `HA_DEBUGLOG` (empty when there is none); start/stop output is appended to it.
    pub debuglog: Option<PathBuf>,
    /// `HA_LOGFACILITY`, unset when `None`.
    pub log_facility: Option<String>,
    /// `HA_debug`, set when > 0.
    pub debug: u8,
    /// `HA_LOGD=yes|no`.
    pub logd: bool,
    /// `HA_NICEFAILBACK=yes` in the nice_failback modes (auto_failback on/off).
    pub nice_failback: bool,
    /// `env NAME=VALUE` directives, exported as `HA_NAME=VALUE`.
    pub extra: Vec<(String, String)>,
    pub path: String,
}

impl ScriptEnv {
    pub fn new(cur_host: &str) -> ScriptEnv {
        ScriptEnv {
            cur_host: cur_host.to_owned(),
            ha_dir: PathBuf::from("/etc/ha.d"),
            logfile: None,
            debuglog: None,
            log_facility: None,
            debug: 0,
            logd: false,
            nice_failback: false,
            extra: Vec::new(),
            path: DEFAULT_PATH.to_owned(),
        }
    }

    pub fn from_config(cfg: &Config, cur_host: &str) -> ScriptEnv {
        ScriptEnv {
            ha_dir: cfg.dir.clone(),
            logfile: cfg.logging.logfile.clone(),
            debuglog: cfg.logging.debugfile.clone(),
            log_facility: cfg
                .logging
                .facility
                .map(|f| format!("{f:?}").to_ascii_lowercase()),
            debug: cfg.logging.debug,
            logd: cfg.logging.use_logd,
            nice_failback: cfg.auto_failback != AutoFailback::Legacy,
            extra: cfg.env.clone(),
            ..ScriptEnv::new(cur_host)
        }
    }

    /// The variables, in a fixed order (pure; tested).
    pub fn vars(&self) -> Vec<(OsString, OsString)> {
        let mut v: Vec<(OsString, OsString)> = Vec::new();
        let mut put = |k: &str, val: OsString| v.push((OsString::from(k), val));
        let path_or_empty =
            |p: &Option<PathBuf>| p.as_ref().map_or_else(OsString::new, |p| p.into());
        put("HA_CURHOST", self.cur_host.clone().into());
        put("HA_DIR", self.ha_dir.clone().into());
        put("HA_FUNCS", self.ha_dir.join("shellfuncs").into());
        put("HA_DATEFMT", "%Y/%m/%d_%T\t".into());
        put("HA_LOGFILE", path_or_empty(&self.logfile));
        put("HA_DEBUGLOG", path_or_empty(&self.debuglog));
        if let Some(f) = &self.log_facility {
            put("HA_LOGFACILITY", f.into());
        }
        put("OCF_ROOT", "/usr/lib/ocf".into());
        if self.debug > 0 {
            put("HA_debug", self.debug.to_string().into());
        }
        put("HA_LOGD", if self.logd { "yes" } else { "no" }.into());
        if self.nice_failback {
            put("HA_NICEFAILBACK", "yes".into());
        }
        for (k, val) in &self.extra {
            // A name that cannot be an environment variable name is skipped, not passed
            // half-formed.
            if !k.is_empty() && !k.contains('=') && !k.contains('\0') && !val.contains('\0') {
                put(&format!("HA_{k}"), val.into());
            }
        }
        put("LC_ALL", "C".into());
        put("PATH", self.path.clone().into());
        v
    }
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
    /// The debug log could not be opened for appending.
    DebugLog {
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
            ScriptError::DebugLog { path, err } => {
                write!(f, "cannot append to debug log {}: {err}", path.display())
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
    let has_running = |s: &[u8]| find(s, b"running").or_else(|| find(s, b"Running"));
    let mut i = 0;
    while i + 4 <= out.len() {
        let w = &out[i..i + 4];
        if w[..3].eq_ignore_ascii_case(b"not")
            && w[3] == b' '
            && has_running(&out[i + 4..]).is_some()
        {
            return false;
        }
        i += 1;
    }
    has_running(out).is_some() || find(out, b"OK").is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A spawned operation.
#[derive(Debug)]
pub struct Running {
    pub path: PathBuf,
    pub op: Op,
    child: Child,
    pidfd: Option<OwnedFd>,
    stdout: Option<ChildStdout>,
    output: Vec<u8>,
    deadline: Option<Instant>,
    killed: bool,
}

/// Start one operation without waiting for it.
#[allow(clippy::disallowed_methods)] // the edge spawns and reads the clock
pub fn spawn(dirs: &ScriptDirs, env: &ScriptEnv, req: &Request) -> Result<Running, ScriptError> {
    let path = dirs
        .resolve(&req.script)
        .ok_or_else(|| ScriptError::NotFound {
            script: req.script.clone(),
        })?;
    let log = open_debuglog(env.debuglog.as_deref())?;
    let log2 = log.try_clone().map_err(|err| ScriptError::DebugLog {
        path: debuglog_path(env),
        err,
    })?;
    let mut cmd = Command::new(&path);
    cmd.args(&req.args)
        .arg(req.op.as_str())
        .env_clear()
        .envs(env.vars())
        .stdin(Stdio::null())
        .stderr(Stdio::from(log2))
        // Its own process group, so a timeout kills the script and all it started.
        .process_group(0);
    match req.op {
        Op::Status => cmd.stdout(Stdio::piped()),
        Op::Start | Op::Stop => cmd.stdout(Stdio::from(log)),
    };
    let mut child = cmd.spawn().map_err(|err| ScriptError::Spawn {
        path: path.clone(),
        err,
    })?;
    let stdout = child.stdout.take();
    if let Some(s) = &stdout {
        // Read whatever is there on readiness; never block the event loop.
        let fl = fcntl(s, FcntlArg::F_GETFL).unwrap_or(0);
        let _ = fcntl(
            s,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
        );
    }
    Ok(Running {
        pidfd: pidfd_open(child.id()),
        path,
        op: req.op,
        child,
        stdout,
        output: Vec::new(),
        deadline: req.timeout.map(|t| Instant::now() + t),
        killed: false,
    })
}

fn debuglog_path(env: &ScriptEnv) -> PathBuf {
    env.debuglog
        .clone()
        .unwrap_or_else(|| PathBuf::from("/dev/null"))
}

fn open_debuglog(p: Option<&Path>) -> Result<File, ScriptError> {
    let path = p.unwrap_or(Path::new("/dev/null"));
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| ScriptError::DebugLog {
            path: path.to_owned(),
            err,
        })
}

/// A pidfd (readable once the process has exited) for the event loop; `None` on kernels
/// before 5.3, where the caller falls back to SIGCHLD.
#[allow(unsafe_code)]
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = nix::libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it
    // touches no memory of ours.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Readable when the script has exited (register with mio).
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// The status output pipe (register with mio); `None` for start/stop.
    pub fn stdout_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stdout.as_ref().map(|s| s.as_fd())
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Read what the status pipe holds now, without blocking.
    pub fn drain(&mut self) {
        let Some(out) = self.stdout.as_mut() else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match out.read(&mut buf) {
                Ok(0) => {
                    self.stdout = None;
                    return;
                }
                Ok(n) => {
                    let room = MAX_STATUS_OUTPUT.saturating_sub(self.output.len());
                    self.output
                        .extend_from_slice(buf.get(..n.min(room)).unwrap_or(&[]));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return, // WouldBlock (or a broken pipe): try again later
            }
        }
    }

    /// Kill the script's whole process group (timeout, or shutdown).
    pub fn kill(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        self.killed = true;
    }

    /// Reap the script if it has exited. Output a background child of the script still
    /// writes after this is not waited for (heartbeat's scripts background send_arp).
    pub fn try_reap(&mut self) -> Result<Option<Outcome>, ScriptError> {
        let st = self.child.try_wait().map_err(|err| ScriptError::Wait {
            path: self.path.clone(),
            err,
        })?;
        let Some(st) = st else {
            return Ok(None);
        };
        self.drain();
        let exit = if self.killed {
            Exit::TimedOut
        } else if let Some(c) = st.code() {
            Exit::Code(c)
        } else {
            Exit::Signal(st.signal().unwrap_or(0))
        };
        Ok(Some(Outcome {
            op: self.op,
            exit,
            output: std::mem::take(&mut self.output),
        }))
    }
}

/// Run one operation to its end (tools, tests). Honours the request's timeout.
#[allow(clippy::disallowed_methods)] // the edge reads the clock
pub fn run_blocking(
    dirs: &ScriptDirs,
    env: &ScriptEnv,
    req: &Request,
) -> Result<Outcome, ScriptError> {
    let mut r = spawn(dirs, env, req)?;
    loop {
        r.drain();
        if let Some(o) = r.try_reap()? {
            return Ok(o);
        }
        let now = Instant::now();
        if let Some(d) = r.deadline {
            if now >= d {
                r.kill();
                continue;
            }
        }
        // Wait for the exit (pidfd) or output; without a pidfd, re-check every 10 ms.
        let wait_ms = match (r.deadline, r.pidfd.is_some()) {
            (Some(d), true) => d.saturating_duration_since(now).as_millis(),
            (None, true) => u128::from(u16::MAX),
            (Some(d), false) => d.saturating_duration_since(now).as_millis().min(10),
            (None, false) => 10,
        };
        let timeout = PollTimeout::from(u16::try_from(wait_ms.max(1)).unwrap_or(u16::MAX));
        let mut fds = Vec::with_capacity(2);
        if let Some(p) = r.pidfd.as_ref() {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        if let Some(s) = r.stdout.as_ref() {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
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

    #[test]
    fn resolve_refuses_paths() {
        let d = ScriptDirs::default();
        assert_eq!(d.resolve("../../bin/sh"), None);
        assert_eq!(d.resolve(""), None);
        assert_eq!(d.resolve(".."), None);
    }

    #[test]
    fn env_is_heartbeats() {
        let mut e = ScriptEnv::new("node1");
        e.logfile = Some("/var/log/ha-log".into());
        e.extra = vec![
            ("FOO".into(), "bar baz".into()),
            ("BAD=".into(), "x".into()),
        ];
        e.nice_failback = true;
        let v: Vec<(String, String)> = e
            .vars()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.into_string().unwrap_or_default(),
                    v.into_string().unwrap_or_default(),
                )
            })
            .collect();
        let get = |k: &str| v.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HA_CURHOST"), Some("node1"));
        assert_eq!(get("HA_DIR"), Some("/etc/ha.d"));
        assert_eq!(get("HA_FUNCS"), Some("/etc/ha.d/shellfuncs"));
        assert_eq!(get("HA_DATEFMT"), Some("%Y/%m/%d_%T\t"));
        assert_eq!(get("HA_LOGFILE"), Some("/var/log/ha-log"));
        assert_eq!(get("HA_DEBUGLOG"), Some(""));
        assert_eq!(get("HA_LOGFACILITY"), None);
        assert_eq!(get("HA_debug"), None);
        assert_eq!(get("HA_LOGD"), Some("no"));
        assert_eq!(get("HA_NICEFAILBACK"), Some("yes"));
        assert_eq!(get("HA_FOO"), Some("bar baz"));
        assert_eq!(get("HA_BAD="), None);
        assert_eq!(get("LC_ALL"), Some("C"));
        assert_eq!(get("OCF_ROOT"), Some("/usr/lib/ocf"));
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
    }
}
