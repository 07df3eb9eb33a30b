//! Fencing at the edge (behaviour spec §7): the core decides *whom* to fence
//! (`Action::Fence { node }`), this module runs the device and reports *whether it worked*
//! (`Input::FenceFinished { node, ok }`). It makes no decision: no retry (the core retries
//! after 5 s, §7.2), no choice of victim.
//!
//! Three methods, one attempt per node at a time:
//!
//! * **cluster-glue STONITH** (`stonith` / `stonith_host`): the `stonith` command,
//!   `stonith -t TYPE -F FILE -T reset NODE` or `stonith -t TYPE -p "PARAMS" -T reset NODE`,
//!   started without a tty on stdin (so the plugin logs through the cluster log, §7.3); exit 0
//!   = reset, 4 (`S_BADHOST`) = the device cannot reset that host, anything else = failure.
//! * **Red Hat fence agents** (`fence_agent`, our ha.cf extension): the agent gets no
//!   argument and its parameters on stdin, one `key=value` a line (§7.5), so that a password
//!   never shows in `ps`; exit 0 = success.
//! * **Manual acknowledgement** (`meatware`): in-process, compatible with cluster-glue's
//!   `meatclient -c NODE`: the FIFO `DIR/meatware.NODE`, heartbeat's CRIT texts, and the reply
//!   `meatware reply NODE` (§7.4).
//!
//! Children go through the same set-up as resource scripts (own process group, signal mask
//! cleared, ignored signals reset) and are reaped per pid; an attempt that outlives its
//! timeout is killed (whole process group) and counts as a failure.

// `pre_exec` is unsafe: the closure runs between fork and exec (agents need a stdin pipe,
// which `spawn::spawn` does not offer).
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use nix::sys::stat::Mode;

use crate::config::model::{Config, FenceAgent, FenceValue, NodeName, StonithDirective};
use crate::sys::log::Level;
use crate::sys::spawn::{self, Exit, Spec};
use crate::time::{Duration, Instant};

/// cluster-glue's result code for "this device cannot reset that host".
pub const S_BADHOST: i32 = 4;
/// Where cluster-glue's meatware plugin and `meatclient` put `meatware.NODE` (the Debian
/// build says `/run`; older builds `/var/run`, the same directory through a symlink).
pub const MEATWARE_DIR: &str = "/run";
/// Bytes `meatclient` writes (the reply, NUL-padded).
pub const MEAT_REPLY_LEN: usize = 256;
/// Largest stdin an agent gets: far below a pipe's buffer, so writing it never blocks.
const MAX_AGENT_INPUT: usize = 16 * 1024;
/// Output kept per attempt for the log.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Where things are and how long an attempt may take. Every path is injectable for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// cluster-glue's `stonith` command.
    pub stonith_command: PathBuf,
    /// Where a bare agent name (`fence_virsh`) is looked up.
    pub agent_dir: PathBuf,
    /// Where `meatware.NODE` FIFOs are created ([`MEATWARE_DIR`]).
    pub meatware_dir: PathBuf,
    /// Scratch files holding an attempt's output until it is logged.
    pub work_dir: PathBuf,
    /// Per attempt of a device (heartbeat has none; a hung device would block takeover
    /// forever without one, while a failure is retried).
    pub timeout: Duration,
    /// Per manual acknowledgement request (cluster-glue's meatware alarm: 600 s).
    pub meatware_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            stonith_command: "/usr/sbin/stonith".into(),
            agent_dir: "/usr/sbin".into(),
            meatware_dir: MEATWARE_DIR.into(),
            work_dir: "/var/lib/heartbeat".into(),
            timeout: Duration::from_secs(120),
            meatware_timeout: Duration::from_secs(600),
        }
    }
}

/// The plugin's parameters: a config file (first usable line) or the positional string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StonithParams {
    File(PathBuf),
    Positional(String),
}

/// How one node is fenced.
#[derive(Clone, PartialEq, Eq)]
pub enum Method {
    Stonith {
        device_type: String,
        params: StonithParams,
    },
    Agent {
        program: PathBuf,
        params: Vec<(String, FenceValue)>,
    },
    Meatware,
}

impl fmt::Debug for Method {
    // Agent parameters may hold secrets; `FenceValue`'s Debug redacts them, this keeps it so.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Stonith {
                device_type,
                params,
            } => f
                .debug_struct("Stonith")
                .field("device_type", device_type)
                .field("params", params)
                .finish(),
            Method::Agent { program, params } => f
                .debug_struct("Agent")
                .field("program", program)
                .field("params", params)
                .finish(),
            Method::Meatware => f.write_str("Meatware"),
        }
    }
}

