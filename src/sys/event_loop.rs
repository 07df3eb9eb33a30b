//! The daemon's one pump (architecture.md §1 rule 3): OS events become core `Input`s, the
//! core's `Action`s become syscalls, and the thread sleeps in `epoll` until the core's next
//! deadline or the next event. No protocol decision is made here: everything below only
//! translates.
//!
//! Order at start (heartbeat's, §4.5): state (generation persisted, UUID) before anything is
//! sent, then the FIFO, the media, realtime, and only then the core is created.
//!
//! [`route`] and [`pump`] take the edge as a trait object ([`Edge`]) so the routing of every
//! action can be unit-tested with a recording fake; [`Daemon`] is the real edge.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mio::{Events, Interest, Poll, Token};

use crate::cluster::{
    Action, Boot, Cluster, ClusterConfig, ClusterError, Command, Hold, Input, Job, JobId, JobOp,
    Notice, Priority,
};
use crate::config::{AuthKeys, Config, NodeName};
use crate::sys::clock::{self, Clock};
use crate::sys::fifo::{self, CommandFifo};
use crate::sys::log::{Level, Router, Stamp};
use crate::sys::media::Link;
use crate::sys::ping::{self, PingSocket};
use crate::sys::reboot::Reboot;
use crate::sys::reload::{Change, ConfigStamps};
use crate::sys::signals::{Sig, Signals};
use crate::sys::spawn;
use crate::sys::state;
use crate::sys::watchdog::Watchdog;
use crate::time::Instant;
use crate::wire;

/// Where the daemon keeps its files. Heartbeat's paths by default; tests and the lab point
/// them into temporary directories (`--pidfile`, `--state-dir`, `--run-dir`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// `/run/heartbeat.pid`.
    pub pidfile: PathBuf,
    /// `/var/lib/heartbeat`: `hb_generation`, `hb_uuid`, `fifo`, `cores/`.
    pub state_dir: PathBuf,
    /// `/run/heartbeat`: `rsctmp/` (scratch for scripts, emptied at start).
    pub run_dir: PathBuf,
    /// UUCP lock directory for serial media (`/var/lock`).
    pub lock_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Paths {
        Paths {
            pidfile: crate::sys::pidfile::PIDFILE.into(),
            state_dir: state::STATE_DIR.into(),
            run_dir: "/run/heartbeat".into(),
            lock_dir: crate::sys::serial::LOCK_DIR.into(),
        }
    }
}

impl Paths {
    pub fn fifo(&self) -> PathBuf {
        if self.state_dir == Path::new(state::STATE_DIR) {
            fifo::FIFO_PATH.into()
        } else {
            self.state_dir.join("fifo")
        }
    }
    pub fn rsctmp(&self) -> PathBuf {
        self.run_dir.join("rsctmp")
    }
}

/// How the command line wants the daemon run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub paths: Paths,
    /// `realtime` in ha.cf and no `-l`.
    pub realtime: bool,
    /// `-M`: membership only, no resource groups.
    pub manage_resources: bool,
}

/// Why the daemon could not start.
#[derive(Debug)]
pub enum StartError {
    State(state::StateError),
    Io(&'static str, io::Error),
    /// No medium could be opened.
    NoMedia,
    Cluster(ClusterError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::State(e) => write!(f, "{}: {e}", state::GENERATION_FAILURE),
            StartError::Io(what, e) => write!(f, "{what}: {e}"),
            StartError::NoMedia => f.write_str("No working communication media. Shutting down."),
            StartError::Cluster(e) => write!(f, "cannot start the cluster core: {e:?}"),
        }
    }
}

impl std::error::Error for StartError {}

// ---------------------------------------------------------------------------------------
// Pure translation helpers
// ---------------------------------------------------------------------------------------

/// Heartbeat's log priority word for a core notice.
pub fn level_of(p: Priority) -> Level {
    match p {
        Priority::Debug => Level::Debug,
        Priority::Info => Level::Info,
        Priority::Warn => Level::Warn,
        Priority::Err => Level::Error,
        Priority::Crit => Level::Crit,
    }
}

/// What a `status` call printed means (behaviour spec §2.6; the exit code is ignored):
/// `not ` (any case) followed later by `running`/`Running` → stopped; else `running`,
/// `Running` or `OK` → running; else stopped.
pub fn status_says_running(out: &[u8]) -> bool {
    let has_running = |s: &[u8]| s.windows(7).any(|w| w == b"running" || w == b"Running");
    let negated = out.windows(4).enumerate().any(|(i, w)| {
        w[0].eq_ignore_ascii_case(&b'n')
            && w[1].eq_ignore_ascii_case(&b'o')
            && w[2].eq_ignore_ascii_case(&b't')
            && w[3] == b' '
            && out.get(i + 4..).is_some_and(has_running)
    });
    if negated {
        return false;
    }
    has_running(out) || out.windows(2).any(|w| w == b"OK")
}

