//! The deterministic simulated world: a virtual clock, an event queue with a sequence
//! tie-break, one seeded PRNG, media with latency/jitter/loss/duplication and partitions,
//! fake hosts that record which resources run where, fence devices, crashes, restarts,
//! stalls, scripts that are slow, fail or hang, and an adversary that forges and replays.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use heartbeat_rs::cluster::rng::SplitMix64;
use heartbeat_rs::cluster::{
    Action, Boot, Cluster, ClusterConfig, Command, GroupState, Input, JobOp, NodeStatus, Notice,
    Restart, StatusView,
};
use heartbeat_rs::config::{
    AuthKey, AuthKeys, AutoFailback, KeyIndex, NodeName, PingNode, Resource, ResourceGroup, Secret,
    Timing,
};
use heartbeat_rs::time::{Duration, Instant};

pub const KEEPALIVE: Duration = Duration::from_secs(1);
pub const DEADTIME: Duration = Duration::from_secs(10);
pub const INITDEAD: Duration = Duration::from_secs(20);
/// Longest one-way delivery delay (latency + jitter) in the fault-free network.
pub const MAX_LATENCY: Duration = Duration::from_millis(60);
/// S1 without STONITH: how long two nodes that hear each other may both hold a group
/// while the split brain heals (detection + the loser's stop, incl. stop retries).
pub const S1_GRACE: Duration = Duration::from_secs(30);
/// A run with more events than this is a livelock (typical seeds: 2 000–40 000).
pub const MAX_EVENTS: u64 = 2_000_000;
/// L1: after the last fault heals, every group is up exactly once within this bound.
pub const L1_BOUND: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct Shape {
    pub nodes: usize,
    pub media: usize,
    pub mode: AutoFailback,
    pub stonith: bool,
    pub groups_per_node: usize,
    pub resources_per_group: usize,
    pub ping: bool,
    /// A second ping node (only with `ping`), so counts can differ by one.
    pub two_pings: bool,
    /// Built-in ipfail (`respawn hacluster .../ipfail`).
    pub ipfail: bool,
    /// `fence_delay`.
    pub fence_delay: Duration,
}

impl Shape {
    pub fn pair(mode: AutoFailback) -> Shape {
        Shape {
            nodes: 2,
            media: 2,
            mode,
            stonith: false,
            groups_per_node: 1,
            resources_per_group: 2,
            ping: false,
            two_pings: false,
            ipfail: false,
            fence_delay: Duration::ZERO,
        }
    }
}

/// The ping hosts of a shape.
pub fn ping_hosts(s: &Shape) -> Vec<String> {
    match (s.ping, s.two_pings) {
        (false, _) => vec![],
        (true, false) => vec!["10.0.0.254".into()],
        (true, true) => vec!["10.0.0.254".into(), "10.0.0.253".into()],
    }
}

pub fn name(i: usize) -> NodeName {
    NodeName::new(&format!("node{}", i + 1))
}

pub fn cluster_config(s: &Shape) -> ClusterConfig {
    let nodes: Vec<NodeName> = (0..s.nodes).map(name).collect();
    let mut groups = Vec::new();
    if s.nodes == 2 {
        for (n, node) in nodes.iter().enumerate() {
            for g in 0..s.groups_per_node {
                let mut resources = vec![Resource {
                    token: format!("10.0.{}.{}", n + 1, g + 1),
                    script: "IPaddr".into(),
                    args: vec![format!("10.0.{}.{}", n + 1, g + 1)],
                }];
                for r in 1..s.resources_per_group {
                    resources.push(Resource {
                        token: format!("svc{}{}{}", n + 1, g + 1, r),
                        script: format!("svc{}{}{}", n + 1, g + 1, r),
                        args: vec![],
                    });
                }
                groups.push(ResourceGroup {
                    node: node.clone(),
                    resources,
                });
            }
        }
    }
    let key = KeyIndex::new(1).unwrap_or_else(|| unreachable!());
    ClusterConfig {
        nodes,
        ping_nodes: ping_hosts(s)
            .into_iter()
            .map(|h| PingNode {
                name: h.clone(),
                hosts: vec![h],
                is_group: false,
            })
            .collect(),
        media: (0..s.media).map(|m| format!("eth{m}")).collect(),
        timing: Timing {
            keepalive: KEEPALIVE,
            deadtime: DEADTIME,
            warntime: Duration::from_secs(5),
            initdead: INITDEAD,
            deadping: DEADTIME,
        },
        auto_failback: s.mode,
        groups,
        stonith: s.stonith,
        stonith_device: "sim fence device".into(),
        auth: AuthKeys::single(key, AuthKey::Sha1(Secret::new("simkey"))),
        max_rexmit_delay: Duration::from_millis(250),
        hopfudge: 1,
        fence_delay: s.fence_delay,
        ipfail: s.ipfail,
        log_badpack: true,
    }
}

/// Fault knobs (per million) active during the fault phase.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub loss: u64,
    pub dup: u64,
    pub jitter_ms: u64,
    pub script_fail: u64,
    pub script_hang: u64,
    pub stop_fail: u64,
    pub fence_fail: u64,
}