impl Method {
    /// How `victim` is fenced under `cfg`: a `fence_agent` line naming it, else one for `*`,
    /// else the active STONITH device (§7.1); `None` when nothing can fence it.
    pub fn for_node(cfg: &Config, victim: &NodeName) -> Option<Method> {
        if let Some(a) = cfg.fence_agent_for(victim) {
            return Some(Method::from_agent(a));
        }
        match cfg.active_stonith()? {
            StonithDirective::Stonith {
                device_type,
                config_file,
            } => Some(Method::stonith(
                device_type,
                StonithParams::File(config_file.clone()),
            )),
            StonithDirective::StonithHost {
                device_type,
                params,
                ..
            } => Some(Method::stonith(
                device_type,
                StonithParams::Positional(params.join(" ")),
            )),
        }
    }

    fn stonith(device_type: &str, params: StonithParams) -> Method {
        if device_type == "meatware" {
            Method::Meatware
        } else {
            Method::Stonith {
                device_type: device_type.to_string(),
                params,
            }
        }
    }

    pub fn from_agent(a: &FenceAgent) -> Method {
        Method::Agent {
            program: a.agent.clone(),
            params: a.params.clone(),
        }
    }

    /// The device id heartbeat names in `Resetting node N with [ID]`. cluster-glue's own id
    /// strings are not reachable through the `stonith` command, so a plugin is named by its
    /// type; meatware keeps heartbeat's text.
    pub fn device_id(&self) -> String {
        match self {
            Method::Stonith { device_type, .. } => device_type.clone(),
            Method::Agent { program, .. } => program.file_name().map_or_else(
                || program.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            Method::Meatware => "Meatware STONITH device".to_string(),
        }
    }
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The node is down (device said so, or an operator confirmed).
    Reset,
    /// The device cannot reset that host (`S_BADHOST`).
    BadHost,
    /// The device ran and failed.
    Failed(Exit),
    /// Killed after [`Settings::timeout`] (or no acknowledgement in time).
    TimedOut,
    /// Could not even start (missing program, FIFO error, ...).
    NotStarted,
    /// A malformed reply on the meatware FIFO.
    BadReply,
}

impl Outcome {
    pub fn ok(self) -> bool {
        self == Outcome::Reset
    }
}

/// One finished attempt: what to tell the core, and what to log (heartbeat's texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub node: NodeName,
    pub outcome: Outcome,
    pub log: Vec<(Level, String)>,
}

/// An attempt in progress (status output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub node: NodeName,
    pub device: String,
    pub deadline: Instant,
    pub needs_operator: bool,
}

/// The texts heartbeat logs around a reset (§7.2, §9.3 row 16). `resetting`, `now_reset` and
/// `retrying` are logged by the core (its `Notice`s); they are here for the tests that pin
/// the edge's lines between them.
pub mod text {
    pub fn resetting(node: &str, dev: &str) -> String {
        format!("Resetting node {node} with [{dev}]")
    }
    pub fn now_reset(node: &str) -> String {
        format!("node {node} now reset.")
    }
    pub fn cannot_reset(node: &str, dev: &str) -> String {
        format!("Device {dev} cannot reset host {node}.")
    }
    pub fn not_reset(node: &str) -> String {
        format!("Host {node} not reset!")
    }
    /// The core's line after a failed attempt (it owns the retry).
    pub fn retrying(node: &str) -> String {
        format!("STONITH of {node} failed.  Retrying...")
    }
    pub fn meat_required(node: &str) -> String {
        format!("OPERATOR INTERVENTION REQUIRED to reset {node}.")
    }
    pub fn meat_run(node: &str) -> String {
        format!("Run \"meatclient -c {node}\" AFTER power-cycling the machine.")
    }
    pub fn meat_reset(node: &str) -> String {
        format!("node Meatware-reset: {node}")
    }
    pub fn meat_format(node: &str) -> String {
        format!("Format error - failed to Meatware-reset node {node}")
    }
    pub const MEAT_READ_ERROR: &str = "read error on FIFO for Meatware_reset_host";
}

enum Running {
    Child {
        pid: i32,
        output: PathBuf,
        secrets: Vec<Vec<u8>>,
    },
    Meat {
        fifo: PathBuf,
        reader: File,
        // Held open so that the reader sees "no data" rather than EOF between writers.
        _writer: File,
        buf: Vec<u8>,
    },
}

struct Attempt {
    method: Method,
    deadline: Instant,
    running: Running,
}

/// Time from the end of one round of status probes to the next (heartbeat: one hour).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(3600);