/// Resource script resolution (§2.4): `DIR/resource.d/S`, then `/etc/init.d/S`, the first
/// regular executable file wins.
pub fn resolve_script(config_dir: &Path, script: &str) -> Option<PathBuf> {
    if script.is_empty() || script.contains('/') {
        return None;
    }
    [
        config_dir.join("resource.d").join(script),
        Path::new("/etc/init.d").join(script),
    ]
    .into_iter()
    .find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// A FIFO message (`>>>\nname=value\n…<<<\n`, §8.4) as the administrative command it
/// carries: `hb_standby` writes `t=ask_resources rsc_hold=SET info=me`, `hb_takeover`
/// writes `t=hb_takeover rsc_hold=WORD`. `None` for anything else.
pub fn fifo_command(msg: &[u8]) -> Option<Command> {
    let text = std::str::from_utf8(msg).ok()?;
    let fields: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    match (fields.get("t")?, fields.get("rsc_hold")) {
        (&"ask_resources", Some(set)) if fields.get("info") == Some(&"me") => {
            Hold::parse(set).map(Command::Standby)
        }
        (&"hb_takeover", Some(set)) => Some(Command::Takeover((*set).to_owned())),
        _ => None,
    }
}

/// The `t=` of a FIFO message, for the log line of one that is not understood.
fn fifo_type(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg)
        .lines()
        .find_map(|l| l.strip_prefix("t=").map(str::to_owned))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------

/// The syscalls an action can turn into. `Daemon` is the real one; tests record.
pub trait Edge {
    fn send(&mut self, medium: usize, bytes: &[u8]);
    fn ping(&mut self, host: &str);
    /// Starts a script. When it cannot even start, the outcome to feed back.
    fn run(&mut self, job: Job) -> Option<Input>;
    fn announce(&mut self, group: usize);
    fn log(&mut self, level: Level, text: &str);
    fn reboot(&mut self);
    /// Called once per `Send` produced by a timer: the keepalive path.
    fn kick_watchdog(&mut self) {}
}

/// Whether the loop goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

/// Translates one action. Inputs that result immediately (a script that could not start,
/// the fencing answer) are pushed to `feedback` for the pump to hand back to the core.
pub fn route(action: Action, edge: &mut dyn Edge, feedback: &mut VecDeque<Input>) -> Flow {
    match action {
        Action::Send { medium, bytes } => edge.send(medium, &bytes),
        Action::Ping { host } => edge.ping(&host),
        Action::Run(job) => feedback.extend(edge.run(job)),
        Action::Fence { node } => {
            // STONITH plugins are a later issue: report failure, the core retries.
            edge.log(
                Level::Error,
                &format!("STONITH of node {node} requested: STONITH execution is not implemented yet in heartbeat-rs"),
            );
            feedback.push_back(Input::FenceFinished { node, ok: false });
        }
        Action::Announce { group } => edge.announce(group),
        Action::Notice(n) => log_notice(edge, &n),
        Action::Reboot => edge.reboot(),
        Action::Exit(_) => return Flow::Exit,
    }
    Flow::Continue
}

fn log_notice(edge: &mut dyn Edge, n: &Notice) {
    edge.log(level_of(n.priority()), &n.to_string());
}

/// The pump: feed `input` (or the timers, when `None`), drain every action, hand back the
/// immediate results, until the core has nothing more to say.
pub fn pump(
    cluster: &mut Cluster,
    now: Instant,
    input: Option<Input>,
    edge: &mut dyn Edge,
) -> Flow {
    let timer = input.is_none();
    match input {
        Some(i) => cluster.handle(now, i),
        None => cluster.handle_timeout(now),
    }
    let mut feedback = VecDeque::new();
    let mut flow = Flow::Continue;
    let mut kicked = false;
    loop {
        while let Some(action) = cluster.poll_action() {
            if timer && !kicked && matches!(action, Action::Send { .. }) {
                edge.kick_watchdog();
                kicked = true;
            }
            if route(action, edge, &mut feedback) == Flow::Exit {
                flow = Flow::Exit;
            }
        }
        match feedback.pop_front() {
            Some(i) => cluster.handle(now, i),
            None => return flow,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real edge
// ---------------------------------------------------------------------------------------

const SIGNALS: Token = Token(usize::MAX - 1);
const FIFO: Token = Token(usize::MAX - 2);
const PING: Token = Token(usize::MAX - 3);

/// A running script.
#[derive(Debug)]
struct Running {
    job: JobId,
    op: JobOp,
    program: PathBuf,
    /// `status` output is captured here and classified when the script ends.
    output: Option<PathBuf>,
}

/// The core hands every medium the signed netstring datagram that UDP carries. A serial line
/// carries the same message as classic `>>>`/`<<<` text signed by its inner `auth` field
/// only, which heartbeat's serial plugin produces by decoding and re-encoding (wire spec
/// §3.3); this does the same. A framing conversion, not a protocol decision.
fn serial_frame(datagram: &[u8], keys: &AuthKeys) -> Result<Vec<u8>, String> {
    let message = wire::decode_udp(datagram, keys).map_err(|e| format!("{e:?}"))?;
    wire::encode_serial(message.message(), keys).map_err(|e| format!("{e:?}"))
}

/// The real edge: the OS objects the actions need.
pub struct Daemon {
    cfg: Config,
    router: Router,
    links: Vec<Option<Link>>,
    ping: Option<PingSocket>,
    ping_hosts: BTreeMap<Ipv4Addr, String>,
    jobs: BTreeMap<i32, Running>,
    env: Vec<(String, String)>,
    rsctmp: PathBuf,
    watchdog: Option<Watchdog>,
    reboot: Reboot,
    /// The time of the current pump (serial pacing).
    now: Instant,
    /// When each serial link wants its next chunk written.
    serial_due: BTreeMap<usize, Instant>,
    /// One receive buffer (64 KiB: no datagram is truncated), not one per wake-up.
    rx: Vec<u8>,
}

impl Edge for Daemon {
    fn send(&mut self, medium: usize, bytes: &[u8]) {
        let now = self.now;
        let Some(Some(link)) = self.links.get_mut(medium) else {
            return;
        };
        match link {
            Link::Udp(u) => {
                if let Err(e) = u.send(bytes) {
                    let text = u.send_error_message(bytes.len(), &e);
                    self.router.log(Level::Error, &text);
                }
            }
            Link::Serial(s) => {
                let frame = match serial_frame(bytes, &self.cfg.auth) {
                    Ok(frame) => frame,
                    Err(why) => {
                        let text = format!("serial: cannot re-encode an outgoing message: {why}");
                        self.router.log(Level::Error, &text);
                        return;
                    }
                };
                s.queue(&frame);
                match s.flush(now) {
                    Ok(Some(at)) => {
                        self.serial_due.insert(medium, at);
                    }
                    Ok(None) => {
                        self.serial_due.remove(&medium);
                    }
                    Err(e) => {
                        let text = format!("serial write to {}: {e}", s.path().display());
                        self.router.log(Level::Error, &text);
                    }
                }
            }
        }
    }

    fn ping(&mut self, host: &str) {
        let Some(sock) = self.ping.as_mut() else {
            return;
        };
        let Some(ip) = ping::resolve(host) else {
            self.router
                .log(Level::Error, &format!("ping: cannot resolve {host}"));
            return;
        };
        self.ping_hosts.insert(ip, host.to_owned());
        if let Err(e) = sock.send(ip, b"heartbeat-rs") {
            self.router
                .log(Level::Error, &format!("ping: cannot send to {host}: {e}"));
        }
    }

    fn run(&mut self, job: Job) -> Option<Input> {
        let failed = Some(Input::JobFinished {
            job: job.id,
            ok: false,
        });
        let Some(program) = resolve_script(&self.cfg.dir, &job.script) else {
            self.router.log(
                Level::Error,
                &format!("Cannot locate resource script {}", job.script),
            );
            return failed;
        };
        let mut argv: Vec<String> = job.args.clone();
        argv.push(job.op.name().to_owned());
        let debuglog = self
            .cfg
            .logging
            .debugfile
            .clone()
            .filter(|p| !p.as_os_str().is_empty());
        let spec = if job.op == JobOp::Status {
            // Only stdout is examined; stderr goes where start/stop output goes.
            let out = self.rsctmp.join(format!(".status.{}", job.id.0));
            let _ = std::fs::remove_file(&out);
            let mut args: Vec<std::ffi::OsString> = vec![
                "-c".into(),
                "exec \"$0\" \"$@\" 2>>\"${HA_DEBUGLOG:-/dev/null}\"".into(),
                program.clone().into(),
            ];
            args.extend(argv.iter().map(Into::into));
            spawn::Spec {
                program: "/bin/sh".into(),
                args,
                env: self.env.clone(),
                output: Some(out),
            }
        } else {
            self.router.log(
                Level::Info,
                &format!("Running {} {}", program.display(), argv.join(" ")),
            );
            spawn::Spec {
                program: program.clone(),
                args: argv.iter().map(Into::into).collect(),
                env: self.env.clone(),
                output: debuglog,
            }
        };
        match spawn::spawn(&spec) {
            Ok(pid) => {
                self.jobs.insert(
                    pid,
                    Running {
                        job: job.id,
                        op: job.op,
                        program,
                        output: spec.output.filter(|_| job.op == JobOp::Status),
                    },
                );
                None
            }
            Err(e) => {
                self.router.log(
                    Level::Error,
                    &format!("Cannot run {}: {e}", program.display()),
                );
                failed
            }
        }
    }

    fn announce(&mut self, group: usize) {
        let Some(g) = self.cfg.groups.get(group) else {
            return;
        };
        for r in &g.resources {
            if !r.script.starts_with("IPaddr") {
                continue;
            }
            // IPaddr's argument: ADDR[/BITS[/IFACE[/BCAST]]].
            let arg = r.args.first().map(String::as_str).unwrap_or("");
            let mut parts = arg.split('/');
            let ip = parts.next().and_then(|a| a.parse::<Ipv4Addr>().ok());
            let iface = parts.nth(1).filter(|i| !i.is_empty());
            let (Some(ip), Some(iface)) = (ip, iface) else {
                self.router.log(
                    Level::Warn,
                    &format!("cannot re-announce {arg}: no interface in the resource"),
                );
                continue;
            };
            let sent = crate::sys::arp::ArpSender::open(iface)
                .and_then(|s| s.send(crate::sys::arp::Op::Request, ip));
            if let Err(e) = sent {
                self.router.log(
                    Level::Error,
                    &format!("gratuitous ARP for {ip} on {iface}: {e}"),
                );
            }
        }
    }

    fn log(&mut self, level: Level, text: &str) {
        if level == Level::Debug {
            self.router.debug(1, text);
        } else {
            self.router.log(level, text);
        }
    }

    fn reboot(&mut self) {
        self.router.log(
            Level::Emerg,
            "Rebooting system.  Reason: resource stop failure",
        );
        match self.reboot.run("resource stop failure") {
            Ok(st) => self
                .router
                .log(Level::Error, &format!("reboot command returned ({st})")),
            Err(e) => self
                .router
                .log(Level::Error, &format!("reboot command failed: {e}")),
        }
    }

    fn kick_watchdog(&mut self) {
        if let Some(w) = self.watchdog.as_mut()
            && let Some(ev) = w.kick()
        {
            self.router.log(ev.level(), &ev.to_string());
        }
    }
}

impl Daemon {
    /// Reaps finished scripts and says what they mean.
    fn reap(&mut self) -> Vec<Input> {
        let done = spawn::reap(self.jobs.keys().copied().collect::<Vec<_>>());
        let mut out = Vec::new();
        for (pid, exit) in done {
            let Some(r) = self.jobs.remove(&pid) else {
                continue;
            };
            let ok = match (&r.op, &r.output) {
                (JobOp::Status, Some(path)) => {
                    let text = std::fs::read(path).unwrap_or_default();
                    let _ = std::fs::remove_file(path);
                    status_says_running(&text)
                }
                _ => {
                    if !exit.success() {
                        let code = match exit {
                            spawn::Exit::Code(c) => c,
                            spawn::Exit::Signal(s) => 128 + s,
                        };
                        self.router.log(
                            Level::Error,
                            &format!("Return code {code} from {}", r.program.display()),
                        );
                    }
                    exit.success()
                }
            };
            out.push(Input::JobFinished { job: r.job, ok });
        }
        out
    }

    /// Reads every medium that is readable; a medium that fails is reported and closed,
    /// the others carry on.
    fn read_medium(&mut self, i: usize, poll: &Poll, out: &mut Vec<Input>) {
        let Some(Some(link)) = self.links.get_mut(i) else {
            return;
        };
        let buf = &mut self.rx;
        let result = match link {
            Link::Udp(u) => loop {
                match u.recv(buf) {
                    Ok(Some((n, _))) => out.push(Input::Datagram {
                        medium: i,
                        bytes: buf.get(..n).unwrap_or(&[]).to_vec(),
                    }),
                    Ok(None) => break Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            },
            Link::Serial(s) => s.read_frames().map(|frames| {
                out.extend(
                    frames
                        .into_iter()
                        .map(|bytes| Input::Datagram { medium: i, bytes }),
                );
            }),
        };
        if let Err(e) = result {
            let name = self
                .cfg
                .media
                .get(i)
                .map(|m| m.link_name())
                .unwrap_or_default();
            self.router.log(
                Level::Error,
                &format!(
                    "Communication medium {name} failed: {e}. Closing it; the other media carry on."
                ),
            );
            if let Some(Some(mut l)) = self.links.get_mut(i).map(Option::take) {
                let _ = poll.registry().deregister(&mut l);
            }
            self.serial_due.remove(&i);
        }
    }

    fn read_ping(&mut self, out: &mut Vec<Input>) {
        let Some(sock) = self.ping.as_ref() else {
            return;
        };
        let mut buf = [0u8; 2048];
        loop {
            match sock.recv(&mut buf) {
                Ok(Some((from, Some(_)))) => {
                    if let Some(host) = self.ping_hosts.get(&from) {
                        out.push(Input::PingReply { host: host.clone() });
                    }
                }
                Ok(Some((_, None))) => {}
                Ok(None) => return,
                Err(e) => {
                    self.router
                        .log(Level::Error, &format!("ping: receive failed: {e}"));
                    return;
                }
            }
        }
    }

    fn flush_serial(&mut self) {
        let now = self.now;
        let due: Vec<usize> = self
            .serial_due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(i, _)| *i)
            .collect();
        for i in due {
            self.serial_due.remove(&i);
            if let Some(Some(Link::Serial(s))) = self.links.get_mut(i) {
                match s.flush(now) {
                    Ok(Some(at)) => {
                        self.serial_due.insert(i, at);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let text = format!("serial write to {}: {e}", s.path().display());
                        self.router.log(Level::Error, &text);
                    }
                }
            }
        }
    }
}

/// Everything the loop owns besides the core.
struct Sources {
    poll: Poll,
    signals: Signals,
    fifo: Option<CommandFifo>,
    stamps: ConfigStamps,
}

fn boot_seed(pid: u32, wall: u64) -> u64 {
    let mut b = [0u8; 8];
    let urandom =
        std::fs::File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut b));
    match urandom {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => wall.rotate_left(17) ^ u64::from(pid),
    }
}

/// Logs a start-up failure where the operator looks (the log destinations), then returns it.
macro_rules! fail {
    ($router:expr, $e:expr) => {{
        let e = $e;
        $router.log(Level::Error, &e.to_string());
        return Err(e);
    }};
}

/// Runs the daemon until the core says exit. `router` is already set up (stderr copy while
/// in the foreground start-up); `pid` is ours (after any fork).
pub fn run(cfg: Config, opts: &RunOptions, mut router: Router, pid: u32) -> Result<(), StartError> {
    // Signals first: blocked before any child exists, so none is lost.
    if let Err(e) = crate::sys::signals::ignore_heartbeat_ignored() {
        fail!(router, StartError::Io("signals", e));
    }
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => fail!(router, StartError::Io("signalfd", e)),
    };
    let clock = Clock::new();
    let me: NodeName = cfg.local_node.clone();

    router.log(Level::Info, "**************************");
    router.log(
        Level::Info,
        "Configuration validated. Starting heartbeat 3.0.6",
    );
    // heartbeat copies its start-up lines to stderr up to here.
    router.set_stderr(false);

    // Generation and UUID are persisted before anything is sent.
    let paths = &opts.paths;
    if let Err(e) = std::fs::create_dir_all(&paths.state_dir) {
        fail!(router, StartError::Io("state dir", e));
    }
    let gen_method = match cfg.hbgenmethod {
        crate::config::GenMethod::File => state::GenMethod::File,
        crate::config::GenMethod::Time => state::GenMethod::Time,
    };
    let wall = clock::wall_secs();
    let generation = match state::next_generation(&paths.state_dir, gen_method, wall) {
        Ok(g) => g,
        Err(e) => fail!(router, StartError::State(e)),
    };
    if let Some(w) = generation.warning() {
        router.log(Level::Warn, &w);
    }
    let uuid_from = match cfg.uuidfrom {
        crate::config::UuidFrom::File => state::UuidFrom::File,
        crate::config::UuidFrom::NodeName => state::UuidFrom::NodeName,
    };
    let uuid = match state::load_uuid(&paths.state_dir, uuid_from, me.as_str()) {
        Ok((u, state::UuidOrigin::Generated)) => {
            router.log(
                Level::Info,
                "No uuid found for current node - generating a new uuid.",
            );
            u
        }
        Ok((u, state::UuidOrigin::FromNodeName { seed })) => {
            router.log(Level::Info, &format!("seed is {seed}"));
            u
        }
        Ok((u, _)) => u,
        Err(e) => fail!(router, StartError::State(e)),
    };
    if let Err(e) = crate::sys::daemon::make_cores_dirs(&paths.state_dir) {
        router.log(
            Level::Warn,
            &format!("cannot create cores directories: {e}"),
        );
    }
    match crate::sys::daemon::reset_rsctmp(&paths.rsctmp()) {
        Ok(Some(note)) => router.log(Level::Info, &note),
        Ok(None) => {}
        Err(e) => router.log(
            Level::Warn,
            &format!("cannot create {}: {e}", paths.rsctmp().display()),
        ),
    }

    let poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => fail!(router, StartError::Io("epoll", e)),
    };
    if let Err(e) = poll
        .registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
    {
        fail!(router, StartError::Io("epoll", e));
    }

    let fifo = match CommandFifo::open(&paths.fifo()) {
        Ok((mut f, created)) => {
            if created == fifo::Created::Yes {
                router.log(
                    Level::Info,
                    &format!("Creating FIFO {}.", paths.fifo().display()),
                );
            }
            if let Err(e) = poll.registry().register(&mut f, FIFO, Interest::READABLE) {
                fail!(router, StartError::Io("epoll", e));
            }
            Some(f)
        }
        Err(e) => {
            router.log(
                Level::Error,
                &format!("cannot open FIFO {}: {e}", paths.fifo().display()),
            );
            None
        }
    };

    // The media: one that cannot open is reported; the others carry on.
    let mut links = Vec::new();
    for (i, m) in cfg.media.iter().enumerate() {
        match Link::open(m, Some(&paths.lock_dir)) {
            Ok(mut link) => {
                for msg in link.started_messages() {
                    router.log(Level::Info, &msg);
                }
                if let Err(e) = poll
                    .registry()
                    .register(&mut link, Token(i), Interest::READABLE)
                {
                    router.log(Level::Error, &format!("{}: {e}", m.link_name()));
                    links.push(None);
                } else {
                    links.push(Some(link));
                }
            }
            Err(e) => {
                router.log(Level::Error, &format!("{}: {e}", m.link_name()));
                links.push(None);
            }
        }
    }
    if links.iter().all(Option::is_none) {
        fail!(router, StartError::NoMedia);
    }

    let mut ping = None;
    if !cfg.ping_nodes.is_empty() {
        match PingSocket::open(pid) {
            Ok(mut s) => {
                if let Err(e) = poll.registry().register(&mut s, PING, Interest::READABLE) {
                    fail!(router, StartError::Io("epoll", e));
                }
                ping = Some(s);
            }
            Err(e) => router.log(Level::Error, &format!("ping: cannot open ICMP socket: {e}")),
        }
    }

    if opts.realtime {
        let prio = crate::sys::daemon::rt_priority(cfg.rtprio);
        for (level, text) in crate::sys::daemon::make_realtime(prio) {
            router.log(level, &text);
        }
    }

    let watchdog = cfg.watchdog.as_ref().and_then(|path| {
        let (w, events) = Watchdog::open(path, cfg.timing.deadtime);
        for ev in events {
            router.log(ev.level(), &ev.to_string());
        }
        w
    });

    let mut ccfg = ClusterConfig::from(&cfg);
    if !opts.manage_resources {
        ccfg.groups.clear();
    }
    let boot = Boot {
        generation: generation.value,
        seed: boot_seed(pid, wall),
        wall_secs: wall,
        pid,
        uuid: uuid.0,
    };
    let stamps = ConfigStamps::capture(&cfg.dir.join("ha.cf"), &cfg.dir.join("authkeys"));
    let env = crate::sys::daemon::script_env(&cfg, &me, router.debug_level());
    let mut cluster = match Cluster::new(ccfg, me, boot, clock.now()) {
        Ok(c) => c,
        Err(e) => fail!(router, StartError::Cluster(e)),
    };

    let notifier = crate::sys::notify::Notifier::from_env().and_then(Result::ok);
    let wd_interval = crate::sys::notify::watchdog_interval_from_env();

    let mut daemon = Daemon {
        rsctmp: paths.rsctmp(),
        cfg,
        router,
        links,
        ping,
        ping_hosts: BTreeMap::new(),
        jobs: BTreeMap::new(),
        env,
        watchdog,
        reboot: Reboot::from_env(),
        now: clock.now(),
        serial_due: BTreeMap::new(),
        rx: vec![0u8; 65536],
    };
    let mut src = Sources {
        poll,
        signals,
        fifo,
        stamps,
    };

    // The actions Cluster::new queued (generation notice, first status).
    let mut flow = drain(&mut cluster, &mut daemon);
    if let Some(n) = &notifier {
        let _ = n.ready();
    }
    let mut next_sd_watchdog = wd_interval.map(|d| clock.now() + d);
    let mut events = Events::with_capacity(64);
    while flow == Flow::Continue {
        let deadline = [
            cluster.poll_timeout(),
            daemon.serial_due.values().min().copied(),
            next_sd_watchdog,
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = clock::poll_timeout(clock.now(), deadline);
        if let Err(e) = src.poll.poll(&mut events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            daemon.router.log(Level::Error, &format!("poll: {e}"));
        }
        let now = clock.now();
        daemon.now = now;
        let mut inputs = Vec::new();
        for ev in events.iter() {
            match ev.token() {
                SIGNALS => handle_signals(&mut src, &mut daemon, &mut inputs),
                FIFO => {
                    if let Some(f) = src.fifo.as_mut() {
                        match f.read_messages() {
                            Ok(msgs) => {
                                for m in msgs {
                                    match fifo_command(&m) {
                                        Some(c) => inputs.push(Input::Command(c)),
                                        None => daemon.router.log(
                                            Level::Warn,
                                            &format!(
                                                "FIFO message of type '{}' not handled by heartbeat-rs yet",
                                                fifo_type(&m)
                                            ),
                                        ),
                                    }
                                }
                            }
                            Err(e) => daemon.router.log(Level::Error, &format!("FIFO: {e}")),
                        }
                    }
                }
                PING => daemon.read_ping(&mut inputs),
                Token(i) => daemon.read_medium(i, &src.poll, &mut inputs),
            }
        }
        daemon.flush_serial();
        for input in inputs {
            if pump(&mut cluster, now, Some(input), &mut daemon) == Flow::Exit {
                flow = Flow::Exit;
            }
        }
        if cluster.poll_timeout().is_some_and(|d| d <= now)
            && pump(&mut cluster, now, None, &mut daemon) == Flow::Exit
        {
            flow = Flow::Exit;
        }
        if let (Some(at), Some(iv), Some(n)) = (next_sd_watchdog, wd_interval, &notifier)
            && at <= now
        {
            let _ = n.watchdog();
            next_sd_watchdog = Some(now + iv);
        }
    }
    if let Some(n) = &notifier {
        let _ = n.stopping();
    }
    if let Some(w) = daemon.watchdog.take()
        && let Some(ev) = w.close_clean()
    {
        daemon.router.log(ev.level(), &ev.to_string());
    }
    Ok(())
}

/// Drains what the core queued outside a `handle` (at creation).
fn drain(cluster: &mut Cluster, edge: &mut dyn Edge) -> Flow {
    let mut feedback = VecDeque::new();
    let mut flow = Flow::Continue;
    while let Some(a) = cluster.poll_action() {
        if route(a, edge, &mut feedback) == Flow::Exit {
            flow = Flow::Exit;
        }
    }
    flow
}

fn handle_signals(src: &mut Sources, daemon: &mut Daemon, inputs: &mut Vec<Input>) {
    let sigs = match src.signals.read() {
        Ok(s) => s,
        Err(e) => {
            daemon.router.log(Level::Error, &format!("signalfd: {e}"));
            return;
        }
    };
    for sig in sigs {
        match sig {
            Sig::Term => inputs.push(Input::Command(Command::Shutdown)),
            Sig::Hup => match src.stamps.check() {
                Change::Unchanged => daemon.router.log(Level::Info, "Configuration unchanged."),
                Change::AuthKeys => daemon.router.log(
                    Level::Warn,
                    "authkeys changed: heartbeat-rs cannot swap keys in a running core yet; restart to use the new keys",
                ),
                Change::HaCf => daemon.router.log(
                    Level::Warn,
                    "ha.cf changed: heartbeat-rs does not restart in place yet; restart to apply it",
                ),
            },
            Sig::Usr1 | Sig::Usr2 => {
                daemon
                    .router
                    .change_debug_level(Stamp::now_local(), sig == Sig::Usr1);
            }
            Sig::Chld => inputs.extend(daemon.reap()),
            Sig::Alrm => daemon.router.log(
                Level::Error,
                &format!("Unexpected alarm in process {}", std::process::id()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn serial_carries_the_message_as_classic_text_with_its_inner_auth() {
        use crate::config::{AuthKey, KeyIndex, Secret};
        use crate::wire::{Message, Value};
        let Some(index) = KeyIndex::new(1) else {
            panic!("1 is a valid key index")
        };
        let keys = crate::config::AuthKeys::single(index, AuthKey::Sha1(Secret::new("k")));
        let mut m = Message::new();
        m.push("t", Value::String(b"status".to_vec()));
        m.push("src", Value::String(b"node1".to_vec()));
        let datagram = wire::encode_udp(&m, &keys).expect("encodes");
        assert!(datagram.starts_with(b"###"), "UDP carries netstrings");
        let frame = serial_frame(&datagram, &keys).expect("re-encodes");
        assert!(
            frame.starts_with(b">>>\n") && frame.ends_with(b"<<<\n"),
            "{frame:?}"
        );
        let back = wire::decode_serial(&frame, &keys).expect("a peer accepts it");
        assert_eq!(back.message().get_str("t"), Some("status"));
        assert!(serial_frame(b"###\nnot a message", &keys).is_err());
    }
    use super::*;
    use crate::cluster::ExitReason;

    #[derive(Default)]
    struct Fake {
        sent: Vec<(usize, Vec<u8>)>,
        pings: Vec<String>,
        jobs: Vec<Job>,
        fail_jobs: bool,
        announced: Vec<usize>,
        logs: Vec<(Level, String)>,
        reboots: usize,
        kicks: usize,
    }

    impl Edge for Fake {
        fn send(&mut self, medium: usize, bytes: &[u8]) {
            self.sent.push((medium, bytes.to_vec()));
        }
        fn ping(&mut self, host: &str) {
            self.pings.push(host.to_owned());
        }
        fn run(&mut self, job: Job) -> Option<Input> {
            let id = job.id;
            self.jobs.push(job);
            self.fail_jobs
                .then_some(Input::JobFinished { job: id, ok: false })
        }
        fn announce(&mut self, group: usize) {
            self.announced.push(group);
        }
        fn log(&mut self, level: Level, text: &str) {
            self.logs.push((level, text.to_owned()));
        }
        fn reboot(&mut self) {
            self.reboots += 1;
        }
        fn kick_watchdog(&mut self) {
            self.kicks += 1;
        }
    }

    fn job(op: JobOp) -> Job {
        Job {
            id: JobId(7),
            group: 0,
            resource: 1,
            op,
            script: "IPaddr".into(),
            args: vec!["10.0.0.1".into()],
        }
    }

    #[test]
    fn every_action_goes_to_its_edge_function() {
        let mut f = Fake::default();
        let mut fb = VecDeque::new();
        let send = Action::Send {
            medium: 2,
            bytes: b"x".to_vec(),
        };
        assert_eq!(route(send, &mut f, &mut fb), Flow::Continue);
        assert_eq!(f.sent, vec![(2, b"x".to_vec())]);
        let _ = route(Action::Ping { host: "gw".into() }, &mut f, &mut fb);
        assert_eq!(f.pings, ["gw"]);
        let _ = route(Action::Run(job(JobOp::Start)), &mut f, &mut fb);
        assert_eq!(f.jobs, [job(JobOp::Start)]);
        assert!(fb.is_empty(), "a started job reports later, on SIGCHLD");
        let _ = route(Action::Announce { group: 3 }, &mut f, &mut fb);
        assert_eq!(f.announced, [3]);
        let _ = route(Action::Reboot, &mut f, &mut fb);
        assert_eq!(f.reboots, 1);
        let notice = Action::Notice(Notice::NodeDead(NodeName::new("node2")));
        let _ = route(notice, &mut f, &mut fb);
        assert_eq!(
            f.logs.last(),
            Some(&(Level::Warn, "node node2: is dead".to_owned()))
        );
        assert_eq!(
            route(Action::Exit(ExitReason::Shutdown), &mut f, &mut fb),
            Flow::Exit
        );
        assert!(fb.is_empty());
    }

    #[test]
    fn fencing_is_reported_as_failed_so_the_core_retries() {
        let mut f = Fake::default();
        let mut fb = VecDeque::new();
        let node = NodeName::new("node2");
        let _ = route(Action::Fence { node: node.clone() }, &mut f, &mut fb);
        assert_eq!(
            fb.pop_front(),
            Some(Input::FenceFinished { node, ok: false })
        );
        assert_eq!(f.logs.len(), 1);
        assert_eq!(f.logs[0].0, Level::Error);
        assert!(f.logs[0].1.contains("node2"), "{}", f.logs[0].1);
    }

    #[test]
    fn a_job_that_cannot_start_is_fed_back_as_failed() {
        let mut f = Fake {
            fail_jobs: true,
            ..Fake::default()
        };
        let mut fb = VecDeque::new();
        let _ = route(Action::Run(job(JobOp::Stop)), &mut f, &mut fb);
        assert_eq!(
            fb.pop_front(),
            Some(Input::JobFinished {
                job: JobId(7),
                ok: false
            })
        );
    }

    #[test]
    fn notice_priorities_map_to_heartbeat_words() {
        assert_eq!(level_of(Priority::Err), Level::Error);
        assert_eq!(level_of(Priority::Crit), Level::Crit);
        assert_eq!(level_of(Priority::Warn), Level::Warn);
        assert_eq!(level_of(Priority::Info), Level::Info);
        assert_eq!(level_of(Priority::Debug), Level::Debug);
    }

    #[test]
    fn status_output_is_classified_like_resource_manager() {
        assert!(status_says_running(b"INFO:  Running OK\n"));
        assert!(status_says_running(b"apache is running\n"));
        assert!(!status_says_running(b"apache is not running\n"));
        assert!(!status_says_running(b"apache is NOT Running\n"));
        assert!(!status_says_running(b"INFO:  Resource is stopped\n"));
        assert!(!status_says_running(b""));
        assert!(
            status_says_running(b"NOT OK"),
            "quirk: NOT OK counts as running"
        );
        assert!(
            !status_says_running(b"RUNNING"),
            "quirk: all caps is stopped"
        );
        assert!(
            status_says_running(b"note: running"),
            "'note:' is no negation"
        );
    }

    #[test]
    fn scripts_resolve_in_resource_d_only_if_executable() {
        let dir = tempfile::tempdir().unwrap();
        let rd = dir.path().join("resource.d");
        std::fs::create_dir(&rd).unwrap();
        std::fs::write(rd.join("Svc"), "#!/bin/sh\n").unwrap();
        assert_eq!(resolve_script(dir.path(), "Svc"), None, "not executable");
        std::fs::set_permissions(rd.join("Svc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(resolve_script(dir.path(), "Svc"), Some(rd.join("Svc")));
        assert_eq!(resolve_script(dir.path(), "../resource.d/Svc"), None);
        assert_eq!(resolve_script(dir.path(), "no-such-script-hbrs"), None);
    }

    #[test]
    fn fifo_messages_of_hb_standby_and_hb_takeover() {
        assert_eq!(
            fifo_command(b">>>\nt=ask_resources\nrsc_hold=foreign\ninfo=me\n<<<\n"),
            Some(Command::Standby(Hold::FOREIGN))
        );
        assert_eq!(
            fifo_command(b">>>\nt=hb_takeover\nrsc_hold=failback\n<<<\n"),
            Some(Command::Takeover("failback".into()))
        );
        assert_eq!(
            fifo_command(b">>>\nt=ask_resources\nrsc_hold=bogus\ninfo=me\n<<<\n"),
            None
        );
        assert_eq!(fifo_command(b">>>\nt=resource\nrsc_hold=all\n<<<\n"), None);
        assert_eq!(fifo_command(b"\xff\xfe"), None);
        assert_eq!(fifo_type(b">>>\nt=resource\n<<<\n"), "resource");
    }

    #[test]
    fn test_paths_keep_everything_out_of_the_system_dirs() {
        let p = Paths {
            pidfile: "/tmp/x/pid".into(),
            state_dir: "/tmp/x/state".into(),
            run_dir: "/tmp/x/run".into(),
            lock_dir: "/tmp/x/lock".into(),
        };
        assert_eq!(p.fifo(), PathBuf::from("/tmp/x/state/fifo"));
        assert_eq!(p.rsctmp(), PathBuf::from("/tmp/x/run/rsctmp"));
        let d = Paths::default();
        assert_eq!(d.fifo(), PathBuf::from("/var/lib/heartbeat/fifo"));
        assert_eq!(d.rsctmp(), PathBuf::from("/run/heartbeat/rsctmp"));
    }
}
