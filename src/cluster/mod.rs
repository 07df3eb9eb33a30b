//! The cluster state machine: one node's view of membership, transport and v1 resource
//! negotiation. Pure: `handle(now, input)` in, `poll_action()` out (architecture.md §1–2).
//!
//! * [`membership`] — heartbeats, node and link liveness, comm-up, reqnodes/repnodes,
//!   sequence numbers, generations, retransmission, ping nodes.
//! * [`resources`] — the v1 resource manager (behaviour spec §4): starting/resource
//!   negotiation, takeover, failback, standby, shutdown, legacy ip-request, split-brain
//!   healing.
//! * [`groups`] — running one resource group operation at a time as script jobs.
//! * [`fencing`] — the only place a takeover permission can be made.
//! * [`codec`] — the only place typed packets meet bytes.
//! * [`rcd`] — which messages become rc.d notifications, queued one at a time.

pub mod codec;
pub mod config;
pub mod fencing;
pub mod fuzzing;
mod groups;
mod guard;
mod membership;
pub mod msg;
pub mod notice;
pub mod rcd;
mod resources;
pub mod rng;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

pub use codec::DropReason;
pub use config::ClusterConfig;
pub use fencing::FenceView;
pub use groups::{GroupState, Job, JobId, JobOp};
pub use guard::GuardView;
pub use msg::{Hold, NodeStatus};
pub use notice::{Notice, Priority};
pub use rcd::Notification;

use crate::config::NodeName;
use crate::time::Instant;
use membership::Membership;
use resources::Rm;

/// What the edge knows at process start.
#[derive(Clone, Debug)]
pub struct Boot {
    /// This start's generation, already persisted and strictly above the previous one.
    pub generation: u64,
    /// Seed for the core's SplitMix64 (ACK triggers, retransmission jitter).
    pub seed: u64,
    /// Wall-clock seconds at `now` of `Cluster::new`, for the informational `ts` field.
    pub wall_secs: u64,
    /// Our process id, for `Heartbeat shutdown in progress. (PID)`.
    pub pid: u32,
    /// Our node UUID (`hb_uuid`), sent as `srcuuid`.
    pub uuid: [u8; 16],
    /// `heartbeat -R`: this process is the re-exec of a running daemon (quick restart).
    pub restart: Option<Restart>,
}

/// What a quick restart (behaviour spec §4.12) hands from the old process to the new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    /// `-C STATE`: what the old process held in a nice_failback mode; `None` when it ran
    /// legacy mode (heartbeat passes no `-C` then).
    pub held: Option<Hold>,
    /// `--running KEY,...` (ours): the groups (by `haresources` key) that were running in
    /// the old process. `-C` names sets, and a held set may have a group that failed to
    /// start; legacy mode has no `-C` at all. `None` (not given): the groups of `held`.
    pub running: Option<Vec<String>>,
}

impl Restart {
    /// The arguments the old process re-executes itself with: `-R`, `-C STATE` in
    /// nice_failback modes (heartbeat's), and `--running KEY,...` (ours).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["-R".to_string()];
        if let Some(h) = self.held {
            a.extend(["-C".to_string(), h.to_string()]);
        }
        if let Some(keys) = &self.running {
            a.extend(["--running".to_string(), keys.join(",")]);
        }
        a
    }
}

/// Administrative requests (hb_standby, hb_takeover, SIGTERM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `hb_standby [all|local|foreign|failback]`, already mapped to a set (§4.9).
    Standby(Hold),
    /// `hb_takeover [all|local|foreign|failback]` (§4.10), the argument as typed.
    Takeover(String),
    /// Graceful shutdown (§4.11).
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A datagram received on medium `medium` (index into `ClusterConfig::media`).
    Datagram {
        medium: usize,
        bytes: Vec<u8>,
    },
    /// An ICMP echo reply from a ping host.
    PingReply {
        host: String,
    },
    /// A script finished; `ok` is exit status 0 (for `Status` jobs: "running").
    JobFinished {
        job: JobId,
        ok: bool,
    },
    /// The fence device's verdict on resetting `node`.
    FenceFinished {
        node: NodeName,
        ok: bool,
    },
    Command(Command),
}