/// When the STONITH status probes run (behaviour §7.2): a first round at comm-up, each
/// next round [`PROBE_INTERVAL`] after the previous one ended. A round probes, one at a
/// time, every distinct device that would fence a peer. Probes only log: they never start
/// an action.
#[derive(Debug, Default)]
pub struct ProbeRounds {
    /// When the next round starts; `None` before comm-up and while a round runs.
    due: Option<Instant>,
    /// The devices of the running round not yet probed.
    queue: Vec<Method>,
    /// The first round was armed (comm-up happens once; later notices change nothing).
    armed: bool,
    /// A probe of the round is running.
    running: bool,
}

impl ProbeRounds {
    /// Comm-up: the first round is due now (only the first time).
    pub fn comm_up(&mut self, now: Instant) {
        if !self.armed {
            self.armed = true;
            self.due = Some(now);
        }
    }

    /// The device to probe now, if any: the next of the running round, or the first of a
    /// round that is due (`devices` says which, asked only then). `None` while a probe
    /// runs.
    pub fn next(&mut self, now: Instant, devices: impl FnOnce() -> Vec<Method>) -> Option<Method> {
        if self.running {
            return None;
        }
        if self.queue.is_empty() {
            if self.due.is_none_or(|d| d > now) {
                return None;
            }
            self.due = None;
            let mut round: Vec<Method> = Vec::new();
            for m in devices() {
                if !round.contains(&m) {
                    round.push(m);
                }
            }
            round.reverse();
            self.queue = round;
            if self.queue.is_empty() {
                // Nothing to probe (no device configured): look again next interval.
                self.due = Some(now + PROBE_INTERVAL);
                return None;
            }
        }
        self.running = true;
        self.queue.pop()
    }

    /// The probe started by [`ProbeRounds::next`] has been reported; the round ends with
    /// its last device, and the next one is due an interval later.
    pub fn finished(&mut self, now: Instant) {
        self.running = false;
        if self.queue.is_empty() {
            self.due = Some(now + PROBE_INTERVAL);
        }
    }

    /// When [`ProbeRounds::next`] has something to start, unless a probe runs.
    pub fn deadline(&self) -> Option<Instant> {
        if self.running {
            None
        } else if !self.queue.is_empty() {
            self.due.or(Some(Instant::from_micros(0)))
        } else {
            self.due
        }
    }
}

/// The devices that fence this node's peers under `cfg`, as a probe round wants them.
pub fn peer_devices(cfg: &Config, me: &NodeName) -> Vec<Method> {
    cfg.nodes
        .iter()
        .filter(|n| *n != me)
        .filter_map(|n| Method::for_node(cfg, n))
        .collect()
}

/// The attempts in progress, at most one per node.
pub struct Fencer {
    settings: Settings,
    attempts: BTreeMap<NodeName, Attempt>,
    done: Vec<Finished>,
    probe: Option<Probe>,
}

struct Probe {
    method: Method,
    deadline: Instant,
    /// `Ok(None)`: nothing to run (meatware); `Err`: could not start.
    running: Result<Option<Running>, String>,
}