#[derive(Clone, Debug)]
enum Ev {
    Deliver {
        to: usize,
        medium: usize,
        bytes: Vec<u8>,
        from: usize,
    },
    Timer {
        node: usize,
        inc: u32,
    },
    Job {
        node: usize,
        inc: u32,
        job: heartbeat_rs::cluster::Job,
        ok_if_start: bool,
    },
    Fence {
        node: usize,
        inc: u32,
        target: usize,
        ok: bool,
    },
    Ping {
        node: usize,
        inc: u32,
        host: String,
    },
    Crash(usize),
    Start(usize),
    Stall(usize, Duration),
    Resume(usize),
    Cut {
        medium: usize,
        a: usize,
        b: usize,
        oneway: bool,
    },
    Cmd(usize, Command),
    /// The node's echo requests to this ping host go unanswered from now on (until heal).
    PingCut(usize, String),
    Forge(usize),
    Replay(usize),
    Heal,
    /// SIGHUP with a changed ha.cf: the node asks its core to restart (again later if busy).
    QuickRestart(usize),
    /// The re-executed process starts (`heartbeat -R`): same machine, resources kept.
    Reexec(usize, Restart),
}

pub struct SimNode {
    pub cluster: Option<Cluster>,
    pub inc: u32,
    pub generation: u64,
    pub stalled: bool,
    deferred: Vec<Ev>,
    timer_at: Option<Instant>,
    /// Resources up on this machine: (group, resource).
    pub up: BTreeSet<(usize, usize)>,
    pub booted_at: Instant,
    /// The end of the node's last stall: it judges peers from replayed (old) packets then.
    pub resumed_at: Option<Instant>,
    pub crashed_at: Option<Instant>,
    pub clean_exit: bool,
    /// A quick restart's exec is under way (between the old process and the new one).
    pub reexec: bool,
    /// The incarnation is a quick restart's new process.
    pub restarted: bool,
    /// Recently accepted datagrams, for replay attacks.
    seen: VecDeque<(usize, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub at: Instant,
    pub what: String,
}

pub struct World {
    pub now: Instant,
    seq: u64,
    events: BTreeMap<(Instant, u64), Ev>,
    pub rng: SplitMix64,
    pub shape: Shape,
    pub cfg: ClusterConfig,
    pub nodes: Vec<SimNode>,
    pub faults: Faults,
    pub faulty: bool,
    blocked: BTreeSet<(usize, usize, usize)>,
    ping_blocked: BTreeSet<(usize, String)>,
    pub trace: Vec<String>,
    pub keep_trace: bool,
    pub violations: Vec<Violation>,
    /// (group) → since when two nodes that hear each other both hold it.
    overlap_since: BTreeMap<usize, Instant>,
    pub admin_moves: bool,
    pub start_failures: bool,
    pub healed_at: Option<Instant>,
    /// T1 watches: (victim, crash time, bound, observer, observer incarnation).
    t1_pending: Vec<(usize, Instant, Duration, usize, u32)>,
    pub t1_checked: u64,
    pub announces: u64,
    pub takeovers: u64,
    /// Scripted script outcomes for scenarios: (node, group, resource, op) → fail N times.
    pub script_fail: Vec<(usize, usize, usize, JobOp, u32)>,
    /// (node, group) with a hung script: v1 has no script timeouts and runs operations
    /// one at a time, so S1's grace cannot run while a holder has a hung script.
    hung: BTreeSet<(usize, usize)>,
    /// The next N fence attempts fail.
    pub fence_failures: u32,
    pub events_run: u64,
    hash: u64,
}

fn fnv(h: u64, s: &str) -> u64 {
    let mut h = h;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl World {
    pub fn new(seed: u64, shape: Shape) -> World {
        let cfg = cluster_config(&shape);
        let nodes = (0..shape.nodes)
            .map(|_| SimNode {
                cluster: None,
                inc: 0,
                generation: 1000,
                stalled: false,
                deferred: Vec::new(),
                timer_at: None,
                up: BTreeSet::new(),
                booted_at: Instant::ZERO,
                resumed_at: None,
                crashed_at: None,
                clean_exit: false,
                reexec: false,
                restarted: false,
                seen: VecDeque::new(),
            })
            .collect();
        World {
            now: Instant::ZERO,
            seq: 0,
            events: BTreeMap::new(),
            rng: SplitMix64::new(seed),
            shape,
            cfg,
            nodes,
            faults: Faults::default(),
            faulty: false,
            blocked: BTreeSet::new(),
            ping_blocked: BTreeSet::new(),
            trace: Vec::new(),
            keep_trace: true,
            violations: Vec::new(),
            overlap_since: BTreeMap::new(),
            admin_moves: false,
            start_failures: false,
            healed_at: None,
            t1_pending: Vec::new(),
            t1_checked: 0,
            announces: 0,
            takeovers: 0,
            script_fail: Vec::new(),
            hung: BTreeSet::new(),
            fence_failures: 0,
            events_run: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.events.insert((at, self.seq), ev);
    }

    fn chance(&mut self, per_million: u64) -> bool {
        per_million > 0 && self.rng.range(0, 999_999) < per_million
    }

    fn log(&mut self, line: String) {
        self.hash = fnv(self.hash, &line);
        if self.keep_trace {
            self.trace.push(line);
        }
    }

    pub fn trace_hash(&self) -> u64 {
        self.hash
    }

    // ---- scheduling API for scenarios and sweeps ------------------------------------

    pub fn start_at(&mut self, t: Instant, n: usize) {
        self.push(t, Ev::Start(n));
    }
    pub fn crash_at(&mut self, t: Instant, n: usize) {
        self.push(t, Ev::Crash(n));
    }
    /// A quick restart (behaviour spec §4.12) of node `n` at `t`.
    pub fn quick_restart_at(&mut self, t: Instant, n: usize) {
        self.push(t, Ev::QuickRestart(n));
    }
    pub fn stall_at(&mut self, t: Instant, n: usize, d: Duration) {
        self.push(t, Ev::Stall(n, d));
    }
    pub fn cmd_at(&mut self, t: Instant, n: usize, c: Command) {
        if matches!(c, Command::Standby(_) | Command::Takeover(_)) {
            self.admin_moves = true;
        }
        self.push(t, Ev::Cmd(n, c));
    }
    pub fn cut_at(&mut self, t: Instant, medium: usize, a: usize, b: usize, oneway: bool) {
        self.push(
            t,
            Ev::Cut {
                medium,
                a,
                b,
                oneway,
            },
        );
    }
    pub fn ping_cut_at(&mut self, t: Instant, n: usize, host: &str) {
        self.push(t, Ev::PingCut(n, host.to_string()));
    }
    pub fn forge_at(&mut self, t: Instant, n: usize) {
        self.push(t, Ev::Forge(n));
    }
    pub fn replay_at(&mut self, t: Instant, n: usize) {
        self.push(t, Ev::Replay(n));
    }
    pub fn heal_at(&mut self, t: Instant) {
        self.push(t, Ev::Heal);
    }

    pub fn run_until(&mut self, end: Instant) {
        while let Some((&(t, s), _)) = self.events.iter().next() {
            if t > end {
                break;
            }
            if self.events_run >= MAX_EVENTS {
                // A livelock (nodes answering each other forever) must fail, not hang.
                self.violation(format!("L0: more than {MAX_EVENTS} events: livelock"));
                self.events.clear();
                break;
            }
            let Some(ev) = self.events.remove(&(t, s)) else {
                break;
            };
            self.now = t;
            self.events_run += 1;
            self.step(ev);
            self.check_safety();
        }
        self.now = end;
    }

    // ---- events --------------------------------------------------------------------

    fn node_of(ev: &Ev) -> Option<(usize, Option<u32>)> {
        match ev {
            Ev::Deliver { to, .. } => Some((*to, None)),
            Ev::Timer { node, inc } | Ev::Job { node, inc, .. } | Ev::Ping { node, inc, .. } => {
                Some((*node, Some(*inc)))
            }
            Ev::Fence { node, inc, .. } => Some((*node, Some(*inc))),
            _ => None,
        }
    }

    fn step(&mut self, ev: Ev) {
        if let Some((n, inc)) = Self::node_of(&ev) {
            if let Ev::Fence { target, ok, .. } = &ev {
                // The device acts whatever became of the requester.
                if *ok {
                    self.fence_kill(*target);
                }
            }
            let node = &mut self.nodes[n];
            if node.cluster.is_none() || inc.is_some_and(|i| i != node.inc) {
                return;
            }
            if node.stalled {
                node.deferred.push(ev);
                return;
            }
        }
        match ev {
            Ev::Deliver {
                to,
                medium,
                bytes,
                from,
            } => {
                let before = self.nodes[to].cluster.as_ref().map(|c| c.drops());
                self.input(
                    to,
                    Input::Datagram {
                        medium,
                        bytes: bytes.clone(),
                    },
                );
                let after = self.nodes[to].cluster.as_ref().map(|c| c.drops());
                if before == after {
                    let seen = &mut self.nodes[to].seen;
                    seen.push_back((medium, bytes));
                    if seen.len() > 64 {
                        seen.pop_front();
                    }
                }
                let _ = from;
            }
            Ev::Timer { node, .. } => {
                // Superseded by a later poll_timeout: nothing is due now. (Firing it anyway
                // re-armed the timer each time, so duplicates piled up: seed 3777 reached
                // two million events with 15 nodes.)
                if self.nodes[node].timer_at.is_some_and(|t| t != self.now) {
                    return;
                }
                self.nodes[node].timer_at = None;
                let now = self.now;
                if let Some(c) = self.nodes[node].cluster.as_mut() {
                    c.handle_timeout(now);
                }
                self.pump(node);
            }
            Ev::Job {
                node,
                job,
                ok_if_start,
                ..
            } => {
                let key = (job.group, job.resource);
                let ok = match job.op {
                    JobOp::Start => {
                        if ok_if_start {
                            self.nodes[node].up.insert(key);
                        }
                        ok_if_start
                    }
                    JobOp::Stop => {
                        if ok_if_start {
                            self.nodes[node].up.remove(&key);
                        }
                        ok_if_start
                    }
                    JobOp::Status => self.nodes[node].up.contains(&key),
                };
                self.input(node, Input::JobFinished { job: job.id, ok });
            }
            Ev::Fence {
                node, target, ok, ..
            } => {
                let target = name(target);
                self.input(node, Input::FenceFinished { node: target, ok });
            }
            Ev::Ping { node, host, .. } => self.input(node, Input::PingReply { host }),
            Ev::Crash(n) => self.crash(n, false),
            Ev::Start(n) => self.boot(n),
            Ev::Stall(n, d) => {
                if self.nodes[n].cluster.is_some() && !self.nodes[n].stalled {
                    self.nodes[n].stalled = true;
                    self.t1_pending.retain(|w| w.3 != n);
                    let t = self.now + d;
                    self.log(format!(
                        "{} {} STALL {}ms",
                        self.now,
                        name(n),
                        d.as_millis()
                    ));
                    self.push(t, Ev::Resume(n));
                }
            }
            Ev::Resume(n) => self.resume(n),
            Ev::Cut {
                medium,
                a,
                b,
                oneway,
            } => {
                self.blocked.insert((medium, a, b));
                if !oneway {
                    self.blocked.insert((medium, b, a));
                }
                self.log(format!(
                    "{} CUT eth{medium} {}-{}",
                    self.now,
                    name(a),
                    name(b)
                ));
            }
            Ev::Cmd(n, c) => {
                if self.nodes[n].cluster.is_some() {
                    self.log(format!("{} {} CMD {:?}", self.now, name(n), c));
                    self.input(n, Input::Command(c));
                }
            }
            Ev::PingCut(n, host) => {
                self.log(format!("{} CUT {}-{host}", self.now, name(n)));
                self.ping_blocked.insert((n, host));
            }
            Ev::Forge(n) => self.forge(n),
            Ev::Replay(n) => self.replay(n),
            Ev::Heal => self.heal(),
            Ev::QuickRestart(n) => self.quick_restart(n),
            Ev::Reexec(n, r) => {
                if std::mem::take(&mut self.nodes[n].reexec) {
                    self.boot_with(n, Some(r));
                }
            }
        }
    }

    fn resume(&mut self, n: usize) {
        if !self.nodes[n].stalled {
            return;
        }
        self.nodes[n].stalled = false;
        self.nodes[n].resumed_at = Some(self.now);
        self.log(format!("{} {} RESUME", self.now, name(n)));
        let deferred = std::mem::take(&mut self.nodes[n].deferred);
        for ev in deferred {
            self.step(ev);
        }
        let now = self.now;
        if let Some(c) = self.nodes[n].cluster.as_mut() {
            c.handle_timeout(now);
        }
        self.pump(n);
    }

    /// The old process raises its dead time and hands over; the exec takes 300 ms during
    /// which nothing is heard from the node, but its resources stay up.
    fn quick_restart(&mut self, n: usize) {
        if self.nodes[n].stalled {
            return;
        }
        let Some(c) = self.nodes[n].cluster.as_mut() else {
            return;
        };
        let r = c.begin_restart();
        self.pump(n);
        let Some(r) = r else {
            let t = self.now + Duration::from_millis(500);
            self.push(t, Ev::QuickRestart(n));
            return;
        };
        self.log(format!(
            "{} {} QUICK-RESTART {}",
            self.now,
            name(n),
            r.args().join(" ")
        ));
        self.nodes[n].cluster = None;
        self.nodes[n].reexec = true;
        let t = self.now + Duration::from_millis(300);
        self.push(t, Ev::Reexec(n, r));
    }

    fn boot(&mut self, n: usize) {
        self.boot_with(n, None);
    }

    fn boot_with(&mut self, n: usize, restart: Option<Restart>) {
        if self.nodes[n].cluster.is_some() || (restart.is_none() && self.nodes[n].reexec) {
            return;
        }
        self.nodes[n].restarted = restart.is_some();
        let node = &mut self.nodes[n];
        node.inc += 1;
        node.generation += 1;
        node.booted_at = self.now;
        node.crashed_at = None;
        node.clean_exit = false;
        node.stalled = false;
        node.deferred.clear();
        node.timer_at = None;
        // Only packets this incarnation processed are replayed at it.
        node.seen.clear();
        let boot = Boot {
            generation: node.generation,
            seed: self.rng.next_u64(),
            wall_secs: 1_700_000_000,
            pid: 4000 + u32::try_from(n).unwrap_or(0),
            uuid: [u8::try_from(n).unwrap_or(0).wrapping_add(1); 16],
            restart,
        };
        self.log(format!(
            "{} {} BOOT gen={}",
            self.now,
            name(n),
            boot.generation
        ));
        match Cluster::new(self.cfg.clone(), name(n), boot, self.now) {
            Ok(c) => self.nodes[n].cluster = Some(c),
            Err(e) => self.violations.push(Violation {
                at: self.now,
                what: format!("Cluster::new failed: {e:?}"),
            }),
        }
        self.pump(n);
    }

    /// The machine goes down: the heartbeat process and every resource on it.
    fn crash(&mut self, n: usize, clean: bool) {
        if self.nodes[n].cluster.is_none() {
            // Between a quick restart's old and new process: the machine goes down all
            // the same (its resources with it), and the new process never starts.
            if !clean && std::mem::take(&mut self.nodes[n].reexec) {
                self.log(format!("{} {} CRASH (during the exec)", self.now, name(n)));
                self.nodes[n].up.clear();
                self.nodes[n].crashed_at = Some(self.now);
            }
            return;
        }
        self.log(format!(
            "{} {} {}",
            self.now,
            name(n),
            if clean { "EXIT" } else { "CRASH" }
        ));
        let node = &mut self.nodes[n];
        node.cluster = None;
        node.stalled = false;
        node.deferred.clear();
        node.crashed_at = Some(self.now);
        node.clean_exit = clean;
        if !clean {
            node.up.clear();
            // T1: dead time as advertised (+2 s during its first 5 s) + the keepalive the
            // crash may have cut short + the last heartbeat's delivery delay.
            let booted = node.booted_at;
            // A quick restart's new process advertises +30 s during those 5 s.
            let early = self.now.saturating_since(booted) < Duration::from_secs(5);
            let bump = match (early, node.restarted) {
                (true, true) => Duration::from_secs(32),
                (true, false) => Duration::from_secs(2),
                _ => Duration::ZERO,
            };
            // An observer whose last heartbeat from the victim is one of the first 5 s
            // (the later ones lost, or the crash came at the very end of the window) judges
            // it by that heartbeat's bumped dead time, whenever the crash (seeds 232092,
            // 242778).
            let jitter = if self.faulty {
                self.faults.jitter_ms
            } else {
                0
            };
            let max_delay = Duration::from_millis(40 + jitter);
            // A quick restart's new process advertised +30 s more in that window: an
            // observer cut off from its later heartbeats judges it by that (seed 301003).
            let restart_extra = if node.restarted {
                Duration::from_secs(30)
            } else {
                Duration::ZERO
            };
            let bumped_reach = (booted + Duration::from_secs(5) + DEADTIME + restart_extra)
                .saturating_since(self.now)
                + Duration::from_secs(2)
                + max_delay;
            let bound = (DEADTIME + bump + KEEPALIVE + MAX_LATENCY).max(bumped_reach);
            for o in 0..self.nodes.len() {
                // An observer that just resumed from a stall judges the victim from
                // replayed packets (an old, bumped dead time): not a T1 watch (seeds
                // 42241, 48756).
                let fresh = self.nodes[o].resumed_at.is_none_or(|r| {
                    self.now.saturating_since(r) > DEADTIME + Duration::from_secs(2)
                });
                let watch = o != n
                    && fresh
                    && !self.nodes[o].stalled
                    && self.nodes[o].cluster.as_ref().is_some_and(|c| {
                        let st = c.status();
                        st.comm_up
                            && st.nodes.iter().any(|v| {
                                v.name == name(n)
                                    && matches!(v.status, NodeStatus::Up | NodeStatus::Active)
                            })
                    });
                if watch {
                    let inc = self.nodes[o].inc;
                    self.t1_pending.push((n, self.now, bound, o, inc));
                }
            }
        }
    }

    fn fence_kill(&mut self, target: usize) {
        // A machine between a quick restart's old and new process is reset all the same
        // (seed 300831: the reset was lost and the new process came up with its groups).
        if self.nodes[target].cluster.is_some() || self.nodes[target].reexec {
            self.log(format!("{} {} FENCED", self.now, name(target)));
            self.crash(target, false);
            self.t1_pending.retain(|w| w.0 != target);
            // A reset machine comes back.
            let d = Duration::from_secs(self.rng.range(15, 40));
            let t = self.now + d;
            self.push(t, Ev::Start(target));
        }
    }

    fn input(&mut self, n: usize, i: Input) {
        let now = self.now;
        if let Some(c) = self.nodes[n].cluster.as_mut() {
            c.handle(now, i);
        }
        self.pump(n);
    }

    fn latency(&mut self) -> Duration {
        let j = if self.faulty {
            self.faults.jitter_ms
        } else {
            0
        };
        Duration::from_millis(self.rng.range(1, 40) + self.rng.range(0, j))
    }

    /// Drains a node's actions into the world (the edge).
    fn pump(&mut self, n: usize) {
        while let Some(a) = self.nodes[n].cluster.as_mut().and_then(|c| c.poll_action()) {
            self.act(n, a);
            if self.nodes[n].cluster.is_none() {
                return;
            }
        }
        let Some(c) = self.nodes[n].cluster.as_ref() else {
            return;
        };
        if let Some(t) = c.poll_timeout() {
            let t = t.max(self.now);
            if self.nodes[n].timer_at != Some(t) {
                self.nodes[n].timer_at = Some(t);
                let inc = self.nodes[n].inc;
                self.push(t, Ev::Timer { node: n, inc });
            }
        }
    }

    fn act(&mut self, n: usize, a: Action) {
        match a {
            Action::Send { medium, bytes } => {
                if self.keep_trace {
                    let t = summarize(&bytes);
                    self.log(format!("{} {} SEND eth{medium} {t}", self.now, name(n)));
                }
                for to in 0..self.nodes.len() {
                    if to == n || self.blocked.contains(&(medium, n, to)) {
                        continue;
                    }
                    let (loss, dup) = if self.faulty {
                        (self.faults.loss, self.faults.dup)
                    } else {
                        (0, 0)
                    };
                    if self.chance(loss) {
                        continue;
                    }
                    let copies = if self.chance(dup) { 2 } else { 1 };
                    for _ in 0..copies {
                        let t = self.now + self.latency();
                        self.push(
                            t,
                            Ev::Deliver {
                                to,
                                medium,
                                bytes: bytes.clone(),
                                from: n,
                            },
                        );
                    }
                }
            }
            Action::Ping { host } => {
                if self.ping_blocked.contains(&(n, host.clone())) {
                    return;
                }
                let inc = self.nodes[n].inc;
                let t = self.now + self.latency();
                self.push(t, Ev::Ping { node: n, inc, host });
            }
            Action::Run(job) => {
                self.check_order(n, &job);
                let inc = self.nodes[n].inc;
                let mut delay = Duration::from_millis(self.rng.range(20, 400));
                let mut ok = true;
                for rule in self.script_fail.iter_mut() {
                    if rule.0 == n
                        && rule.1 == job.group
                        && rule.2 == job.resource
                        && rule.3 == job.op
                        && rule.4 > 0
                    {
                        rule.4 -= 1;
                        ok = false;
                        if job.op == JobOp::Start {
                            self.start_failures = true;
                        }
                    }
                }
                if self.faulty {
                    let (sf, hang, stf) = (
                        self.faults.script_fail,
                        self.faults.script_hang,
                        self.faults.stop_fail,
                    );
                    match job.op {
                        JobOp::Start if self.chance(sf) => {
                            ok = false;
                            self.start_failures = true;
                        }
                        JobOp::Stop if self.chance(stf) => ok = false,
                        _ => {}
                    }
                    if self.chance(hang) {
                        // Hangs until the operator kills it at heal time (then it failed).
                        delay = Duration::from_secs(100_000);
                        self.hung.insert((n, job.group));
                        if job.op == JobOp::Start {
                            self.start_failures = true;
                        }
                        ok = false;
                    }
                }
                self.log(format!(
                    "{} {} RUN {} {:?} g{} r{}",
                    self.now,
                    name(n),
                    job.script,
                    job.op,
                    job.group,
                    job.resource
                ));
                let t = self.now + delay;
                self.push(
                    t,
                    Ev::Job {
                        node: n,
                        inc,
                        job,
                        ok_if_start: ok,
                    },
                );
            }
            Action::Fence { node } => {
                let target = self.cfg.nodes.iter().position(|x| *x == node).unwrap_or(0);
                let ff = if self.faulty {
                    self.faults.fence_fail
                } else {
                    0
                };
                let mut ok = !self.chance(ff);
                if self.fence_failures > 0 {
                    self.fence_failures -= 1;
                    ok = false;
                }
                let inc = self.nodes[n].inc;
                let t = self.now + Duration::from_millis(self.rng.range(500, 3000));
                self.push(
                    t,
                    Ev::Fence {
                        node: n,
                        inc,
                        target,
                        ok,
                    },
                );
            }
            // The simulated nodes list no rc.d scripts, so the core asks for none.
            Action::Notify(n) => panic!("unexpected rc.d notification {n:?}"),
            Action::Announce { group } => {
                self.announces += 1;
                self.log(format!("{} {} ANNOUNCE g{group}", self.now, name(n)));
            }
            Action::Notice(notice) => self.on_notice(n, notice),
            Action::Reboot => {
                self.log(format!("{} {} REBOOT", self.now, name(n)));
                self.crash(n, false);
                let t = self.now + Duration::from_secs(20);
                self.push(t, Ev::Start(n));
            }
            Action::Exit(_) => {
                self.crash(n, true);
                if self.healed_at.is_some() {
                    // A delayed shutdown completing after the heal: the operator starts it again.
                    let t = self.now + Duration::from_secs(2);
                    self.push(t, Ev::Start(n));
                }
            }
        }
    }

    fn on_notice(&mut self, n: usize, notice: Notice) {
        if let Notice::NodeDead(victim) | Notice::HeartbeatRestart(victim) = &notice
            && let Some(v) = self.cfg.nodes.iter().position(|x| x == victim)
        {
            let now = self.now;
            let inc_n = self.nodes[n].inc;
            let mut late = Vec::new();
            self.t1_pending.retain(|&(x, crashed, bound, o, inc)| {
                if x != v || o != n {
                    return true;
                }
                if inc != inc_n {
                    return false; // the observer restarted meanwhile
                }
                if now.saturating_since(crashed) > bound {
                    late.push((crashed, bound));
                }
                false
            });
            self.t1_checked += 1;
            for (crashed, bound) in late {
                self.violation(format!(
                    "T1: {} noticed the crash of {victim} at {crashed} only at {now} (bound {bound})",
                    name(n)
                ));
            }
        }
        if matches!(notice, Notice::ResourcesBeingAcquired(_)) {
            self.takeovers += 1;
        }
        if self.keep_trace || matches!(notice, Notice::NodeDead(_)) {
            let line = format!(
                "{} {} {}: {}",
                self.now,
                name(n),
                notice.priority().word(),
                notice
            );
            self.log(line);
        }
    }

    fn check_order(&mut self, n: usize, job: &heartbeat_rs::cluster::Job) {
        let len = self.cfg.groups[job.group].resources.len();
        let up = &self.nodes[n].up;
        let bad = match job.op {
            // S3: start left to right: everything before it is up.
            JobOp::Start => (0..job.resource).any(|r| !up.contains(&(job.group, r))),
            // stop right to left: everything after it is down.
            JobOp::Stop => (job.resource + 1..len).any(|r| up.contains(&(job.group, r))),
            JobOp::Status => false,
        };
        if bad {
            self.violation(format!(
                "S3: {} {:?} g{} r{} out of order (up: {:?})",
                name(n),
                job.op,
                job.group,
                job.resource,
                self.nodes[n].up
            ));
        }
    }

    fn violation(&mut self, what: String) {
        self.log(format!("{} VIOLATION {what}", self.now));
        self.violations.push(Violation { at: self.now, what });
    }

    fn hears(&self, a: usize, b: usize) -> bool {
        let sees = |x: usize, y: usize| {
            let nx = &self.nodes[x];
            !nx.stalled
                && nx.cluster.as_ref().is_some_and(|c| {
                    c.status().nodes.iter().any(|v| {
                        v.name == name(y) && matches!(v.status, NodeStatus::Up | NodeStatus::Active)
                    })
                })
        };
        sees(a, b) && sees(b, a)
    }

    fn holders(&self, g: usize) -> Vec<usize> {
        let len = self.cfg.groups[g].resources.len();
        (0..self.nodes.len())
            .filter(|&n| (0..len).any(|r| self.nodes[n].up.contains(&(g, r))))
            .collect()
    }

    /// S1 after every event.
    fn check_safety(&mut self) {
        for g in 0..self.cfg.groups.len() {
            let h = self.holders(g);
            if h.len() < 2 {
                self.overlap_since.remove(&g);
                continue;
            }
            if self.shape.stonith {
                let live: Vec<usize> = h
                    .iter()
                    .copied()
                    .filter(|&n| self.nodes[n].cluster.is_some())
                    .collect();
                if live.len() > 1 {
                    self.violation(format!(
                        "S1: group {g} up on live nodes {live:?} with STONITH"
                    ));
                    self.overlap_since.remove(&g);
                    continue;
                }
            }
            let hearing = h
                .iter()
                .enumerate()
                .any(|(i, &a)| h[i + 1..].iter().any(|&b| self.hears(a, b)));
            if !hearing {
                self.overlap_since.remove(&g);
                continue;
            }
            // A hung script blocks every later operation on its node (v1 runs them one at
            // a time and has no script timeouts), so the grace cannot run meanwhile.
            if h.iter().any(|&n| self.hung.iter().any(|&(hn, _)| hn == n)) {
                self.overlap_since.remove(&g);
                continue;
            }
            let since = *self.overlap_since.entry(g).or_insert(self.now);
            if self.now.saturating_since(since) > S1_GRACE {
                self.violation(format!(
                    "S1: group {g} up on {h:?} which hear each other since {since}"
                ));
                self.overlap_since.insert(g, self.now);
            }
        }
    }

    fn forge(&mut self, n: usize) {
        let Some(c) = self.nodes[n].cluster.as_ref() else {
            return;
        };
        if self.nodes[n].stalled {
            return;
        }
        let before = strip(c.status());
        // A well-formed packet from a real peer name, signed with the wrong key, or garbage.
        let peer = name((n + 1) % self.nodes.len());
        let bytes = match self.rng.range(0, 2) {
            0 => format!(
                ">>>\nt=status\nst=dead\nsrc={peer}\nseq=ffff\nhg=ffffff\nts=1\nttl=3\nauth=1 {}\n<<<\n",
                "0".repeat(40)
            )
            .into_bytes(),
            1 => {
                let len = self.rng.range(0, 300);
                (0..len).map(|_| (self.rng.next_u64() & 0xff) as u8).collect()
            }
            _ => {
                let mut b = self.nodes[n]
                    .seen
                    .back()
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                if !b.is_empty() {
                    let i = self.rng.range(0, b.len() as u64 - 1) as usize;
                    b[i] ^= 1 + (self.rng.next_u64() as u8 & 0x7f);
                }
                b
            }
        };
        self.expect_no_effect(n, Input::Datagram { medium: 0, bytes }, before, "forged");
    }

    fn replay(&mut self, n: usize) {
        let Some(c) = self.nodes[n].cluster.as_ref() else {
            return;
        };
        if self.nodes[n].stalled || self.nodes[n].seen.is_empty() {
            return;
        }
        let before = strip(c.status());
        let k = self.rng.range(0, self.nodes[n].seen.len() as u64 - 1) as usize;
        let Some((medium, bytes)) = self.nodes[n].seen.get(k).cloned() else {
            return;
        };
        self.expect_no_effect(n, Input::Datagram { medium, bytes }, before, "replayed");
    }

    /// S2: the packet changes no state and causes no action.
    fn expect_no_effect(&mut self, n: usize, input: Input, before: StatusView, what: &str) {
        let now = self.now;
        // A replayed NS_rexmit legitimately resends byte-identical history entries.
        let rexmit = matches!(&input, Input::Datagram { bytes, .. }
            if String::from_utf8_lossy(bytes).contains("t=NS_rexmit"));
        let mut acts = Vec::new();
        if let Some(c) = self.nodes[n].cluster.as_mut() {
            c.handle(now, input);
            while let Some(a) = c.poll_action() {
                acts.push(a);
            }
        }
        let after = self.nodes[n].cluster.as_ref().map(|c| strip(c.status()));
        let effects: Vec<&Action> = acts
            .iter()
            .filter(|a| {
                let harmless = matches!(
                    a,
                    Action::Notice(Notice::BadNode(_))
                        | Action::Notice(Notice::ReplayAttack(..))
                        | Action::Notice(Notice::AuthFailed(_))
                ) || (rexmit && matches!(a, Action::Send { .. }));
                !harmless
            })
            .collect();
        if after.as_ref() != Some(&before) || !effects.is_empty() {
            self.violation(format!(
                "S2: {what} packet to {} had an effect: {effects:?}",
                name(n)
            ));
        }
        self.pump(n);
    }

    fn heal(&mut self) {
        self.log(format!("{} HEAL", self.now));
        self.faulty = false;
        self.blocked.clear();
        self.ping_blocked.clear();
        self.hung.clear();
        self.healed_at = Some(self.now);
        for n in 0..self.nodes.len() {
            if self.nodes[n].stalled {
                self.resume(n);
            }
        }
        // Hung scripts are killed by the operator: they finish (failed) now.
        let hung: Vec<(Instant, u64)> = self
            .events
            .keys()
            .filter(|(t, _)| t.saturating_since(self.now) > Duration::from_secs(10_000))
            .copied()
            .collect();
        for k in hung {
            if let Some(ev) = self.events.remove(&k) {
                let t = self.now + Duration::from_millis(100);
                self.push(t, ev);
            }
        }
        for n in 0..self.nodes.len() {
            if self.nodes[n].cluster.is_none() {
                let t = self.now + Duration::from_secs(self.rng.range(1, 5));
                self.push(t, Ev::Start(n));
            }
        }
    }

    /// L1: every group up exactly once, on a live node, where auto_failback says.
    pub fn check_liveness(&mut self, label: &str) {
        for g in 0..self.cfg.groups.len() {
            let len = self.cfg.groups[g].resources.len();
            let full: Vec<usize> = (0..self.nodes.len())
                .filter(|&n| (0..len).all(|r| self.nodes[n].up.contains(&(g, r))))
                .collect();
            let any = self.holders(g);
            if full.len() != 1 || any.len() != 1 {
                self.violation(format!(
                    "L1 ({label}): group {g} fully up on {full:?}, partly on {any:?}"
                ));
                continue;
            }
            let home = self
                .cfg
                .nodes
                .iter()
                .position(|x| *x == self.cfg.groups[g].node);
            let placement_matters = match self.shape.mode {
                AutoFailback::On | AutoFailback::Legacy => {
                    !self.admin_moves && !self.start_failures
                }
                AutoFailback::Off => false,
            };
            if placement_matters && home != Some(full[0]) {
                self.violation(format!(
                    "L1 ({label}): group {g} on {} not on its home node",
                    name(full[0])
                ));
            }
            if let Some(c) = self.nodes[full[0]].cluster.as_ref()
                && c.status().groups.get(g) != Some(&GroupState::Running)
            {
                self.violation(format!(
                    "L1 ({label}): group {g} up but core thinks otherwise"
                ));
            }
        }
        // Membership: every live node sees every other live node active.
        for a in 0..self.nodes.len() {
            let Some(c) = self.nodes[a].cluster.as_ref() else {
                self.violation(format!("L1 ({label}): {} is not running", name(a)));
                continue;
            };
            let st = c.status();
            for v in st.nodes.iter().filter(|v| !v.is_ping) {
                if v.status != NodeStatus::Active {
                    self.violation(format!(
                        "L1 ({label}): {} sees {} as {}",
                        name(a),
                        v.name,
                        v.status
                    ));
                }
            }
        }
    }

    /// T1 at the end: a watched crash that its observer never noticed.
    pub fn check_t1(&mut self) {
        let pending = std::mem::take(&mut self.t1_pending);
        for (v, crashed, bound, o, inc) in pending {
            let still = self.nodes[o].inc == inc && self.nodes[o].cluster.is_some();
            if still && self.now.saturating_since(crashed) > bound + Duration::from_secs(1) {
                self.violation(format!(
                    "T1: {} never noticed the crash of {} at {crashed}",
                    name(o),
                    name(v)
                ));
            }
        }
    }

    pub fn node_status(&self, n: usize) -> Option<StatusView> {
        self.nodes[n].cluster.as_ref().map(|c| c.status())
    }

    pub fn held_by(&self, g: usize) -> Vec<usize> {
        self.holders(g)
    }

    pub fn notices(&self, needle: &str) -> usize {
        self.trace.iter().filter(|l| l.contains(needle)).count()
    }

    pub fn dump(&self) -> String {
        let mut s = String::new();
        for l in &self.trace {
            let _ = writeln!(s, "{l}");
        }
        s
    }
}

fn strip(mut s: StatusView) -> StatusView {
    s.drops = [0; 9];
    s
}

/// `t=TYPE [st=..] [rsc_hold=..] [info=..] seq=..` of a datagram, for traces.
pub fn summarize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    // Netstring fields: `LEN:(0)name=value,`.
    for l in text.split(',') {
        let l = l.split_once(')').map_or(l, |(_, f)| f);
        if let Some((k, _)) = l.split_once('=')
            && matches!(
                k,
                "t" | "st" | "rsc_hold" | "info" | "dest" | "ipaddr" | "seq"
            )
        {
            out.push(l.to_string());
        }
    }
    out.join(" ")
}