/// Why the daemon should exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    Shutdown,
}

#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send {
        medium: usize,
        bytes: Vec<u8>,
    },
    /// Send an ICMP echo to a ping host.
    Ping {
        host: String,
    },
    Run(Job),
    /// Run `harc TYPE` for a received message (rc.d notification, behaviour spec §4.4);
    /// its end comes back as `Input::JobFinished` with the notification's id.
    Notify(Notification),
    /// Reset `node` with the configured STONITH device.
    Fence {
        node: NodeName,
    },
    /// Re-announce a kept group's addresses (gratuitous ARP) after a split brain.
    Announce {
        group: usize,
    },
    Notice(Notice),
    /// A resource would not stop: the machine must reboot now (behaviour spec §2.7).
    Reboot,
    Exit(ExitReason),
}

/// A snapshot of one node's view, for cl_status and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusView {
    pub me: NodeName,
    pub comm_up: bool,
    pub nodes: Vec<NodeView>,
    /// `cl_status rscstatus`: `None` while in transition, else what we hold.
    pub rsc: Option<Hold>,
    pub groups: Vec<GroupState>,
    pub drops: [u64; 9],
    pub shutting_down: bool,
    /// Per node fenced or being fenced since start: in progress, attempts, last result.
    pub fencing: Vec<FenceView>,
    /// Isolation (tie-breaker / majority) and built-in ipfail.
    pub guard: GuardView,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub name: NodeName,
    pub is_ping: bool,
    pub status: NodeStatus,
    pub generation: u64,
    pub links: Vec<(String, membership::LinkState)>,
}

pub use membership::LinkState;

/// How much a quick restart raises the advertised dead time (§4.15).
pub const RESTART_DT_BUMP: crate::time::Duration = crate::time::Duration::from_secs(30);

/// Errors building a [`Cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterError {
    NotANode(NodeName),
    NoMedia,
    /// A haresources line names a node that is not configured.
    GroupNode(NodeName),
}

/// One node's view of the cluster.
pub struct Cluster {
    cfg: ClusterConfig,
    me: NodeName,
    boot: Boot,
    boot_at: Instant,
    now: Instant,
    mem: Membership,
    rm: Rm,
    actions: VecDeque<Action>,
    /// The `ld` field of our numbered messages (first line of `/proc/loadavg`), as the
    /// edge last read it; `None`: `n/a`.
    load: Option<String>,
    rcd: rcd::RcD,
}

impl Cluster {
    pub fn new(
        cfg: ClusterConfig,
        me: NodeName,
        boot: Boot,
        now: Instant,
    ) -> Result<Cluster, ClusterError> {
        if !cfg.nodes.contains(&me) {
            return Err(ClusterError::NotANode(me));
        }
        if cfg.media.is_empty() {
            return Err(ClusterError::NoMedia);
        }
        if let Some(g) = cfg.groups.iter().find(|g| !cfg.nodes.contains(&g.node)) {
            return Err(ClusterError::GroupNode(g.node.clone()));
        }
        let mem = Membership::new(&cfg, &me, &boot, now);
        let rm = Rm::new(&cfg, &me);
        let mut c = Cluster {
            cfg,
            me,
            boot,
            boot_at: now,
            now,
            mem,
            rm,
            actions: VecDeque::new(),
            load: None,
            rcd: rcd::RcD::default(),
        };
        c.notice(Notice::Generation(c.boot.generation));
        if let Some(r) = c.boot.restart.clone() {
            c.restart_boot(&r);
        }
        c.start(now);
        c.drain_loopback();
        Ok(c)
    }