impl Fencer {
    pub fn new(settings: Settings) -> Fencer {
        Fencer {
            settings,
            attempts: BTreeMap::new(),
            done: Vec::new(),
            probe: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether an attempt on `node` is in progress.
    pub fn busy(&self, node: &NodeName) -> bool {
        self.attempts.contains_key(node)
    }

    /// The attempts in progress, for status output: node, device, deadline, and whether an
    /// operator must acknowledge.
    pub fn pending(&self) -> Vec<Pending> {
        self.attempts
            .iter()
            .map(|(node, a)| Pending {
                node: node.clone(),
                device: a.method.device_id(),
                deadline: a.deadline,
                needs_operator: a.method == Method::Meatware,
            })
            .collect()
    }

    /// The pids of running devices (for the SIGCHLD reaper).
    pub fn pids(&self) -> Vec<i32> {
        self.attempts
            .values()
            .filter_map(|a| match a.running {
                Running::Child { pid, .. } => Some(pid),
                Running::Meat { .. } => None,
            })
            .collect()
    }

    /// The earliest attempt deadline: when [`Fencer::poll`] must run at the latest.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.attempts
            .values()
            .map(|a| a.deadline)
            .chain(self.probe.as_ref().map(|p| p.deadline))
            .min()
    }

    /// Whether a status probe has been started and not yet reported by
    /// [`Fencer::poll_probe`].
    pub fn probing(&self) -> bool {
        self.probe.is_some()
    }

    /// `Action::Fence { node }` → the method `cfg` names for `node` (see
    /// [`Method::for_node`]), started; no method is a failure reported by the next poll (the
    /// core then retries, and never takes over unfenced).
    pub fn fence(&mut self, now: Instant, cfg: &Config, node: &NodeName) -> Vec<(Level, String)> {
        match Method::for_node(cfg, node) {
            Some(m) => self.start(now, node, m),
            None => {
                if !self.busy(node) {
                    self.done.push(Finished {
                        node: node.clone(),
                        outcome: Outcome::NotStarted,
                        log: vec![
                            (
                                Level::Error,
                                format!("No fencing device configured for {node}."),
                            ),
                            (Level::Error, text::not_reset(node.as_str())),
                        ],
                    });
                }
                Vec::new()
            }
        }
    }

    /// Starts fencing `node` with `method`; returns the lines to log now (meatware's request
    /// to the operator). A second request
    /// for a node already being fenced is ignored (the first attempt answers both). A start
    /// failure is reported by the next [`Fencer::poll`], like any other failure.
    pub fn start(&mut self, now: Instant, node: &NodeName, method: Method) -> Vec<(Level, String)> {
        if self.busy(node) {
            return Vec::new();
        }
        let n = node.as_str();
        // The name becomes part of file names (output, meatware FIFO).
        if n.is_empty() || n.contains('/') || n.starts_with('.') {
            self.done.push(Finished {
                node: node.clone(),
                outcome: Outcome::NotStarted,
                log: vec![(
                    Level::Error,
                    format!("cannot fence node [{n}]: unusable node name"),
                )],
            });
            return Vec::new();
        }
        let dev = method.device_id();
        // `Resetting node N with [DEV]` and `node N now reset.` are the core's notices
        // (it knows the device id too); the edge logs only what the device itself says.
        let mut log = Vec::new();
        let started = match &method {
            Method::Meatware => self.start_meat(node).map(|r| {
                log.push((Level::Crit, text::meat_required(n)));
                log.push((Level::Crit, text::meat_run(n)));
                (r, self.settings.meatware_timeout)
            }),
            _ => self
                .start_child(node, &method)
                .map(|r| (r, self.settings.timeout)),
        };
        match started {
            Ok((running, timeout)) => {
                self.attempts.insert(
                    node.clone(),
                    Attempt {
                        method,
                        deadline: Instant::from_micros(
                            now.as_micros().saturating_add(timeout.as_micros()),
                        ),
                        running,
                    },
                );
            }
            Err(e) => {
                let mut flog = vec![(Level::Error, format!("cannot start {dev} for {n}: {e}"))];
                if method == Method::Meatware {
                    flog.push((Level::Error, text::MEAT_READ_ERROR.to_string()));
                }
                flog.push((Level::Error, text::not_reset(n)));
                self.done.push(Finished {
                    node: node.clone(),
                    outcome: Outcome::NotStarted,
                    log: flog,
                });
            }
        }
        log
    }

    /// Collects finished attempts: children that exited, acknowledgements read, attempts past
    /// their deadline (killed). Call on SIGCHLD, on FIFO readability and at
    /// [`Fencer::next_deadline`].
    pub fn poll(&mut self, now: Instant) -> Vec<Finished> {
        let mut out = std::mem::take(&mut self.done);
        let nodes: Vec<NodeName> = self.attempts.keys().cloned().collect();
        for node in nodes {
            let Some(a) = self.attempts.get_mut(&node) else {
                continue;
            };
            let ended = match &mut a.running {
                Running::Child { pid, .. } => spawn::reap([*pid])
                    .into_iter()
                    .next()
                    .map(|(_, exit)| child_outcome(&a.method, exit)),
                Running::Meat { reader, buf, .. } => read_meat(reader, buf, &node),
            };
            let ended = match ended {
                Some(o) => Some(o),
                None if now >= a.deadline => {
                    if let Running::Child { pid, .. } = a.running {
                        // The group first (the device's helpers), then wait for the leader:
                        // SIGKILL cannot be refused, so this returns promptly.
                        let _ = spawn::signal_group(pid, Signal::SIGKILL);
                        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    }
                    Some(Outcome::TimedOut)
                }
                None => None,
            };
            if let Some(outcome) = ended
                && let Some(a) = self.attempts.remove(&node)
            {
                out.push(self.finish(&node, a, outcome));
            }
        }
        out
    }

    /// Starts the device's status operation (§7.2: at comm-up, then hourly; the core decides
    /// when). One probe at a time; meatware has nothing to probe and is reported operational
    /// at the next [`Fencer::poll_probe`].
    pub fn probe(&mut self, now: Instant, method: Method) -> Vec<(Level, String)> {
        if self.probe.is_some() {
            return Vec::new();
        }
        let dev = method.device_id();
        let log = vec![(
            Level::Info,
            format!("Checking status of STONITH device [{dev}]"),
        )];
        let output = self.settings.work_dir.join("fence.probe.out");
        let running = match method {
            Method::Meatware => Ok(None),
            _ => self.spawn_device(None, &method, output).map(Some),
        };
        let deadline = Instant::from_micros(
            now.as_micros()
                .saturating_add(self.settings.timeout.as_micros()),
        );
        self.probe = Some(Probe {
            method,
            deadline,
            running: running.map_err(|e| e.to_string()),
        });
        log
    }

    /// The pid of a running probe (for the SIGCHLD reaper).
    pub fn probe_pid(&self) -> Option<i32> {
        match self.probe.as_ref()?.running {
            Ok(Some(Running::Child { pid, .. })) => Some(pid),
            _ => None,
        }
    }

    /// The probe's result once it has ended (or timed out): operational or not, lines to log.
    pub fn poll_probe(&mut self, now: Instant) -> Option<(bool, Vec<(Level, String)>)> {
        let p = self.probe.as_ref()?;
        let (ok, mut log) = match &p.running {
            Err(e) => (false, vec![(Level::Error, e.clone())]),
            Ok(None) => (true, Vec::new()),
            Ok(Some(Running::Child { pid, .. })) => {
                let pid = *pid;
                match spawn::reap([pid]).into_iter().next() {
                    Some((_, exit)) => (exit.success(), Vec::new()),
                    None if now >= p.deadline => {
                        let _ = spawn::signal_group(pid, Signal::SIGKILL);
                        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                        (false, Vec::new())
                    }
                    None => return None,
                }
            }
            Ok(Some(Running::Meat { .. })) => (true, Vec::new()),
        };
        let p = self.probe.take()?;
        let dev = p.method.device_id();
        if let Ok(Some(Running::Child {
            output, secrets, ..
        })) = p.running
        {
            let mut lines: Vec<(Level, String)> = read_output(&output)
                .into_iter()
                .map(|l| (Level::Info, format!("{dev}: {}", redact(&l, &secrets))))
                .collect();
            let _ = std::fs::remove_file(&output);
            lines.append(&mut log);
            log = lines;
        }
        if !ok {
            log.push((
                Level::Error,
                format!("STONITH device {dev} not operational!"),
            ));
            log.push((Level::Error, "STONITH status operation failed.".to_string()));
            log.push((
                Level::Info,
                "This may mean that the STONITH device has failed!".to_string(),
            ));
        }
        Some((ok, log))
    }

    /// Abandons every attempt (daemon shutdown): children killed, FIFOs removed.
    pub fn cancel_all(&mut self) {
        if let Some(pid) = self.probe_pid() {
            let _ = spawn::signal_group(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        self.probe = None;
        for (_, a) in std::mem::take(&mut self.attempts) {
            match a.running {
                Running::Child { pid, output, .. } => {
                    let _ = spawn::signal_group(pid, Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    let _ = std::fs::remove_file(output);
                }
                Running::Meat { fifo, .. } => {
                    let _ = std::fs::remove_file(fifo);
                }
            }
        }
    }

    /// The raw fds of pending meatware FIFOs, to register for readability.
    pub fn meat_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.attempts
            .values()
            .filter_map(|a| match &a.running {
                Running::Meat { reader, .. } => Some(reader.as_raw_fd()),
                Running::Child { .. } => None,
            })
            .collect()
    }

    fn finish(&self, node: &NodeName, a: Attempt, outcome: Outcome) -> Finished {
        let n = node.as_str();
        let dev = a.method.device_id();
        let mut log = Vec::new();
        match a.running {
            Running::Child {
                output, secrets, ..
            } => {
                for line in read_output(&output) {
                    log.push((Level::Info, format!("{dev}: {}", redact(&line, &secrets))));
                }
                let _ = std::fs::remove_file(&output);
            }
            Running::Meat { fifo, .. } => {
                let _ = std::fs::remove_file(&fifo);
            }
        }
        match outcome {
            Outcome::Reset => {
                if a.method == Method::Meatware {
                    log.push((Level::Info, text::meat_reset(n)));
                }
            }
            Outcome::BadHost => log.push((Level::Error, text::cannot_reset(n, &dev))),
            Outcome::BadReply => {
                log.push((Level::Error, text::meat_format(n)));
                log.push((Level::Error, text::not_reset(n)));
            }
            Outcome::TimedOut if a.method == Method::Meatware => {
                log.push((Level::Error, text::MEAT_READ_ERROR.to_string()));
                log.push((Level::Error, text::not_reset(n)));
            }
            Outcome::TimedOut => {
                log.push((
                    Level::Error,
                    format!(
                        "{dev} did not finish within {} s; killed.",
                        self.settings.timeout.as_millis() / 1000
                    ),
                ));
                log.push((Level::Error, text::not_reset(n)));
            }
            Outcome::Failed(exit) => {
                let how = match exit {
                    Exit::Code(c) => format!("exit status {c}"),
                    Exit::Signal(s) => format!("killed by signal {s}"),
                };
                log.push((Level::Error, format!("{dev} failed: {how}")));
                log.push((Level::Error, text::not_reset(n)));
            }
            Outcome::NotStarted => log.push((Level::Error, text::not_reset(n))),
        }
        Finished {
            node: node.clone(),
            outcome,
            log,
        }
    }

    fn output_path(&self, node: &NodeName) -> PathBuf {
        self.settings
            .work_dir
            .join(format!("fence.{}.out", node.as_str()))
    }

    fn start_child(&self, node: &NodeName, method: &Method) -> io::Result<Running> {
        self.spawn_device(Some(node), method, self.output_path(node))
    }

    /// Runs `method`'s reset of `node`, or its status operation when `node` is `None`.
    fn spawn_device(
        &self,
        node: Option<&NodeName>,
        method: &Method,
        output: PathBuf,
    ) -> io::Result<Running> {
        match std::fs::remove_file(&output) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        // Created private before anyone writes: an agent's output may quote its parameters.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&output)?;
        let (pid, secrets) = match method {
            Method::Stonith {
                device_type,
                params,
            } => {
                let mut args: Vec<OsString> = vec!["-t".into(), device_type.into()];
                match params {
                    StonithParams::File(f) => {
                        args.push("-F".into());
                        args.push(f.into());
                    }
                    StonithParams::Positional(p) => {
                        args.push("-p".into());
                        args.push(p.into());
                    }
                }
                match node {
                    Some(n) => args.extend(["-T".into(), "reset".into(), n.as_str().into()]),
                    None => args.push("-S".into()),
                }
                let spec = Spec {
                    program: self.settings.stonith_command.clone(),
                    args,
                    env: Vec::new(),
                    output: Some(output.clone()),
                };
                (spawn::spawn(&spec)?, Vec::new())
            }
            Method::Agent { program, params } => {
                let program = if program.components().count() == 1 {
                    self.settings.agent_dir.join(program)
                } else {
                    program.clone()
                };
                refuse_if_writable(&program)?;
                let input = match node {
                    Some(n) => agent_input(n, params),
                    None => agent_status_input(params),
                };
                if input.len() > MAX_AGENT_INPUT {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "fence agent parameters too long",
                    ));
                }
                let secrets = params
                    .iter()
                    .filter_map(|(_, v)| match v {
                        FenceValue::Secret(s) => Some(s.expose().to_vec()),
                        FenceValue::Plain(_) => None,
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                (spawn_with_stdin(&program, &output, &input)?, secrets)
            }
            Method::Meatware => return Err(io::Error::other("meatware runs in-process")),
        };
        Ok(Running::Child {
            pid,
            output,
            secrets,
        })
    }

    fn start_meat(&self, node: &NodeName) -> io::Result<Running> {
        let fifo = meat_fifo(&self.settings.meatware_dir, node);
        // §7.4: any old FIFO is removed first.
        match std::fs::remove_file(&fifo) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))?;
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)?;
        let writer = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)?;
        Ok(Running::Meat {
            fifo,
            reader,
            _writer: writer,
            buf: Vec::new(),
        })
    }
}

