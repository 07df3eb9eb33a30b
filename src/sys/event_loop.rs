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
    Notice, Notification, Priority,
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
    /// The control socket (`/run/heartbeat/hbrs-api`).
    pub fn api_socket(&self) -> PathBuf {
        self.run_dir.join("hbrs-api")
    }
    /// Where meatware requests wait for `meatclient -c NODE`: cluster-glue's `/run` with
    /// the default run dir (so its meatclient finds them), else the run dir itself (tests,
    /// labs: `meatclient -d RUN_DIR`).
    pub fn meatware_dir(&self) -> PathBuf {
        if self.run_dir == Path::new("/run/heartbeat") {
            crate::sys::fence::MEATWARE_DIR.into()
        } else {
            self.run_dir.clone()
        }
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
    /// `--authkeys` (else `CONFIG_DIR/authkeys`): what SIGHUP re-reads.
    pub authkeys: Option<PathBuf>,
    /// `-R [-C STATE]`: this process continues a running daemon (quick restart).
    pub restart: Option<crate::cluster::Restart>,
    /// How to re-execute ourselves for a quick restart.
    pub reexec: Reexec,
}

/// A quick restart's command line and the checks the new process will make.
#[derive(Clone, Debug, Default)]
pub struct Reexec {
    /// Our arguments without `-R`/`-C` (the same files and flags).
    pub args: Vec<std::ffi::OsString>,
    /// The start's validation options, so a changed ha.cf is only acted on if the new
    /// process will accept it.
    pub check: crate::config::resolve::CheckOptions,
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
/// carries: `hb_standby` writes `t=ask_resources rsc_hold=SET info=me` (a missing `rsc_hold`
/// means `all`, §4.3), `hb_takeover` writes `t=hb_takeover rsc_hold=WORD`. `None` for
/// anything else (see [`fifo_ignored`]).
pub fn fifo_command(msg: &[u8]) -> Option<Command> {
    let text = std::str::from_utf8(msg).ok()?;
    let fields: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    match (fields.get("t")?, fields.get("rsc_hold")) {
        (&"ask_resources", set) if fields.get("info") == Some(&"me") => {
            Hold::parse(set.copied().unwrap_or("all")).map(Command::Standby)
        }
        (&"hb_takeover", Some(set)) => Some(Command::Takeover((*set).to_owned())),
        _ => None,
    }
}

/// The log line for a FIFO message that is not a command: which message, and precisely why
/// heartbeat-rs does not send it (heartbeat signs and broadcasts anything written there;
/// the core has no "send this raw message" input, by design: every message it sends is one
/// it understands).
pub fn fifo_ignored(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let fields: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let names: Vec<&str> = fields.keys().copied().collect();
    let t = fields.get("t").copied().unwrap_or("");
    let why = match (t, fields.get("info").copied()) {
        ("", _) => "it has no t= field".to_string(),
        ("resource", Some("mach_down")) => {
            "mach_down's report is not needed: heartbeat-rs takes over a dead node's groups \
             itself and announces what it holds"
                .to_string()
        }
        ("resource", _) => "resource holdings are announced by the daemon itself".to_string(),
        ("ask_resources", info) => format!(
            "only hb_standby's form (info=me, rsc_hold=all|local|foreign) is accepted, not \
             info={} rsc_hold={}",
            info.unwrap_or(""),
            fields.get("rsc_hold").copied().unwrap_or("")
        ),
        ("hb_takeover", _) => "hb_takeover needs rsc_hold=all|local|foreign|failback".to_string(),
        ("ip-request" | "ip-request-resp", _) => {
            "legacy req_resource/ip-request messages are not relayed; heartbeat-rs moves \
             groups with its own takeover and standby"
                .to_string()
        }
        (other, _) => format!(
            "heartbeat-rs does not relay messages of type {other} (heartbeat signs and \
             broadcasts them; see docs/daemon.md)"
        ),
    };
    format!("FIFO message t={t} ({}) not sent: {why}", names.join(","))
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
    /// Starts `harc TYPE` for an rc.d notification; as `run`.
    fn notify(&mut self, n: Notification) -> Option<Input>;
    fn announce(&mut self, group: usize);
    /// Starts fencing `node`. Results that are known at once (no method configured, a
    /// device that cannot start) come back as `FenceFinished` inputs; the others later,
    /// from the SIGCHLD / deadline / meatware-FIFO path.
    fn fence(&mut self, node: NodeName) -> Vec<Input>;
    fn log(&mut self, level: Level, text: &str);
    /// Every notice, after it was logged: waiting tools and status output read them.
    fn observe(&mut self, _notice: &Notice) {}
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
        Action::Notify(n) => feedback.extend(edge.notify(n)),
        Action::Fence { node } => feedback.extend(edge.fence(node)),
        Action::Announce { group } => edge.announce(group),
        Action::Notice(n) => {
            log_notice(edge, &n);
            edge.observe(&n);
        }
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
const API: Token = Token(usize::MAX - 4);
/// Every pending meatware FIFO (readable = an operator answered).
const MEAT: Token = Token(usize::MAX - 5);
/// Control-socket connections: `CONN_BASE + id` (media use their index, far below).
const CONN_BASE: usize = 1 << 24;
const CONN_END: usize = usize::MAX - 64;

/// A `hb_takeover --wait` whose peer never starts the standby (down, or ignoring it) is
/// answered `timed-out` after this long; a `hb_standby --wait` the core never starts
/// (e.g. while shutting down) likewise.
const WAIT_START_LIMIT: crate::time::Duration = crate::time::Duration::from_secs(60);

/// A tool waiting for its standby/takeover to end.
#[derive(Debug)]
struct Waiter {
    kind: crate::sys::status::WaitKind,
    started: bool,
    /// Until the protocol starts; afterwards the core's own deadlines end it.
    deadline: Instant,
}

impl Waiter {
    fn new(kind: crate::sys::status::WaitKind, now: Instant) -> Waiter {
        Waiter {
            kind,
            started: false,
            deadline: now + WAIT_START_LIMIT,
        }
    }
}

/// One control-socket connection.
struct Client {
    conn: crate::sys::api_socket::ApiConn,
    wait: Option<Waiter>,
    /// The answer is queued: close once it is written.
    answered: bool,
    /// Until the request is complete, then until the answer is out: a client that stalls
    /// is dropped, so idle connections cannot pile up.
    deadline: Instant,
}

/// How long a client may take to send its request, or to read its answer.
const CLIENT_IO_LIMIT: crate::time::Duration = crate::time::Duration::from_secs(10);
/// Connections served at once; more are closed at accept (the tools retry or time out).
const MAX_CLIENTS: usize = 64;

/// What the edge remembers about fencing one node (for status output; the core decides).
#[derive(Clone, Debug, Default)]
struct FenceTrack {
    device: String,
    attempts: u32,
    last: Option<crate::api::FenceResult>,
}

/// Gratuitous ARP repeats of a native IPaddr start, sent on the loop's timer.
struct ArpRun {
    sender: crate::sys::arp::ArpSender,
    announcer: crate::sys::send_arp::Announcer,
    due: Instant,
}

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
    me: NodeName,
    fencer: crate::sys::fence::Fencer,
    /// When the STONITH device's status is probed (§7.2).
    probes: crate::sys::fence::ProbeRounds,
    fence_track: BTreeMap<NodeName, FenceTrack>,
    /// The fencer has a pending meatware FIFO to register with the poll.
    meat_changed: bool,
    clients: BTreeMap<usize, Client>,
    next_client: usize,
    arps: Vec<ArpRun>,
    /// The last notice explaining a resource movement, and each group's last transition.
    cause: String,
    transitions: Vec<Option<crate::api::Transition>>,
    group_words: Vec<&'static str>,
    /// A job ran or ended: compare the groups' states after this wake-up.
    groups_dirty: bool,
    /// How heartbeat lists the nodes (`sys::status::listing_order`).
    node_order: Vec<String>,
    /// SIGHUP found a changed, valid ha.cf: re-execute once the core is settled.
    restart_requested: bool,
    /// The requested restart was found waiting for the core to settle (logged once).
    restart_waiting: bool,
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
        self.groups_dirty = true;
        if let Some(arg) = native_arg(&job) {
            let arg = arg.to_owned();
            return Some(self.run_native(&job, &arg));
        }
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

    fn notify(&mut self, n: Notification) -> Option<Input> {
        let program = self.cfg.dir.join(crate::sys::script::HARC);
        let mut env = self.env.clone();
        env.extend(n.env);
        let spec = spawn::Spec {
            program: program.clone(),
            args: vec![n.kind.into()],
            env,
            output: self
                .cfg
                .logging
                .debugfile
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
        };
        match spawn::spawn_clean_ha(&spec) {
            Ok(pid) => {
                // Reaped like a start: exit 0 or "Return code N from .../harc".
                self.jobs.insert(
                    pid,
                    Running {
                        job: n.id,
                        op: JobOp::Start,
                        program,
                        output: None,
                    },
                );
                None
            }
            Err(e) => {
                self.router.log(
                    Level::Error,
                    &format!("Cannot run {}: {e}", program.display()),
                );
                Some(Input::JobFinished {
                    job: n.id,
                    ok: false,
                })
            }
        }
    }

    fn announce(&mut self, group: usize) {
        let Some(g) = self.cfg.groups.get(group) else {
            return;
        };
        let ips: Vec<(String, String)> = g
            .resources
            .iter()
            .filter(|r| r.script.starts_with("IPaddr"))
            .filter_map(|r| Some((r.script.clone(), r.args.first()?.clone())))
            .collect();
        for (script, arg) in ips {
            // The address is announced where it is configured now (IPaddr's argument may
            // name no interface: findif chose one at start).
            let Ok(spec) = crate::sys::netaddr::IpSpec::parse(&arg) else {
                self.router.log(
                    Level::Warn,
                    &format!("cannot re-announce {arg}: not an address heartbeat-rs reads"),
                );
                continue;
            };
            let iface = match crate::sys::netaddr::has_ipv4(spec.ip) {
                Ok(Some((iface, _))) => iface,
                Ok(None) => {
                    self.router.log(
                        Level::Warn,
                        &format!("cannot re-announce {}: not configured here", spec.ip),
                    );
                    continue;
                }
                Err(e) => {
                    self.router.log(
                        Level::Error,
                        &format!("cannot re-announce {}: {e}", spec.ip),
                    );
                    continue;
                }
            };
            let (count, interval) = arp_repeats(&script, &self.cfg.env);
            match crate::sys::arp::ArpSender::open(&iface) {
                Ok(sender) => {
                    let mut run = ArpRun {
                        sender,
                        announcer: crate::sys::send_arp::Announcer::new(spec.ip, count, interval),
                        due: self.now,
                    };
                    if self.fire_arp(&mut run) {
                        self.arps.push(run);
                    }
                }
                Err(e) => self.router.log(
                    Level::Error,
                    &format!("gratuitous ARP for {} on {iface}: {e}", spec.ip),
                ),
            }
        }
    }

    fn fence(&mut self, node: NodeName) -> Vec<Input> {
        if !self.fencer.busy(&node) {
            let device = crate::sys::fence::Method::for_node(&self.cfg, &node)
                .map_or_else(|| "none".to_string(), |m| m.device_id());
            let t = self.fence_track.entry(node.clone()).or_default();
            t.attempts = t.attempts.saturating_add(1);
            t.device = device;
        }
        for (level, text) in self.fencer.fence(self.now, &self.cfg, &node) {
            self.router.log(level, &text);
        }
        self.meat_changed = true;
        self.poll_fencer()
    }

    fn observe(&mut self, notice: &Notice) {
        if matches!(notice, Notice::CommUp) {
            self.probes.comm_up(self.now);
        }
        if let Some(c) = crate::sys::status::transition_cause(notice) {
            self.cause = c;
        }
        for c in self.clients.values_mut() {
            let Some(w) = c.wait.as_mut() else {
                continue;
            };
            match crate::sys::status::wait_event(w.kind, &self.me, notice) {
                Some(crate::sys::status::WaitEvent::Started) => w.started = true,
                Some(crate::sys::status::WaitEvent::Finished(outcome, detail)) => {
                    c.conn
                        .queue(&crate::api::Response::Finished { outcome, detail });
                    c.wait = None;
                    c.answered = true;
                    c.deadline = self.now + CLIENT_IO_LIMIT;
                }
                None => {}
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

/// The argument of an `IPaddr`/`IPaddr2` job the daemon performs itself; `None` sends the
/// job to the script (another script, several arguments, or a form `IpSpec` does not read).
pub fn native_arg(job: &Job) -> Option<&str> {
    let arg = job.args.first()?;
    (crate::sys::native_ip::handles(&job.script, &job.args)
        && crate::sys::netaddr::IpSpec::parse(arg).is_ok())
    .then_some(arg.as_str())
}

/// `INFO: text` / `ERROR: text` (our scripts' ha_log layout) as a level and the text.
fn script_line(line: &str) -> (Level, &str) {
    for (prefix, level) in [
        ("INFO:", Level::Info),
        ("ERROR:", Level::Error),
        ("WARN:", Level::Warn),
        ("WARNING:", Level::Warn),
    ] {
        if let Some(rest) = line.strip_prefix(prefix) {
            return (level, rest.trim_start());
        }
    }
    (Level::Info, line)
}

/// The ARP repeat knobs of a native IPaddr start: ha.cf `env ARP_REPEAT=N` and
/// `env ARP_INTERVAL_MS=MS` override the script's defaults (IPaddr 10 × 500 ms, IPaddr2
/// 5 × 200 ms), each on its own.
pub fn arp_repeats(script: &str, env: &[(String, String)]) -> (u32, std::time::Duration) {
    let (mut count, mut interval) = crate::sys::native_ip::arp_defaults(script);
    for (k, v) in env {
        match k.as_str() {
            "ARP_REPEAT" => {
                if let Ok(n) = v.parse::<u32>() {
                    count = n;
                }
            }
            "ARP_INTERVAL_MS" => {
                if let Ok(ms) = v.parse::<u64>() {
                    interval = std::time::Duration::from_millis(ms);
                }
            }
            _ => {}
        }
    }
    (count, interval)
}

fn later(now: Instant, d: std::time::Duration) -> Instant {
    Instant::from_micros(
        now.as_micros()
            .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
    )
}

impl Daemon {
    /// `IPaddr`/`IPaddr2` in-process (netlink), with heartbeat's log lines; the gratuitous
    /// ARP repeats go to the loop's timer. The result is known at once.
    fn run_native(&mut self, job: &Job, arg: &str) -> Input {
        use crate::sys::script::Op;
        let op = match job.op {
            JobOp::Start => Op::Start,
            JobOp::Stop => Op::Stop,
            JobOp::Status => Op::Status,
        };
        let program = resolve_script(&self.cfg.dir, &job.script)
            .unwrap_or_else(|| self.cfg.dir.join("resource.d").join(&job.script));
        if op != Op::Status {
            self.router.log(
                Level::Info,
                &format!("Running {} {arg} {}", program.display(), op.as_str()),
            );
        }
        if op == Op::Stop
            && let Some(ip) = arg
                .split('/')
                .next()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
        {
            // A released address is announced no more: the repeats left from its start
            // would point clients back at us after the peer took it (hb_takeover right
            // after a standby waited them out).
            self.arps.retain(|r| r.announcer.ip != ip);
        }
        let arp = arp_repeats(&job.script, &self.cfg.env);
        let n = crate::sys::native_ip::run(&job.script, arg, op, Some(arp));
        for line in &n.log {
            let (level, text) = script_line(line);
            self.router.log(level, text);
        }
        if let Some((iface, announcer)) = n.announce {
            match crate::sys::arp::ArpSender::open(&iface) {
                Ok(sender) => {
                    let mut run = ArpRun {
                        sender,
                        announcer,
                        due: self.now,
                    };
                    // The first frame leaves now; the rest on the timer.
                    if self.fire_arp(&mut run) {
                        self.arps.push(run);
                    }
                }
                Err(e) => self.router.log(
                    Level::Error,
                    &format!("gratuitous ARP for {arg} on {iface}: {e}"),
                ),
            }
        }
        let ok = n.outcome.ok();
        if !ok && op != Op::Status {
            let code = match n.outcome.exit {
                crate::sys::script::Exit::Code(c) => c,
                crate::sys::script::Exit::Signal(s) => 128 + s,
                crate::sys::script::Exit::TimedOut => 1,
            };
            self.router.log(
                Level::Error,
                &format!("Return code {code} from {}", program.display()),
            );
        }
        Input::JobFinished { job: job.id, ok }
    }

    /// Sends one due frame; `true` while more remain.
    fn fire_arp(&mut self, run: &mut ArpRun) -> bool {
        match run.announcer.fire(&run.sender) {
            Ok(Some(gap)) => {
                run.due = later(self.now, gap);
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.router.log(
                    Level::Error,
                    &format!("gratuitous ARP for {}: {e}", run.announcer.ip),
                );
                false
            }
        }
    }

    /// Sends the gratuitous ARP frames that are due.
    fn fire_arps(&mut self) {
        let now = self.now;
        let runs = std::mem::take(&mut self.arps);
        for mut run in runs {
            if run.due > now || self.fire_arp(&mut run) {
                self.arps.push(run);
            }
        }
    }

    /// Collects finished fencing attempts (children, acknowledgements, deadlines) as inputs
    /// for the core, logging the device's lines (secrets already redacted by the fencer).
    fn poll_fencer(&mut self) -> Vec<Input> {
        let mut out = Vec::new();
        for f in self.fencer.poll(self.now) {
            for (level, text) in &f.log {
                self.router.log(*level, text);
            }
            let ok = f.outcome.ok();
            let t = self.fence_track.entry(f.node.clone()).or_default();
            if ok {
                t.attempts = 0;
            }
            t.last = Some(crate::api::FenceResult {
                ok,
                at_unix: clock::wall_secs(),
            });
            out.push(Input::FenceFinished { node: f.node, ok });
        }
        out
    }

    /// The STONITH status probes (§7.2): logs a finished one and starts the next that is
    /// due. They only log; nothing the core decides depends on them.
    fn run_probes(&mut self) {
        loop {
            if self.fencer.probing() {
                let Some((_, log)) = self.fencer.poll_probe(self.now) else {
                    return;
                };
                for (level, text) in log {
                    self.router.log(level, &text);
                }
                self.probes.finished(self.now);
            }
            let (cfg, me) = (&self.cfg, &self.me);
            let Some(device) = self
                .probes
                .next(self.now, || crate::sys::fence::peer_devices(cfg, me))
            else {
                return;
            };
            for (level, text) in self.fencer.probe(self.now, device) {
                self.router.log(level, &text);
            }
        }
    }

    /// Fencing as status output shows it: every node fencing was asked for.
    fn fence_views(&self) -> Vec<crate::sys::status::EdgeFence> {
        let pending = self.fencer.pending();
        self.fence_track
            .iter()
            .map(|(node, t)| {
                let p = pending.iter().find(|p| p.node == *node);
                crate::sys::status::EdgeFence {
                    node: node.clone(),
                    device: p.map_or_else(|| t.device.clone(), |p| p.device.clone()),
                    running: p.is_some(),
                    needs_operator: p.is_some_and(|p| p.needs_operator),
                    attempts: t.attempts,
                    last: t.last.clone(),
                }
            })
            .collect()
    }

    /// The earliest time the edge itself must wake: serial pacing, fencing deadlines, ARP
    /// repeats, waiting tools.
    fn next_deadline(&self) -> Option<Instant> {
        [
            self.serial_due.values().min().copied(),
            self.fencer.next_deadline(),
            self.probes.deadline(),
            self.arps.iter().map(|a| a.due).min(),
            self.clients
                .values()
                .filter_map(|c| match &c.wait {
                    Some(w) if !w.started => Some(w.deadline),
                    Some(_) => None,
                    None => Some(c.deadline),
                })
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Records each group's last transition (time and cause) when its state word changed.
    fn note_groups(&mut self, st: &crate::cluster::StatusView) {
        self.groups_dirty = false;
        let words: Vec<&'static str> = st
            .groups
            .iter()
            .map(crate::sys::status::group_state)
            .collect();
        self.transitions.resize(words.len(), None);
        for (i, w) in words.iter().enumerate() {
            let changed = match self.group_words.get(i) {
                Some(old) => old != w,
                None => *w != "stopped",
            };
            if changed {
                self.transitions[i] = Some(crate::api::Transition {
                    cause: self.cause.clone(),
                    at_unix: clock::wall_secs(),
                });
            }
        }
        self.group_words = words;
    }

    /// Reaps finished scripts and says what they mean.
    fn reap(&mut self) -> Vec<Input> {
        // Per pid: fence devices are the fencer's children and are reaped by it.
        let done = spawn::reap(self.jobs.keys().copied().collect::<Vec<_>>());
        if !done.is_empty() {
            self.groups_dirty = true;
        }
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
    api: Option<crate::sys::api_socket::ApiListener>,
    authkeys: PathBuf,
    reexec: Reexec,
}

/// `respawn`/`failfast` clients are not started by heartbeat-rs (yet); ipfail needs no
/// process (its logic is built in). Said once at start, so nobody waits for a client that
/// never runs.
pub fn unstarted_clients(clients: &[crate::config::ClientChild]) -> Vec<String> {
    clients
        .iter()
        .filter(|c| !c.is_ipfail())
        .map(|c| {
            format!(
                "heartbeat-rs: {} client {} (user {}) is not started: heartbeat-rs does not run respawn clients",
                if c.failfast { "failfast" } else { "respawn" },
                c.command.display(),
                c.user
            )
        })
        .collect()
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

    for line in unstarted_clients(&cfg.clients) {
        router.log(Level::Warn, &line);
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
        restart: opts.restart.clone(),
    };
    let authkeys = opts
        .authkeys
        .clone()
        .unwrap_or_else(|| cfg.dir.join("authkeys"));
    let stamps = ConfigStamps::capture(&cfg.dir.join("ha.cf"), &authkeys);
    let env = crate::sys::daemon::script_env(&cfg, &me, router.debug_level());
    let mut cluster = match Cluster::new(ccfg, me.clone(), boot, clock.now()) {
        Ok(c) => c,
        Err(e) => fail!(router, StartError::Cluster(e)),
    };
    if opts.manage_resources {
        // heartbeat lists rc.d once; `-M` runs no resource scripts at all.
        let rc = crate::sys::script::rc_scripts(&cfg.dir);
        if let Some(warn) = crate::sys::script::harc_missing(&cfg.dir, &rc) {
            router.log(Level::Warn, &warn);
        }
        cluster.set_rc_scripts(rc);
    }

    // The control socket: one that cannot be bound is reported, the daemon runs on (the
    // tools then fall back to the FIFO).
    let api = {
        let (access, unknown) = crate::sys::api_socket::Access::from_apiauth(
            &cfg.apiauth,
            crate::sys::api_socket::ANON_CLIENT,
        );
        for u in unknown {
            router.log(Level::Warn, &format!("apiauth anon: unknown {u} ignored"));
        }
        let path = paths.api_socket();
        let bound = crate::sys::api_socket::ApiListener::bind(&path, access).and_then(|mut l| {
            poll.registry()
                .register(&mut l, API, Interest::READABLE)
                .map(|()| l)
        });
        match bound {
            Ok(l) => Some(l),
            Err(e) => {
                router.log(
                    Level::Error,
                    &format!("cannot open the control socket {}: {e}", path.display()),
                );
                None
            }
        }
    };

    // The declaration order of nodes is not in `Config`; ha.cf was validated moments ago,
    // so reading it again only recovers the order (empty if it cannot be read).
    let ha_cf_path = cfg.dir.join("ha.cf");
    let node_order = std::fs::read_to_string(&ha_cf_path)
        .map(|t| crate::sys::status::listing_order(&crate::config::ha_cf::parse(&t, &ha_cf_path)))
        .unwrap_or_default();

    let notifier = crate::sys::notify::Notifier::from_env().and_then(Result::ok);
    let wd_interval = crate::sys::notify::watchdog_interval_from_env();
    let fencer = crate::sys::fence::Fencer::new(crate::sys::fence::Settings {
        work_dir: paths.state_dir.clone(),
        meatware_dir: paths.meatware_dir(),
        ..crate::sys::fence::Settings::default()
    });

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
        me,
        fencer,
        probes: crate::sys::fence::ProbeRounds::default(),
        fence_track: BTreeMap::new(),
        meat_changed: false,
        clients: BTreeMap::new(),
        next_client: 0,
        arps: Vec::new(),
        cause: "start".to_string(),
        transitions: Vec::new(),
        group_words: Vec::new(),
        groups_dirty: true,
        node_order,
        restart_requested: false,
        restart_waiting: false,
    };
    let mut src = Sources {
        poll,
        signals,
        fifo,
        stamps,
        api,
        authkeys,
        reexec: opts.reexec.clone(),
    };

    // The actions Cluster::new queued (generation notice, first status).
    let mut flow = drain(&mut cluster, &mut daemon);
    if let Some(n) = &notifier {
        let _ = n.ready();
    }
    let mut next_sd_watchdog = wd_interval.map(|d| clock.now() + d);
    let mut next_load = clock.now();
    let mut events = Events::with_capacity(64);
    while flow == Flow::Continue {
        let deadline = [
            cluster.poll_timeout(),
            daemon.next_deadline(),
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
        let mut ready_clients = Vec::new();
        for ev in events.iter() {
            match ev.token() {
                SIGNALS => handle_signals(&mut src, &mut daemon, &mut cluster, &mut inputs),
                FIFO => {
                    if let Some(f) = src.fifo.as_mut() {
                        match f.read_messages() {
                            Ok(msgs) => {
                                for m in msgs {
                                    match fifo_command(&m) {
                                        Some(c) => inputs.push(Input::Command(c)),
                                        None => daemon.router.log(Level::Warn, &fifo_ignored(&m)),
                                    }
                                }
                            }
                            Err(e) => daemon.router.log(Level::Error, &format!("FIFO: {e}")),
                        }
                    }
                }
                PING => daemon.read_ping(&mut inputs),
                API => accept_clients(&src, &mut daemon, &mut ready_clients),
                MEAT => inputs.extend(daemon.poll_fencer()),
                Token(t) if (CONN_BASE..CONN_END).contains(&t) => ready_clients.push(t - CONN_BASE),
                Token(i) => daemon.read_medium(i, &src.poll, &mut inputs),
            }
        }
        daemon.flush_serial();
        daemon.fire_arps();
        if daemon.fencer.next_deadline().is_some_and(|d| d <= now) {
            inputs.extend(daemon.poll_fencer());
        }
        if !ready_clients.is_empty() {
            // One snapshot per wake-up serves every client that asked in it.
            let mut snap = None;
            for id in ready_clients {
                serve_client(id, &mut daemon, &cluster, &mut snap, &mut inputs);
            }
        }
        expire_waiters(&mut daemon);
        if now >= next_load {
            let load = crate::sys::loadavg::read(Path::new(crate::sys::loadavg::LOADAVG));
            cluster.set_load(load.as_deref());
            next_load = now + crate::sys::loadavg::REFRESH;
        }
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
        let restart = if daemon.restart_requested && flow == Flow::Continue {
            let r = cluster.begin_restart();
            if r.is_none() && !std::mem::replace(&mut daemon.restart_waiting, true) {
                // Ours: heartbeat re-execs at once; we wait, and say so, so that an
                // operator whose change seems ignored (a hung script) knows why.
                daemon.router.log(
                    Level::Info,
                    "heartbeat-rs: quick restart waits until no resource operation, \
                     negotiation or standby is running",
                );
            }
            r
        } else {
            None
        };
        if let Some(r) = restart {
            // heartbeat's lines for a restart; the core's `Current resources: …` follows.
            daemon
                .router
                .log(Level::Info, "Heartbeat restart triggered.");
            daemon.router.log(Level::Info, "Restarting heartbeat.");
            // The status with the raised dead time goes out before we exec.
            if drain(&mut cluster, &mut daemon) == Flow::Exit {
                flow = Flow::Exit;
            }
            daemon.flush_serial();
            if flow == Flow::Continue {
                let e = quick_restart(&src, &mut daemon, r);
                // Only a failed exec returns: carry on with the running configuration.
                daemon.restart_requested = false;
                daemon.restart_waiting = false;
                daemon.router.log(
                    Level::Error,
                    &format!("heartbeat-rs: quick restart failed: {e}; running on"),
                );
                cluster.abort_restart();
                if drain(&mut cluster, &mut daemon) == Flow::Exit {
                    flow = Flow::Exit;
                }
            }
        }
        if daemon.groups_dirty {
            daemon.note_groups(&cluster.status());
        }
        daemon.run_probes();
        if std::mem::take(&mut daemon.meat_changed) {
            register_meat(&src.poll, &mut daemon);
        }
        if flow == Flow::Exit {
            daemon.fencer.cancel_all();
            for c in daemon.clients.values_mut() {
                if c.wait.take().is_some() {
                    c.conn.queue(&crate::api::Response::Finished {
                        outcome: crate::api::Outcome::Declined,
                        detail: "heartbeat is shutting down".to_string(),
                    });
                    c.answered = true;
                    c.deadline = now + CLIENT_IO_LIMIT;
                }
            }
        }
        flush_clients(&src.poll, &mut daemon);
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

/// Accepts every pending connection and registers it; a connection's first request may
/// already be there, so each is also served at once.
fn accept_clients(src: &Sources, daemon: &mut Daemon, ready: &mut Vec<usize>) {
    let Some(l) = src.api.as_ref() else {
        return;
    };
    loop {
        match l.accept() {
            Ok(Some(mut conn)) => {
                if daemon.clients.len() >= MAX_CLIENTS {
                    daemon.router.log(
                        Level::Warn,
                        &format!(
                            "control socket: {MAX_CLIENTS} connections open; closing a new one (pid {})",
                            conn.peer().pid
                        ),
                    );
                    continue;
                }
                let id = daemon.next_client;
                daemon.next_client = (id + 1) % (CONN_END - CONN_BASE);
                let token = Token(CONN_BASE + id);
                if let Err(e) = src.poll.registry().register(
                    &mut conn,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    daemon
                        .router
                        .log(Level::Error, &format!("control socket: {e}"));
                    continue;
                }
                daemon.clients.insert(
                    id,
                    Client {
                        conn,
                        wait: None,
                        answered: false,
                        deadline: daemon.now + CLIENT_IO_LIMIT,
                    },
                );
                ready.push(id);
            }
            Ok(None) => return,
            Err(e) => {
                daemon
                    .router
                    .log(Level::Error, &format!("control socket: accept: {e}"));
                return;
            }
        }
    }
}

/// The snapshot the tools see: the core's status plus the edge's facts.
fn snapshot(cluster: &Cluster, daemon: &Daemon) -> crate::api::Snapshot {
    crate::sys::status::snapshot(
        &cluster.status(),
        &daemon.cfg,
        crate::sys::status::EdgeFacts {
            taken_unix: clock::wall_secs(),
            now: daemon.now,
            peer_holds: cluster.peer_holds(),
            transitions: daemon.transitions.clone(),
            fencing: daemon.fence_views(),
            node_order: daemon.node_order.clone(),
        },
    )
}

/// Reads a client's request and answers it (queries from the snapshot) or hands it to the
/// core (standby/takeover), remembering a waiting tool.
fn serve_client(
    id: usize,
    daemon: &mut Daemon,
    cluster: &Cluster,
    snap: &mut Option<crate::api::Snapshot>,
    inputs: &mut Vec<Input>,
) {
    use crate::api::{ErrorKind, Request, Response};
    use crate::sys::api_socket::ConnEvent;
    use crate::sys::status::WaitKind;
    let now = daemon.now;
    let Some(c) = daemon.clients.get_mut(&id) else {
        return;
    };
    if c.answered || c.wait.is_some() {
        return; // writable, or the peer closing while it waits: flush_clients handles it
    }
    let error = |kind: ErrorKind, detail: &str| {
        Some(Response::Error {
            kind,
            detail: detail.to_string(),
        })
    };
    // `None`: nothing to send (closed); a query is answered from the snapshot below.
    let resp = match c.conn.read_request() {
        Ok(ConnEvent::Pending) => return,
        Ok(ConnEvent::Closed) | Err(_) => None,
        Ok(ConnEvent::Refused) => error(ErrorKind::Refused, "not allowed by apiauth anon"),
        Ok(ConnEvent::Bad(e)) => error(ErrorKind::BadRequest, &e.to_string()),
        Ok(ConnEvent::Request(Request::Standby { hold, wait })) => {
            let set = match hold {
                crate::api::Hold::All => Hold::ALL,
                crate::api::Hold::Local => Hold::LOCAL,
                // hb_standby sends failback as foreign (§8.4).
                crate::api::Hold::Foreign | crate::api::Hold::Failback => Hold::FOREIGN,
            };
            inputs.push(Input::Command(Command::Standby(set)));
            if wait {
                c.wait = Some(Waiter::new(WaitKind::Standby, now));
                return;
            }
            Some(Response::Accepted)
        }
        Ok(ConnEvent::Request(Request::Takeover { hold, wait })) => {
            inputs.push(Input::Command(Command::Takeover(hold.as_str().to_string())));
            if wait {
                c.wait = Some(Waiter::new(WaitKind::Takeover, now));
                return;
            }
            Some(Response::Accepted)
        }
        Ok(ConnEvent::Request(query)) => {
            let s = snap.get_or_insert_with(|| snapshot(cluster, daemon));
            Some(crate::api::answer(s, &query))
        }
    };
    if let Some(c) = daemon.clients.get_mut(&id) {
        if let Some(resp) = resp {
            c.conn.queue(&resp);
        }
        c.answered = true;
        c.deadline = now + CLIENT_IO_LIMIT;
    }
}

/// Waiting tools whose request never started get `timed-out`; a client that neither
/// completed its request nor read its answer in time is dropped.
fn expire_waiters(daemon: &mut Daemon) {
    let now = daemon.now;
    daemon
        .clients
        .retain(|_, c| c.wait.is_some() || c.deadline > now);
    for c in daemon.clients.values_mut() {
        if let Some(w) = &c.wait
            && !w.started
            && w.deadline <= now
        {
            let detail = match w.kind {
                crate::sys::status::WaitKind::Standby => "heartbeat did not start the standby",
                crate::sys::status::WaitKind::Takeover => {
                    "the other node did not start a standby (is it up?)"
                }
            };
            c.conn.queue(&crate::api::Response::Finished {
                outcome: crate::api::Outcome::TimedOut,
                detail: detail.to_string(),
            });
            c.wait = None;
            c.answered = true;
            c.deadline = now + CLIENT_IO_LIMIT;
        }
    }
}

/// Writes queued answers; a connection whose answer is out (or that failed) is closed.
fn flush_clients(poll: &Poll, daemon: &mut Daemon) {
    let done: Vec<usize> = daemon
        .clients
        .iter_mut()
        .filter(|(_, c)| c.answered)
        .filter_map(|(id, c)| match c.conn.flush() {
            Ok(false) => None,
            Ok(true) | Err(_) => Some(*id),
        })
        .collect();
    for id in done {
        if let Some(mut c) = daemon.clients.remove(&id) {
            let _ = poll.registry().deregister(&mut c.conn);
        }
    }
}

/// Registers the fencer's pending meatware FIFOs (an fd still registered answers EEXIST;
/// a closed one left the epoll set by itself).
fn register_meat(poll: &Poll, daemon: &mut Daemon) {
    for fd in daemon.fencer.meat_fds() {
        match poll
            .registry()
            .register(&mut mio::unix::SourceFd(&fd), MEAT, Interest::READABLE)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => daemon
                .router
                .log(Level::Error, &format!("meatware FIFO: {e}")),
        }
    }
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

/// SIGHUP found a changed `authkeys`: re-read it (with the start's checks); on success the
/// core signs and verifies with the new keys at once, else the old keys stay.
fn reload_authkeys(src: &Sources, daemon: &mut Daemon, cluster: &mut Cluster) {
    match crate::config::load::read_authkeys(&src.authkeys) {
        Ok(keys) => {
            cluster.set_auth(keys.clone());
            daemon.cfg.auth = keys;
            daemon.router.log(
                Level::Info,
                &format!(
                    "heartbeat-rs: re-read {}: new keys in use for sending and verifying",
                    src.authkeys.display()
                ),
            );
        }
        Err(e) => {
            for d in e.errors() {
                daemon.router.log(Level::Error, &d.to_string());
            }
            daemon.router.log(
                Level::Error,
                &format!(
                    "heartbeat-rs: {} not re-read; the previous keys stay in use",
                    src.authkeys.display()
                ),
            );
        }
    }
}

/// What differs between the running configuration and a re-read one, in words
/// (`keepalive 200ms -> 1`, `media`, ...); empty when nothing does.
pub fn config_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&String> =
        old.parameters.keys().chain(new.parameters.keys()).collect();
    for k in keys {
        let (a, b) = (old.parameters.get(k), new.parameters.get(k));
        if a != b {
            let show = |v: Option<&String>| v.map_or("(unset)".to_string(), Clone::clone);
            out.push(format!("{k} {} -> {}", show(a), show(b)));
        }
    }
    let mut differs = |what: &str, same: bool| {
        if !same {
            out.push(what.to_string());
        }
    };
    differs("node", old.nodes == new.nodes);
    differs("ping nodes", old.ping_nodes == new.ping_nodes);
    differs("media", old.media == new.media);
    differs("haresources", old.groups == new.groups);
    differs(
        "fencing",
        old.stonith == new.stonith && old.fence_agents == new.fence_agents,
    );
    differs("apiauth", old.apiauth == new.apiauth);
    differs("respawn/failfast", old.clients == new.clients);
    differs("env", old.env == new.env);
    differs("watchdog", old.watchdog == new.watchdog);
    out
}

/// SIGHUP found a changed `ha.cf`: check the files as the re-executed process will (the
/// start's checks), log what the restart changes or why it is refused. True: restart.
fn check_changed_config(src: &Sources, daemon: &mut Daemon) -> bool {
    let check = src.reexec.check.clone();
    let host = crate::config::load::SystemHost {
        dir: &daemon.cfg.dir,
    };
    let dir = daemon.cfg.dir.clone();
    match crate::config::load::load_with(&dir, Some(&src.authkeys), &check, &host) {
        Ok(loaded) => {
            let changes = config_changes(&daemon.cfg, &loaded.config);
            let what = if changes.is_empty() {
                "no setting differs".to_string()
            } else {
                changes.join(", ")
            };
            daemon.router.log(
                Level::Info,
                &format!("heartbeat-rs: ha.cf changed ({what}): quick restart keeping resources"),
            );
            true
        }
        Err(e) => {
            for d in e.errors() {
                daemon.router.log(Level::Error, &d.to_string());
            }
            daemon
                .router
                .log(Level::Info, "Config errors: Heartbeat NOT restarted");
            daemon.router.log(
                Level::Error,
                "heartbeat-rs: the changed configuration has errors; the running one stays",
            );
            false
        }
    }
}

/// Quick restart, the exec: nothing of ours must survive into the new process but the
/// pid, the resources (scripts are not re-run, addresses stay configured) and the pid file.
/// Every descriptor we open is close-on-exec (std and our sockets set it). A plain
/// execv(2), not `Command::exec`: that unblocks every signal first, so a SIGTERM or
/// SIGHUP arriving now would kill us with the default action; this way the signal mask
/// and any pending signal carry over to the new process's signalfd. Returns only if the
/// exec failed.
fn quick_restart(src: &Sources, daemon: &mut Daemon, r: crate::cluster::Restart) -> io::Error {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    daemon.fencer.cancel_all();
    // A clean close (magic 'V'); the new process opens the device again at once.
    if let Some(w) = daemon.watchdog.take()
        && let Some(ev) = w.close_clean()
    {
        daemon.router.log(ev.level(), &ev.to_string());
    }
    // Our own path, not /proc/self/exe: the process name (comm) comes from it. A binary
    // replaced since we started shows as "(deleted)": then the running image is used.
    let exe = std::fs::read_link("/proc/self/exe")
        .ok()
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let arg0 = std::env::args_os()
        .next()
        .unwrap_or_else(|| exe.clone().into_os_string());
    let restart_args: Vec<std::ffi::OsString> = r.args().into_iter().map(Into::into).collect();
    let argv: Result<Vec<CString>, _> = std::iter::once(&arg0)
        .chain(src.reexec.args.iter())
        .chain(restart_args.iter())
        .map(|a| CString::new(a.as_bytes()))
        .collect();
    let (Ok(path), Ok(argv)) = (CString::new(exe.as_os_str().as_bytes()), argv) else {
        return io::Error::new(io::ErrorKind::InvalidInput, "an argument contains NUL");
    };
    daemon
        .router
        .log(Level::Info, "Performing heartbeat restart exec.");
    daemon.router.log(
        Level::Debug,
        &format!(
            "heartbeat-rs: re-executing {} {}",
            exe.display(),
            r.args().join(" ")
        ),
    );
    match nix::unistd::execv(&path, &argv) {
        Err(e) => io::Error::from(e),
        Ok(never) => match never {},
    }
}

fn handle_signals(
    src: &mut Sources,
    daemon: &mut Daemon,
    cluster: &mut Cluster,
    inputs: &mut Vec<Input>,
) {
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
                Change::AuthKeys => reload_authkeys(src, daemon, cluster),
                Change::HaCf => {
                    // Quick restart (§4.12): re-exec keeping the resources, once the core
                    // is settled (the main loop asks it). An invalid ha.cf is refused and
                    // the running configuration stays.
                    if check_changed_config(src, daemon) {
                        daemon.restart_requested = true;
                    }
                }
            },
            Sig::Usr1 | Sig::Usr2 => {
                daemon
                    .router
                    .change_debug_level(Stamp::now_local(), sig == Sig::Usr1);
            }
            Sig::Chld => {
                inputs.extend(daemon.reap());
                inputs.extend(daemon.poll_fencer());
            }
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
        notified: Vec<Notification>,
        fail_jobs: bool,
        announced: Vec<usize>,
        logs: Vec<(Level, String)>,
        reboots: usize,
        kicks: usize,
        fenced: Vec<NodeName>,
        /// What a fence request answers at once (`None`: later).
        fence_answer: Option<bool>,
        observed: usize,
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
        fn notify(&mut self, n: Notification) -> Option<Input> {
            let id = n.id;
            self.notified.push(n);
            self.fail_jobs
                .then_some(Input::JobFinished { job: id, ok: false })
        }
        fn announce(&mut self, group: usize) {
            self.announced.push(group);
        }
        fn fence(&mut self, node: NodeName) -> Vec<Input> {
            self.fenced.push(node.clone());
            self.fence_answer
                .map(|ok| Input::FenceFinished { node, ok })
                .into_iter()
                .collect()
        }
        fn log(&mut self, level: Level, text: &str) {
            self.logs.push((level, text.to_owned()));
        }
        fn observe(&mut self, _notice: &Notice) {
            self.observed += 1;
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
    fn respawn_clients_other_than_ipfail_are_reported_as_not_started() {
        let client = |cmd: &str, failfast: bool| crate::config::ClientChild {
            user: "hacluster".into(),
            command: PathBuf::from(cmd),
            args: vec![],
            failfast,
        };
        let lines = unstarted_clients(&[
            client("/usr/libexec/heartbeat/ipfail", false),
            client("/usr/local/bin/watcher", false),
            client("/usr/local/bin/guard", true),
        ]);
        assert_eq!(
            lines,
            [
                "heartbeat-rs: respawn client /usr/local/bin/watcher (user hacluster) is not started: heartbeat-rs does not run respawn clients",
                "heartbeat-rs: failfast client /usr/local/bin/guard (user hacluster) is not started: heartbeat-rs does not run respawn clients",
            ]
        );
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
        let n = Notification {
            id: JobId(1 << 62),
            kind: "ifstat".into(),
            env: vec![("HA_t".into(), "ifstat".into())],
        };
        let _ = route(Action::Notify(n.clone()), &mut f, &mut fb);
        assert_eq!(f.notified, [n]);
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
    fn fencing_goes_to_the_edge_and_an_immediate_answer_is_fed_back() {
        let node = NodeName::new("node2");
        for answer in [None, Some(false), Some(true)] {
            let mut f = Fake {
                fence_answer: answer,
                ..Fake::default()
            };
            let mut fb = VecDeque::new();
            let _ = route(Action::Fence { node: node.clone() }, &mut f, &mut fb);
            assert_eq!(f.fenced.as_slice(), std::slice::from_ref(&node));
            assert_eq!(
                fb.pop_front(),
                answer.map(|ok| Input::FenceFinished {
                    node: node.clone(),
                    ok
                })
            );
        }
    }

    #[test]
    fn notices_are_logged_then_observed() {
        let mut f = Fake::default();
        let mut fb = VecDeque::new();
        let _ = route(Action::Notice(Notice::CommUp), &mut f, &mut fb);
        assert_eq!(f.logs.len(), 1);
        assert_eq!(f.observed, 1);
    }

    #[test]
    fn config_changes_name_what_differs() {
        use crate::config::resolve::{CheckOptions, StaticHost, from_texts};
        let load = |extra: &str| {
            from_texts(
                Path::new("/etc/ha.d"),
                &format!("node node1 node2\nbcast eth0\nkeepalive 1\n{extra}"),
                "node1 192.0.2.100\n",
                "auth 1\n1 crc\n",
                &StaticHost::named("node1"),
                &CheckOptions::default(),
            )
            .expect("valid")
            .config
        };
        let a = load("");
        assert!(config_changes(&a, &a).is_empty());
        let b = load("keepalive 2\nbcast eth1\n");
        assert_eq!(config_changes(&a, &b), ["keepalive 1 -> 2", "media"]);
    }

    #[test]
    fn native_ip_jobs_and_their_arp_knobs() {
        let mut j = job(JobOp::Start);
        j.args = vec!["192.0.2.7/24/eth0".into()];
        assert_eq!(native_arg(&j), Some("192.0.2.7/24/eth0"));
        j.script = "IPaddr2".into();
        assert_eq!(native_arg(&j), Some("192.0.2.7/24/eth0"));
        j.args = vec!["not-an-address".into()];
        assert_eq!(
            native_arg(&j),
            None,
            "the script handles what we cannot read"
        );
        j.args = vec!["192.0.2.7".into(), "extra".into()];
        assert_eq!(native_arg(&j), None);
        j.script = "Filesystem".into();
        j.args = vec!["192.0.2.7".into()];
        assert_eq!(native_arg(&j), None);
        let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(
            arp_repeats("IPaddr", &[]),
            (10, std::time::Duration::from_millis(500))
        );
        assert_eq!(
            arp_repeats("IPaddr2", &env("ARP_REPEAT", "3")),
            (3, std::time::Duration::from_millis(200))
        );
        assert_eq!(
            arp_repeats("IPaddr", &env("ARP_INTERVAL_MS", "50")),
            (10, std::time::Duration::from_millis(50))
        );
        assert_eq!(
            arp_repeats("IPaddr", &env("ARP_REPEAT", "x")).0,
            10,
            "an unreadable knob keeps the default"
        );
        assert_eq!(script_line("INFO:  Success"), (Level::Info, "Success"));
        assert_eq!(script_line("ERROR: boom"), (Level::Error, "boom"));
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
        assert_eq!(
            fifo_command(b">>>\nt=ask_resources\ninfo=me\n<<<\n"),
            Some(Command::Standby(Hold::ALL)),
            "a missing rsc_hold means all"
        );
        assert_eq!(fifo_command(b">>>\nt=resource\nrsc_hold=all\n<<<\n"), None);
        assert_eq!(fifo_command(b"\xff\xfe"), None);
    }

    #[test]
    fn other_fifo_messages_are_logged_with_the_reason() {
        let m = fifo_ignored(b">>>\nt=resource\nrsc_hold=foreign\ninfo=mach_down\n<<<\n");
        assert!(
            m.starts_with("FIFO message t=resource (info,rsc_hold,t) not sent: mach_down"),
            "{m}"
        );
        let m = fifo_ignored(b">>>\nt=ask_resources\nrsc_hold=all\ninfo=other\n<<<\n");
        assert!(m.contains("not info=other rsc_hold=all"), "{m}");
        let m = fifo_ignored(b">>>\nt=ip-request\nipaddr=10.0.0.1\n<<<\n");
        assert!(m.contains("legacy req_resource"), "{m}");
        let m = fifo_ignored(b">>>\nt=setweight\nweight=5\n<<<\n");
        assert!(m.contains("type setweight"), "{m}");
        assert!(fifo_ignored(b">>>\nx=1\n<<<\n").contains("no t= field"));
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
        assert_eq!(p.api_socket(), PathBuf::from("/tmp/x/run/hbrs-api"));
        assert_eq!(p.meatware_dir(), PathBuf::from("/tmp/x/run"));
        let d = Paths::default();
        assert_eq!(d.fifo(), PathBuf::from("/var/lib/heartbeat/fifo"));
        assert_eq!(d.rsctmp(), PathBuf::from("/run/heartbeat/rsctmp"));
        assert_eq!(d.api_socket(), PathBuf::from("/run/heartbeat/hbrs-api"));
        assert_eq!(d.meatware_dir(), PathBuf::from("/run"));
    }
}