    pub fn handle(&mut self, now: Instant, input: Input) {
        self.enter(now);
        let drops = self.mem.drops;
        let datagram = matches!(input, Input::Datagram { .. });
        match input {
            Input::Datagram { medium, bytes } => self.on_datagram(medium, &bytes),
            Input::PingReply { host } => self.on_ping_reply(&host),
            Input::JobFinished { job, ok } => {
                if !self.rc_finished(job) {
                    self.on_job_finished(job, ok);
                }
            }
            Input::FenceFinished { node, ok } => self.on_fence_finished(&node, ok),
            Input::Command(c) => self.on_command(c),
        }
        // A dropped datagram (forged, replayed, not for us) changes nothing, not even
        // what time alone would change (that is the timers' business).
        let not_for_us = DropReason::NotForUs.index();
        let rejected = (0..drops.len()).any(|i| i != not_for_us && self.mem.drops[i] != drops[i]);
        if datagram && rejected {
            return;
        }
        self.after();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.enter(now);
        self.membership_timers();
        self.rm_timers();
        self.ipfail_timer();
        self.after();
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.membership_deadline(),
            self.rm_deadline(),
            self.ipfail_deadline(),
            self.isolation_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn status(&self) -> StatusView {
        StatusView {
            me: self.me.clone(),
            comm_up: self.mem.comm_up,
            nodes: self.node_views(),
            rsc: self.rsc_status(),
            groups: self.rm.group_states(),
            drops: self.mem.drops,
            shutting_down: self.rm.shutting_down(),
            fencing: self.rm.fencing.views(),
            guard: self.guard_view(),
        }
    }

    /// Dropped-packet counters, indexed by [`DropReason::index`] (cheaper than `status`).
    pub fn drops(&self) -> [u64; 9] {
        self.mem.drops
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// Quick restart (§4.12), step one: if no resource operation runs and we are not
    /// shutting down, raise the advertised dead time by 30 s (and say so at once, so peers
    /// wait for the new process) and return what the new process must be told. `None`:
    /// not now (the edge asks again once the core is idle).
    pub fn begin_restart(&mut self) -> Option<Restart> {
        let r = self.restart_state()?;
        self.mem.restart_bump = true;
        self.send_status();
        if let Some(h) = r.held {
            self.notice(Notice::CurrentResources(h));
        }
        Some(r)
    }

    /// The re-exec failed: back to the normal advertised dead time.
    pub fn abort_restart(&mut self) {
        self.mem.restart_bump = false;
        self.send_status();
    }

    /// SIGHUP with a changed `authkeys` (§4.12, §8.6): sign and verify with the new keys
    /// from the next packet on. Nothing else changes.
    pub fn set_auth(&mut self, auth: crate::config::AuthKeys) {
        self.cfg.auth = auth;
    }

    /// The sender's load average for the `ld` field of the messages sent from now on
    /// (wire spec §5; informational, no receiver acts on it). `None`, or text that is not
    /// one printable line, sends heartbeat's `n/a`.
    pub fn set_load(&mut self, load: Option<&str>) {
        let fits = |l: &&str| {
            !l.is_empty() && l.len() <= 128 && l.bytes().all(|b| (0x20..0x7f).contains(&b))
        };
        match load.filter(fits) {
            Some(l) if self.load.as_deref() != Some(l) => self.load = Some(l.to_owned()),
            Some(_) => {}
            None => self.load = None,
        }
    }

    fn enter(&mut self, now: Instant) {
        // Time never goes backwards inside the core, whatever the edge passes.
        let now = now.max(self.now);
        self.check_stall(now);
        self.now = now;
    }

    fn after(&mut self) {
        self.drain_loopback();
        self.guard_isolation();
        self.ipfail_tell();
        self.drain_loopback();
        self.pump();
        self.drain_loopback();
        self.rm_settle();
        self.drain_loopback();
        self.rc_pump();
    }

    fn notice(&mut self, n: Notice) {
        self.actions.push_back(Action::Notice(n));
    }
}