/// cluster-glue's rule for plugins and agents: a program that group or others may rewrite
/// is not run with root's privileges.
fn refuse_if_writable(program: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(program)?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} found to be writable by group/others, NOT executing for security purposes.",
                program.display()
            ),
        ));
    }
    Ok(())
}

/// `DIR/meatware.NODE` (cluster-glue: `/run/meatware.NODE`).
pub fn meat_fifo(dir: &Path, node: &NodeName) -> PathBuf {
    dir.join(format!("meatware.{}", node.as_str()))
}

/// The operator's side (`meatclient -c NODE`, without the question): writes the reply to a
/// pending request. Fails with `NotFound` when no request is pending for `node`.
pub fn acknowledge(dir: &Path, node: &str) -> io::Result<()> {
    let fifo = dir.join(format!("meatware.{node}"));
    let meta = std::fs::symlink_metadata(&fifo)?;
    if !meta.file_type().is_fifo() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a FIFO", fifo.display()),
        ));
    }
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)?;
    let mut msg = format!("meatware reply {node}").into_bytes();
    msg.resize(MEAT_REPLY_LEN.max(msg.len()), 0);
    f.write_all(&msg)
}

/// Reads what is available on a meatware FIFO; `Some` once a whole reply is in.
fn read_meat(reader: &mut File, buf: &mut Vec<u8>, node: &NodeName) -> Option<Outcome> {
    let mut chunk = [0u8; MEAT_REPLY_LEN];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => {
                buf.extend_from_slice(chunk.get(..k).unwrap_or(&[]));
                if buf.len() >= MEAT_REPLY_LEN {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Some(Outcome::TimedOut),
        }
    }
    // A reply is complete at its padding (meatclient) or a newline (`echo ... > FIFO`); a
    // full record without either is malformed (and bounds the buffer).
    let end = match buf.iter().position(|b| *b == 0 || *b == b'\n') {
        Some(e) => e,
        None if buf.len() >= MEAT_REPLY_LEN => return Some(Outcome::BadReply),
        None => return None,
    };
    let reply = String::from_utf8_lossy(buf.get(..end).unwrap_or(&[])).into_owned();
    Some(parse_meat_reply(&reply, node))
}

/// `meatware reply HOST`: host compared case-insensitively, as a prefix like cluster-glue.
pub fn parse_meat_reply(reply: &str, node: &NodeName) -> Outcome {
    let words: Vec<&str> = reply.split_whitespace().collect();
    match words.as_slice() {
        ["meatware", "reply", host]
            if host
                .to_ascii_lowercase()
                .starts_with(&node.as_str().to_ascii_lowercase()) =>
        {
            Outcome::Reset
        }
        _ => Outcome::BadReply,
    }
}

fn child_outcome(method: &Method, exit: Exit) -> Outcome {
    match (method, exit) {
        (_, Exit::Code(0)) => Outcome::Reset,
        (Method::Stonith { .. }, Exit::Code(S_BADHOST)) => Outcome::BadHost,
        (_, e) => Outcome::Failed(e),
    }
}

/// The agent's stdin (§7.5): `action=reboot` and `port=NODE` unless configured, then every
/// configured parameter, one `key=value` a line.
pub fn agent_input(node: &NodeName, params: &[(String, FenceValue)]) -> Vec<u8> {
    let has = |k: &[&str]| params.iter().any(|(p, _)| k.contains(&p.as_str()));
    let mut out = Vec::new();
    if !has(&["action", "option"]) {
        out.extend_from_slice(b"action=reboot\n");
    }
    if !has(&["port", "plug"]) {
        out.extend_from_slice(format!("port={}\n", node.as_str()).as_bytes());
    }
    push_params(&mut out, params.iter());
    out
}

/// The agent's stdin for a device check: `action=monitor`, then the configured parameters
/// except the action and the victim's port.
pub fn agent_status_input(params: &[(String, FenceValue)]) -> Vec<u8> {
    let mut out = b"action=monitor\n".to_vec();
    push_params(
        &mut out,
        params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "action" | "option" | "port" | "plug")),
    );
    out
}

fn push_params<'a>(out: &mut Vec<u8>, params: impl Iterator<Item = &'a (String, FenceValue)>) {
    for (k, v) in params {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        match v {
            FenceValue::Plain(s) => out.extend_from_slice(s.as_bytes()),
            FenceValue::Secret(s) => out.extend_from_slice(s.expose()),
        }
        out.push(b'\n');
    }
}

fn read_output(path: &Path) -> Vec<String> {
    let mut text = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(MAX_OUTPUT).read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Replaces every occurrence of a secret in a line of device output.
fn redact(line: &str, secrets: &[Vec<u8>]) -> String {
    let mut s = line.to_string();
    for secret in secrets {
        let secret = String::from_utf8_lossy(secret);
        if !secret.is_empty() {
            s = s.replace(secret.as_ref(), "<redacted>");
        }
    }
    s
}

/// Like `spawn::spawn`, with `input` on stdin through a pipe (written whole, then closed).
#[allow(clippy::disallowed_methods)] // the edge is where processes are spawned
fn spawn_with_stdin(program: &Path, output: &Path, input: &[u8]) -> io::Result<i32> {
    let out = OpenOptions::new().append(true).open(output)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::piped()).stdout(out).stderr(err);
    crate::sys::spawn::child_defaults(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    if let Some(mut stdin) = child.stdin.take() {
        // Smaller than the pipe buffer: never blocks. An agent that exits without reading
        // gives EPIPE, which only means it did not want its parameters.
        let _ = stdin.write_all(input);
    }
    // The Child handle is dropped without waiting: reaping goes through `spawn::reap`.
    Ok(pid)
}

/// `meatclient -c NODE [-w]` (cluster-glue's operator command, same texts and exit codes),
/// plus `-d DIR` (ours) for the FIFO directory. 0 confirmed, 3 cancelled or usage, 4 no
/// pending request.
#[allow(clippy::disallowed_methods)] // `-w` polls for the FIFO once a second, like the original
pub fn meatclient_main(
    args: impl IntoIterator<Item = OsString>,
    stdin: &mut dyn io::BufRead,
    stderr: &mut dyn Write,
) -> i32 {
    let usage = |e: &mut dyn Write| {
        let _ = writeln!(e, "usage: meatclient -c node [-w]");
        3
    };
    let mut node: Option<String> = None;
    let mut wait = false;
    let mut dir = PathBuf::from(MEATWARE_DIR);
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("-c") => node = args.next().and_then(|n| n.into_string().ok()),
            Some("-w") => wait = true,
            Some("-d") => match args.next() {
                Some(d) => dir = d.into(),
                None => return usage(stderr),
            },
            _ => return usage(stderr),
        }
    }
    let Some(node) = node.filter(|n| !n.is_empty() && !n.contains('/')) else {
        return usage(stderr);
    };
    let fifo = dir.join(format!("meatware.{node}"));
    if wait {
        while !fifo.exists() {
            let _ = write!(stderr, ".");
            let _ = stderr.flush();
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let _ = writeln!(stderr);
    }
    // Opened before asking, like the original: no question without a pending request.
    let opened = std::fs::symlink_metadata(&fifo).and_then(|m| {
        if m.file_type().is_fifo() {
            OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
        } else {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        }
    });
    let mut f = match opened {
        Ok(f) => f,
        Err(e) => {
            let why = e
                .raw_os_error()
                .map_or_else(|| e.to_string(), crate::sys::log::strerror);
            let _ = writeln!(stderr, "Meatware_IPC failed: {}: {why}", fifo.display());
            return 4;
        }
    };
    let _ = writeln!(
        stderr,
        "\nWARNING!\n\nIf node \"{node}\" has not been manually power-cycled or disconnected from all shared resources and networks, data on shared disks may become corrupted and migrated services might not work as expected.\nPlease verify that the name or address above corresponds to the node you just rebooted.\n"
    );
    let _ = write!(stderr, "PROCEED? [yN] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    let _ = stdin.read_line(&mut answer);
    if !answer.trim_start().starts_with(['y', 'Y']) {
        let _ = writeln!(stderr, "Meatware_client: operation canceled.");
        return 3;
    }
    let mut msg = format!("meatware reply {node}").into_bytes();
    msg.resize(MEAT_REPLY_LEN.max(msg.len()), 0);
    if let Err(e) = f.write_all(&msg) {
        let _ = writeln!(stderr, "Meatware_IPC failed: {}: {e}", fifo.display());
        return 4;
    }
    let _ = writeln!(stderr, "Meatware_client: reset confirmed.");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(name: &str) -> Method {
        Method::Agent {
            program: PathBuf::from(name),
            params: Vec::new(),
        }
    }

    fn at(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }

    #[test]
    fn probe_rounds_start_at_comm_up_and_repeat_an_hour_after_each_round() {
        // behaviour §7.2: at comm-up, then one hour after the previous probe finished.
        let mut r = ProbeRounds::default();
        let devices = || vec![agent("a"), agent("b"), agent("a")];
        assert_eq!(r.next(at(5), devices), None, "nothing before comm-up");
        assert_eq!(r.deadline(), None);
        r.comm_up(at(10));
        assert_eq!(r.deadline(), Some(at(10)));
        assert_eq!(r.next(at(10), devices), Some(agent("a")));
        assert_eq!(r.next(at(10), devices), None, "one probe at a time");
        assert_eq!(r.deadline(), None, "a running probe wakes the loop itself");
        r.finished(at(12));
        assert!(
            r.deadline().is_some_and(|d| d <= at(12)),
            "the round goes on"
        );
        assert_eq!(
            r.next(at(12), devices),
            Some(agent("b")),
            "each device once"
        );
        r.finished(at(13));
        let next = at(13) + PROBE_INTERVAL;
        assert_eq!(r.deadline(), Some(next));
        assert_eq!(r.next(at(13 + 3599), devices), None);
        r.comm_up(at(20));
        assert_eq!(r.deadline(), Some(next), "a later comm-up changes nothing");
        assert_eq!(r.next(next, devices), Some(agent("a")));
    }

    #[test]
    fn probe_rounds_without_a_device_probe_nothing() {
        let mut r = ProbeRounds::default();
        r.comm_up(at(1));
        assert_eq!(r.next(at(1), Vec::new), None);
        assert_eq!(r.deadline(), Some(at(1) + PROBE_INTERVAL));
    }
}
