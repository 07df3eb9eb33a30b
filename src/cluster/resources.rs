//! The v1 resource manager (behaviour spec §4) for a pair of nodes: start-up negotiation
//! (`starting`/`resource`), takeover after death (with the fencing step), auto-failback,
//! the standby protocol, hb_takeover, graceful shutdown, legacy `ip-request`, start-failure
//! hand-over and split-brain healing.

use super::fencing::{Decision, Fencing, TakeoverAuth, Why};
use super::groups::{ActKind, GroupOp, GroupState, Groups};
use super::membership::Kind;
use super::msg::{Hold, Msg, NodeStatus, Packet, Phase, StonithResult};
use super::notice::Notice;
use super::{Action, Cluster, ClusterConfig, Command, ExitReason};
use crate::config::{AutoFailback, NodeName};
use crate::time::{Duration, Instant};

mod restart;

const RSCRCVD_WAIT: Duration = Duration::from_secs(10);
const STANDBY_FIRST: Duration = Duration::from_secs(10);
/// heartbeat waits 1 h per later standby phase; a peer that cancelled its side (after
/// declaring us dead) never answers, and that hour blocks healing and failback. Ours: 2 min.
const STANDBY_PHASE: Duration = Duration::from_secs(60);
const AUTOFAILBACK_RETRY: Duration = Duration::from_secs(1);
/// A start failure offers the group to the peer 30 s later (§2.7 step 3).
const HANDOVER_DELAY: Duration = Duration::from_secs(30);
/// Hand-over offers postponed because the peer is in flux before we retry the start here.
const HANDOVER_MAX_WAITS: u32 = 3;
/// Legacy: an unanswered `ip-request` is sent again after this long.
const IP_REQUEST_RETRY: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RState {
    Init,
    Starting,
    BothStarting,
    RscRcvd,
    Stable,
    Shutdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standby {
    Not,
    Me,
    Other,
    Done,
}

impl Standby {
    fn code(self) -> u8 {
        match self {
            Standby::Not => 0,
            Standby::Me => 1,
            Standby::Other => 2,
            Standby::Done => 3,
        }
    }
}

pub(super) struct Rm {
    nice: bool,
    mode: AutoFailback,
    pub groups: Groups,
    i_hold: Hold,
    other_holds: Hold,
    other_is_stable: bool,
    rstate: RState,
    standby: Standby,
    standby_deadline: Option<Instant>,
    takeover_in_progress: bool,
    needs_failback: bool,
    shutdown_pending: bool,
    shutdown_started: bool,
    rscrcvd_at: Option<Instant>,
    autofailback_at: Option<Instant>,
    queued_standby: Option<Hold>,
    handover_at: Option<Instant>,
    pub fencing: Fencing,
    peer_shutdone: bool,
    /// The peer's last word was "I hold nothing" while stable: it needs no fencing.
    /// (heartbeat trusts `rsc_hold=none` even mid-transition; a peer that is acquiring
    /// but whose report was lost would then run its groups unfenced beside ours.)
    peer_known_empty: bool,
    /// The stability flag of the peer's latest report (its own word: unlike
    /// `other_is_stable`, never set by a timeout or a takeover).
    peer_flag: bool,
    /// Our pending standby request is an auto-failback (retried if it times out).
    failback_asked: bool,
    /// The peer announced `info=shutdown` and has not finished (`shutdone`) yet.
    peer_releasing: bool,
    /// Sequence number of the peer's latest `resource` (reset when it restarts).
    peer_resource_seq: u64,
    /// Sequence number of the peer's latest full `resource` report, and the partial
    /// (`mach_down`) additions it sent after it: a full report that arrives late (by
    /// retransmission) still counts unless a newer full one was applied.
    peer_full_seq: u64,
    peer_partials: Vec<(u64, Hold)>,
    /// Sequence number of the peer's latest message that said whether it is stable
    /// (`resource` with `isstable`, or `starting`): a late report without that flag must
    /// not hide the flag of an earlier one (seed 13547).
    peer_stable_seq: u64,
    /// The peer's standby requests numbered below this were sent while we counted it dead
    /// (before the status that brought it back): episodes it has abandoned since.
    peer_floor: u64,
    /// A standby episode only accepts the peer's phase messages numbered above this: the
    /// peer's `me` that opened it, or the peer's highest seq when we opened it. A `done`
    /// from an earlier episode, retransmitted after a partition, would otherwise make us
    /// acquire a set the peer never released (seed 11859).
    standby_floor: u64,
    /// The `isstable` we last told the peer.
    advertised_stable: bool,
    /// The `rsc_hold` we last told the peer.
    advertised_hold: Hold,
    pending_deaths: Vec<usize>,
    /// Hand-over attempts postponed in a row because the peer was in flux.
    handover_waits: u32,
    /// Legacy: our groups asked for with `ip-request` and not answered yet → retry time.
    ip_pending: std::collections::BTreeMap<usize, Instant>,
    /// Legacy: peers regained while still starting (`up`) whose home groups we may hold.
    /// Once such a peer is active it runs them (it asked for them, or took them without
    /// asking because it did not see us active): we give them back (seed 287215).
    legacy_heal: std::collections::BTreeSet<usize>,
    pub guard: super::guard::Guard,
    local_done: bool,
    foreign_done: bool,
    initial_logged: bool,
    announced: bool,
    /// Addresses were re-announced since contact with the peer was last regained.
    announced_since_contact: bool,
    /// The peer restarted without a quick-restart announcement we saw while it may have
    /// held groups: the sequence number of the first packet of its new generation we
    /// heard. Its groups are taken over only once the new process says it holds nothing
    /// (restart.rs).
    restart_doubt: Option<u64>,
}

impl Rm {
    pub fn new(cfg: &ClusterConfig, _me: &NodeName) -> Rm {
        Rm {
            nice: cfg.nice_failback(),
            mode: cfg.auto_failback,
            groups: Groups::new(cfg.groups.clone()),
            i_hold: Hold::NONE,
            other_holds: Hold::NONE,
            other_is_stable: false,
            rstate: RState::Init,
            standby: Standby::Not,
            standby_deadline: None,
            takeover_in_progress: false,
            needs_failback: false,
            shutdown_pending: false,
            shutdown_started: false,
            rscrcvd_at: None,
            autofailback_at: None,
            queued_standby: None,
            handover_at: None,
            fencing: Fencing::new(cfg.stonith),
            peer_shutdone: false,
            peer_known_empty: false,
            peer_flag: false,
            failback_asked: false,
            peer_releasing: false,
            peer_resource_seq: 0,
            peer_full_seq: 0,
            peer_partials: Vec::new(),
            peer_stable_seq: 0,
            peer_floor: 0,
            standby_floor: 0,
            advertised_stable: false,
            advertised_hold: Hold::NONE,
            pending_deaths: Vec::new(),
            ip_pending: std::collections::BTreeMap::new(),
            legacy_heal: std::collections::BTreeSet::new(),
            handover_waits: 0,
            guard: super::guard::Guard::default(),
            local_done: false,
            foreign_done: false,
            initial_logged: false,
            announced: false,
            announced_since_contact: false,
            restart_doubt: None,
        }
    }

    pub fn group_states(&self) -> Vec<GroupState> {
        self.groups.states.clone()
    }

    pub fn shutting_down(&self) -> bool {
        self.shutdown_started
    }

    /// What we hold (nice modes).
    pub fn holds(&self) -> Hold {
        self.i_hold
    }

    /// What the peer last said it holds (nice modes), from its point of view.
    pub fn peer_holds(&self) -> Hold {
        self.other_holds
    }

    pub fn wants_failback(&self) -> bool {
        self.needs_failback
    }

    /// A standby we asked for has not finished (`Done` is also an acceptor's acquire
    /// phase: either way a hand-over is still under way).
    pub fn own_standby_running(&self) -> bool {
        matches!(self.standby, Standby::Me | Standby::Done)
    }

    /// Isolation: we hold nothing and want nothing back automatically.
    pub fn clear_holdings(&mut self) {
        self.i_hold = Hold::NONE;
        self.takeover_in_progress = false;
        self.needs_failback = false;
        self.autofailback_at = None;
        self.handover_at = None;
        self.queued_standby = None;
    }
}

impl Cluster {
    // ---- helpers -------------------------------------------------------------------

    fn peer(&self) -> Option<usize> {
        self.mem.nodes.iter().position(|n| n.kind == Kind::Normal)
    }

    pub(super) fn peer_is_alive(&self) -> bool {
        self.peer().is_some_and(|i| self.peer_alive(i))
    }

    fn local_groups(&self) -> Vec<usize> {
        (0..self.cfg.groups.len())
            .filter(|&g| self.cfg.groups[g].node == self.me)
            .collect()
    }

    pub(super) fn groups_of(&self, set: Hold) -> Vec<usize> {
        (0..self.cfg.groups.len())
            .filter(|&g| {
                let local = self.cfg.groups[g].node == self.me;
                (local && set.contains(Hold::LOCAL)) || (!local && set.contains(Hold::FOREIGN))
            })
            .collect()
    }

    fn home_groups(&self, node: &NodeName) -> Vec<usize> {
        (0..self.cfg.groups.len())
            .filter(|&g| &self.cfg.groups[g].node == node)
            .collect()
    }

    /// §4.2 "stable".
    fn stable(&self) -> bool {
        let rm = &self.rm;
        if !rm.nice {
            return rm.groups.idle();
        }
        rm.other_is_stable
            && !rm.takeover_in_progress
            && rm.standby == Standby::Not
            && rm.standby_deadline.is_none()
            && rm.groups.idle()
            && matches!(rm.rstate, RState::Stable | RState::Shutdown | RState::Init)
    }

    /// A standby request (ipfail's give-up) would be accepted locally now.
    pub(super) fn rm_ready_for_standby(&self) -> bool {
        self.stable() && self.rm.rstate == RState::Stable && self.rm.standby == Standby::Not
    }

    /// What we advertise as `isstable`: our own side is settled. (Not `stable()`, which
    /// also requires the peer to be stable: two nodes each waiting for the other to say
    /// "stable" first would wait forever.)
    fn own_stable(&self) -> bool {
        let rm = &self.rm;
        !rm.takeover_in_progress
            && rm.standby == Standby::Not
            && rm.groups.idle()
            && rm.rstate == RState::Stable
    }

    pub(super) fn rsc_status(&self) -> Option<Hold> {
        self.stable().then_some(self.rm.i_hold)
    }

    /// What the peer last reported holding, in its own terms (`local` = the peer's home
    /// groups); `none` when unknown or in legacy mode. Read-only, for status output.
    pub fn peer_holds(&self) -> Hold {
        self.rm.other_holds
    }

    /// What our reports claim: what we hold, plus every set with a group still up (or
    /// on its way) here. A set being released is dropped from `i_hold` first; claiming
    /// `none` before its stops finished let a peer that just started acquire it beside
    /// us (seed 13505: released on isolation, the peer restarted meanwhile).
    fn advertised(&self) -> Hold {
        let mut h = self.rm.i_hold;
        for g in 0..self.cfg.groups.len() {
            if self.rm.groups.states[g].is_active() {
                h = h.union(if self.cfg.groups[g].node == self.me {
                    Hold::LOCAL
                } else {
                    Hold::FOREIGN
                });
            }
        }
        h
    }

    fn send_resource(&mut self, stable: bool, info: Option<&str>) {
        let hold = self.advertised();
        self.rm.advertised_stable = stable;
        self.rm.advertised_hold = hold;
        // While shutting down every report says so: `none` then means "releasing".
        let info = if self.rm.shutdown_started && info.is_none() {
            Some("shutdown")
        } else {
            info
        };
        self.send_msg(
            None,
            Msg::Resource {
                hold,
                full: true,
                stable: Some(stable),
                info: info.map(str::to_string),
            },
        );
    }

    fn local_work_done(&mut self, reason: &'static str) {
        self.rm.local_done = true;
        self.initial_done(reason);
    }

    fn foreign_work_done(&mut self, reason: &'static str) {
        self.rm.foreign_done = true;
        self.initial_done(reason);
    }

    fn initial_done(&mut self, reason: &'static str) {
        if self.rm.local_done && self.rm.foreign_done && !self.rm.initial_logged {
            self.rm.initial_logged = true;
            self.notice(Notice::InitialAcquisitionComplete(reason));
        }
    }

    fn cancel_standby(&mut self) {
        if self.rm.standby != Standby::Not || self.rm.standby_deadline.is_some() {
            self.notice(Notice::CancellingStandby);
            if std::mem::take(&mut self.rm.failback_asked) && self.rm.standby == Standby::Me {
                // Ours: an auto-failback cancelled before anything moved (the peer
                // restarted) is tried again, or nothing ever asks again (seed 103630).
                self.rm.needs_failback = true;
                self.rm.autofailback_at = Some(self.now + AUTOFAILBACK_RETRY);
            }
            self.rm.standby = Standby::Not;
            self.rm.standby_deadline = None;
            if self.rm.i_hold == Hold::ALL {
                self.rm.other_is_stable = true;
            }
        }
    }

    // ---- start-up ------------------------------------------------------------------

    pub(super) fn rm_comm_up(&mut self) {
        if self.restart_comm_up() {
            return;
        }
        let alone = !self.peer_is_alive();
        if self.rm.nice {
            self.send_msg(None, Msg::Starting);
            self.rm.rstate = if alone {
                RState::Stable
            } else {
                RState::Starting
            };
            if alone {
                self.rm.other_is_stable = true;
            }
        }
        let deaths = std::mem::take(&mut self.rm.pending_deaths);
        if alone && deaths.is_empty() {
            if self.isolation_holds_takeover() {
                return;
            }
            self.req_our(true);
            self.foreign_work_done("req_our_resources");
            return;
        }
        if alone && !deaths.is_empty() {
            // The takeover (after fencing, if configured) acquires our local groups too.
            for i in deaths {
                self.rm_node_dead(i);
            }
            return;
        }
        for i in deaths {
            self.rm_node_dead(i);
        }
        if !self.rm.nice {
            let peer_active = self
                .peer()
                .is_some_and(|i| self.mem.nodes[i].status == NodeStatus::Active);
            if peer_active {
                for g in self.local_groups() {
                    self.ip_request(g);
                }
                self.foreign_work_done("status");
            } else {
                self.req_our(true);
                self.foreign_work_done("status");
            }
        }
    }

    /// req_our_resources (§4.6): `force` acquires even if the peer claims our groups.
    fn req_our(&mut self, force: bool) {
        if self.rm.nice
            && !force
            && (self.rm.other_holds.contains(Hold::FOREIGN)
                || self.rm.i_hold.contains(Hold::LOCAL)
                // Ours: a peer shutting down reports `none` before it has released
                // anything; its `shutdone` (or death) hands the groups over.
                || self.rm.peer_releasing)
        {
            self.notice(Notice::LocalAcquisitionNone);
            self.local_work_done("T_RESOURCES(them)");
            return;
        }
        if self.rm.nice {
            self.rm.i_hold = self.rm.i_hold.union(Hold::LOCAL);
        }
        let local = self.local_groups();
        if local.is_empty() {
            let me = self.me.clone();
            self.notice(Notice::NoLocalResources(me));
            self.local_work_done("req_our_resources");
            return;
        }
        let ops = local.into_iter().map(|g| (g, GroupOp::Take)).collect();
        self.enqueue(ActKind::ReqOur, ops);
    }

    // ---- death, restart, partition ---------------------------------------------------

    pub(super) fn rm_node_dead(&mut self, i: usize) {
        self.rm_node_dead_with(i, false);
    }

    /// The takeover of a peer still dead when our isolation ends. What we knew of it is
    /// from before or during the isolation: it may have restarted meanwhile and be starting
    /// its groups, so "held nothing" or "shut down" no longer spares it the fence (seed
    /// 89765).
    pub(super) fn rm_node_dead_after_isolation(&mut self, i: usize) {
        self.rm_node_dead_with(i, true);
    }

    fn rm_node_dead_with(&mut self, i: usize, stale_knowledge: bool) {
        self.rm.legacy_heal.remove(&i);
        // Dead again before it said what it holds: the usual verdict (fenced, with STONITH).
        self.rm.restart_doubt = None;
        if !self.mem.comm_up {
            if !self.rm.pending_deaths.contains(&i) {
                self.rm.pending_deaths.push(i);
            }
            return;
        }
        self.cancel_standby();
        if self.rm.shutdown_started {
            return;
        }
        let name = self.mem.nodes[i].name.clone();
        if self.isolation_holds_takeover() {
            // Decided again when isolation ends (guard::guard_isolation).
            self.notice(Notice::TakeoverHeldIsolated(name));
            return;
        }
        self.rm.needs_failback = true;
        self.rm.peer_releasing = false;
        let heard = self.mem.nodes[i].generation != 0;
        // "Held nothing" is only as good as the last report: with packets of the node
        // still missing, a later report (it started acquiring) may be among them (seed
        // 16235), so it is fenced.
        let complete = self.mem.nodes[i].missing.is_empty();
        let clean = if self.rm.nice {
            self.rm.peer_shutdone || (self.rm.peer_known_empty && complete)
        } else {
            self.rm.peer_shutdone
        };
        let must_fence = stale_knowledge || !(heard && clean);
        // Fence race (docs/fencing.md §4): the node not favoured waits before shooting.
        let delay = self.cfg.fence_delay;
        let at = if delay > Duration::ZERO && !self.fence_favoured() {
            self.now + delay
        } else {
            self.now
        };
        match self.rm.fencing.decide_at(&name, must_fence, self.now, at) {
            Decision::FenceNow => {
                let dev = self.cfg.stonith_device.clone();
                self.notice(Notice::Resetting(name.clone(), dev));
                self.actions.push_back(Action::Fence { node: name });
            }
            Decision::FenceLater(_) => {
                self.notice(Notice::FenceDelayed(name, delay.as_millis()));
            }
            Decision::Proceed(auth) => self.authorized_takeover(auth),
        }
    }

    fn authorized_takeover(&mut self, auth: TakeoverAuth) {
        let name = auth.node().clone();
        match auth.why() {
            Why::NoDevice => {
                self.send_msg(
                    None,
                    Msg::Stonith {
                        node: name.clone(),
                        result: StonithResult::NoDevice,
                    },
                );
                self.notice(Notice::NoStonith);
                self.notice(Notice::SharedDisks);
            }
            Why::NotNeeded => {
                self.notice(Notice::DeadNodeGaveUp(name.clone()));
                self.send_msg(
                    None,
                    Msg::Stonith {
                        node: name.clone(),
                        result: StonithResult::Unneeded,
                    },
                );
                if self.rm.nice && self.rm.i_hold == Hold::ALL {
                    self.rm.other_is_stable = true;
                    return;
                }
            }
            Why::Fenced(_) => {
                self.send_msg(
                    None,
                    Msg::Stonith {
                        node: name.clone(),
                        result: StonithResult::Ok,
                    },
                );
            }
            Why::Restarted => {}
        }
        self.takeover(auth);
    }

    /// §4.7 step 9. Only reachable with a [`TakeoverAuth`] from the fencing module.
    fn takeover(&mut self, auth: TakeoverAuth) {
        let name = auth.node().clone();
        if self.rm.shutdown_started {
            self.notice(Notice::TakeoverCancelledShutdown);
            return;
        }
        self.notice(Notice::ResourcesBeingAcquired(name.clone()));
        if self.rm.nice {
            self.rm.i_hold = self.rm.i_hold.union(Hold::FOREIGN);
            self.rm.other_holds = Hold::NONE;
            self.rm.other_is_stable = true;
            self.rm.takeover_in_progress = true;
            if matches!(
                self.rm.rstate,
                RState::Starting | RState::BothStarting | RState::RscRcvd | RState::Init
            ) {
                self.rm.rstate = RState::Stable;
                self.rm.rscrcvd_at = None;
            }
        }
        self.req_our(true);
        let ops = self
            .home_groups(&name)
            .into_iter()
            .map(|g| (g, GroupOp::Take))
            .collect();
        self.enqueue(ActKind::MachDown(name), ops);
    }

    pub(super) fn on_fence_finished(&mut self, node: &NodeName, ok: bool) {
        if !self.rm.fencing.in_progress(node) {
            return;
        }
        if ok {
            self.notice(Notice::NodeReset(node.clone()));
            if let Some(auth) = self.rm.fencing.finished(self.now, node, true) {
                self.authorized_takeover(auth);
            }
        } else {
            self.notice(Notice::StonithRetry(node.clone()));
            let _ = self.rm.fencing.finished(self.now, node, false);
        }
    }

    /// A new generation from a node: its previous incarnation is gone (§8.4), but what it
    /// ran may not be (a quick restart keeps it). `first_seq`: the sequence number of the new generation's packet that told us.
    pub(super) fn rm_peer_restarted(&mut self, i: usize, first_seq: u64) {
        let name = self.mem.nodes[i].name.clone();
        let was_fencing = self.rm.fencing.in_progress(&name);
        self.rm.fencing.cancel(&name);
        self.rm.peer_shutdone = false;
        self.rm.peer_known_empty = false;
        self.rm.peer_releasing = false;
        self.rm.peer_resource_seq = 0;
        self.rm.peer_full_seq = 0;
        self.rm.peer_partials.clear();
        self.rm.peer_stable_seq = 0;
        self.rm.peer_floor = 0;
        self.rm.standby_floor = 0;
        self.ipfail_reset(true);
        if !self.mem.comm_up || self.mem.nodes[i].kind != Kind::Normal {
            return;
        }
        let alive_before = self.mem.nodes[i].status != NodeStatus::Dead;
        let held = !self.rm.other_holds.is_none() || !self.rm.other_is_stable;
        self.cancel_standby();
        if self.peer_kept_resources(i, alive_before, was_fencing) {
            return;
        }
        // Legacy: the restarted node pulls its own groups back with ip-request at comm-up.
        // Ours: any ip-request we had outstanding died with its old incarnation, and the
        // new one runs nothing yet, so take (the still missing) local groups ourselves.
        if !self.rm.nice && !self.rm.shutdown_started && self.mem.comm_up {
            self.req_our(true);
        }
        if self.rm.nice
            && ((alive_before && held) || was_fencing || self.rm.restart_doubt.is_some())
        {
            // Whether its old incarnation's groups are gone is for its new process to say.
            self.restart_in_doubt(first_seq);
            return;
        }
        self.rm.other_holds = Hold::NONE;
        self.rm.other_is_stable = false;
    }

    /// Contact with a node we had declared dead (§4.12). heartbeat gives everything up and
    /// restarts after a partition; we compare holdings and let exactly one node keep each
    /// set (see docs/differences-from-heartbeat.md).
    pub(super) fn rm_contact_regained(&mut self, i: usize, restarted: bool, seq: u64) {
        if !restarted {
            self.rm.peer_floor = self.rm.peer_floor.max(seq);
        }
        let name = self.mem.nodes[i].name.clone();
        self.ipfail_reset(restarted);
        let was_fencing = self.rm.fencing.in_progress(&name);
        self.rm.fencing.cancel(&name);
        if !self.mem.comm_up || self.rm.shutdown_started {
            return;
        }
        if was_fencing {
            // The takeover waiting for that fence never ran, so neither did the
            // acquisition of our own groups. A restarted peer holds nothing; after a
            // partition the holdings comparison below sorts out any overlap.
            // A peer that is not `active` has not reached comm-up, so it runs nothing.
            if restarted || self.mem.nodes[i].status != NodeStatus::Active {
                self.req_our(true);
            } else if self.rm.nice {
                // The peer's `resource` answer tells us whether it runs our groups;
                // on_resource takes them if nobody does.
            } else {
                for g in self.local_groups() {
                    self.ip_request(g);
                }
            }
        }
        self.rm.announced = false;
        self.rm.announced_since_contact = false;
        if self.rm.nice {
            // Ours: what we know of the peer's holdings is from before the partition (its
            // reports sent meanwhile may be lost for good), and a peer that never lost us
            // has no reason to report again. `starting` ("tell me what you hold") makes any
            // peer, heartbeat 3.0.6 included, answer with its current report; until a
            // stable one arrives we count the peer in flux, so the orphan claim and the
            // auto-failback act on fresh knowledge only (seed 86259: released while
            // isolated, the peer's answer to our `none` was lost in the partition and
            // nothing ever asked again). Our report follows; if it overtakes the
            // `starting`, the peer's answer makes us send it again.
            // A peer not yet `active` is still starting: its own `starting` comes, and its
            // first stable report triggers the auto-failback. (Asking for the failback now,
            // before its comm-up, got the request dropped or refused as "in flux" and
            // delayed the failback by the 10 s standby timeout.)
            let active = self.mem.nodes[i].status == NodeStatus::Active;
            if active {
                self.rm.other_is_stable = false;
                self.send_msg(None, Msg::Starting);
            }
            let st = self.own_stable();
            self.send_resource(st, None);
            if !active && self.rm.peer_flag && self.rm.peer_stable_seq > 0 {
                // Its stable report overtook the status that brought it back (reordering):
                // no other report would trigger the failback.
                self.try_auto_failback();
            }
        } else if self.mem.nodes[i].status == NodeStatus::Active {
            // Legacy: the home node always wins. Give back what is homed on the peer and
            // ask for ours (the peer does the same), as legacy failback does.
            let home = self.home_groups(&name);
            for &g in &home {
                self.rm.groups.cancel_takes(g);
            }
            let give: Vec<(usize, GroupOp)> = home
                .into_iter()
                .filter(|&g| self.rm.groups.states[g].is_active())
                .map(|g| (g, GroupOp::Give))
                .collect();
            if !give.is_empty() {
                self.notice(Notice::SplitBrainRelease(Hold::FOREIGN, name.clone()));
                self.enqueue(ActKind::Heal, give);
            }
            for g in self.local_groups() {
                self.ip_request(g);
            }
        } else {
            self.rm.legacy_heal.insert(i);
        }
    }

    /// Legacy: a status of peer `i` while it was already active. A peer regained while
    /// it was still starting acquires its home groups at its comm-up: with `ip-request`
    /// if it saw us active (which clears the mark), else without asking (HA_DONTASK),
    /// e.g. when a one-way cut hid our `active` heartbeats from it. Nothing else would
    /// make us give up the copies we took over while we counted it dead (seed 287215).
    /// Checked at its second active heartbeat, after the `ip-request` it sends right
    /// behind its first one, so the usual rejoin still goes through `ip-request`.
    pub(super) fn rm_legacy_peer_active(&mut self, i: usize) {
        if self.rm.nice
            || !self.rm.legacy_heal.remove(&i)
            || !self.mem.comm_up
            || self.rm.shutdown_started
            || self.rm.peer_shutdone
            || self.is_isolated()
        {
            return;
        }
        let name = self.mem.nodes[i].name.clone();
        let give: Vec<(usize, GroupOp)> = self
            .home_groups(&name)
            .into_iter()
            .filter(|&g| !self.rm.groups.ends_stopped(g))
            .map(|g| (g, GroupOp::Give))
            .collect();
        if give.is_empty() {
            return;
        }
        for &(g, _) in &give {
            self.rm.groups.cancel_takes(g);
        }
        self.notice(Notice::SplitBrainRelease(Hold::FOREIGN, name));
        self.enqueue(ActKind::Heal, give);
    }

    /// Nice modes: both nodes claim the same set. The designated keeper keeps it.
    fn heal_check(&mut self, peer: &NodeName, from_msg: bool) {
        if !self.rm.nice
            || self.rm.shutdown_started
            // Whatever the standby phase: a requester drops a set from `i_hold` before
            // releasing it and an acceptor adds it after acquiring, so an overlap is real
            // (the peer may have cancelled its side of the standby).
            || self.rm.rstate != RState::Stable
        {
            return;
        }
        // Settled (no standby, no group operation): what runs here counts, not only
        // `i_hold`. A standby acquisition that finished after its episode was abandoned
        // (a hung start outlived a stall) runs a group `i_hold` does not claim; judged by
        // `i_hold` alone, neither side ever released it (seed 86235).
        let ours = if self.rm.standby == Standby::Not && self.rm.groups.idle() {
            self.advertised()
        } else {
            self.rm.i_hold
        };
        let overlap = ours.intersect(self.rm.other_holds.mirror());
        if overlap.is_none() {
            self.rm.announced = false;
            return;
        }
        let mut keep = Hold::NONE;
        let mut release = Hold::NONE;
        for part in [Hold::LOCAL, Hold::FOREIGN] {
            if !overlap.contains(part) {
                continue;
            }
            let mine = match self.rm.mode {
                AutoFailback::Off => self.me < *peer,
                _ => part == Hold::LOCAL,
            };
            if mine {
                keep = keep.union(part);
            } else {
                release = release.union(part);
            }
        }
        if !release.is_none() {
            self.notice(Notice::SplitBrainRelease(release, peer.clone()));
            self.rm.i_hold = self.rm.i_hold.minus(release);
            self.send_resource(false, None);
            for g in self.groups_of(release) {
                self.rm.groups.cancel_takes(g);
            }
            let ops = self
                .groups_of(release)
                .into_iter()
                .map(|g| (g, GroupOp::Give))
                .collect();
            self.enqueue(ActKind::Heal, ops);
        }
        if !keep.is_none() {
            // Tell the peer what we keep (it may never have heard it), once per episode
            // and again whenever it claims the same set.
            if from_msg || !self.rm.announced {
                let st = self.own_stable();
                self.send_resource(st, None);
            }
            if !self.rm.announced {
                self.rm.announced = true;
                self.rm.announced_since_contact = true;
                let kept = self.groups_of(keep).len();
                self.notice(Notice::SplitBrainKeep(keep, peer.clone(), kept));
                for g in self.groups_of(keep) {
                    if self.rm.groups.states[g] == GroupState::Running {
                        self.actions.push_back(Action::Announce { group: g });
                    }
                }
            }
        }
    }

    // ---- messages --------------------------------------------------------------------

    pub(super) fn dispatch(&mut self, p: &Packet) {
        self.on_membership_msg(p);
        if !self.mem.comm_up {
            return;
        }
        let from_me = p.src == self.me;
        let seq = p.seq.unwrap_or(0);
        // A standby request sent while we counted the peer dead opened an episode it has
        // abandoned since. (Only those: other requests, e.g. a legacy `ip-request` sent
        // just before the status that brings the peer back, still need their answer.)
        if !from_me
            && seq < self.rm.peer_floor
            && matches!(
                p.msg,
                Msg::AskResources {
                    phase: Phase::Me,
                    ..
                }
            )
        {
            return;
        }
        match &p.msg {
            Msg::Starting if !from_me => self.on_starting(seq),
            Msg::Resource {
                hold,
                full,
                stable,
                info,
            } => self.on_resource(p, *hold, *full, *stable, info.as_deref()),
            Msg::AskResources { set, phase } => self.on_ask(&p.src, *set, *phase, seq),
            Msg::IpRequest { key } if !from_me && !self.rm.nice => self.on_ip_request(&p.src, key),
            Msg::IpRequestResp { key, weown }
                if !self.rm.nice && p.dest.as_ref() == Some(&self.me) =>
            {
                self.notice(Notice::ReceivedIpRequestResp(key.clone(), *weown));
                if !self.rm.shutdown_started
                    && let Some(g) = self.cfg.groups.iter().position(|g| g.key() == key)
                {
                    self.rm.ip_pending.remove(&g);
                    self.enqueue(ActKind::LegacyTake, vec![(g, GroupOp::Take)]);
                }
            }
            Msg::HbTakeover { set } if !from_me => {
                // rc.d/hb_takeover runs hb_standby with the complementary set (§4.10).
                let s = match set.as_str() {
                    "local" => Hold::FOREIGN,
                    "foreign" => Hold::LOCAL,
                    _ => Hold::ALL,
                };
                self.rm.queued_standby = Some(s);
            }
            Msg::Shutdone => self.on_shutdone(&p.src),
            Msg::NumPingNodes { count } if !from_me => self.on_num_ping_nodes(*count, seq),
            Msg::Other { t } if !from_me && t == "you_are_dead" => self.on_you_are_dead(),
            Msg::Other { t } if !from_me && t == "abort_giveup" => self.on_abort_giveup(),
            _ => {}
        }
    }

    fn on_starting(&mut self, seq: u64) {
        match self.rm.rstate {
            RState::Init => {
                self.notice(Notice::StartingInState0);
                return;
            }
            RState::Starting => {
                self.rm.rstate = RState::BothStarting;
                self.foreign_work_done("HB_R_BOTHSTARTING");
            }
            _ => {}
        }
        self.doubt_starting(seq);
        // A `resource` the peer sent after this `starting` may have overtaken it.
        if seq > self.rm.peer_stable_seq {
            self.rm.peer_stable_seq = seq;
            self.rm.other_is_stable = false;
            self.rm.peer_flag = false;
        }
        if self.rm.takeover_in_progress {
            self.notice(Notice::StartingDuringTakeover);
        }
        self.ipfail_on_starting(seq);
        // heartbeat answers `isstable` = "rstate is STABLE", even while a standby or a
        // takeover acquires groups it does not report yet. Ours says stable only when our
        // side is settled (`rm_settle` says so later): the asker acts on a stable answer
        // and would start its groups beside ours (seed 209158: our `starting` after a
        // stall met the peer mid standby-acquisition of everything; it answered "local,
        // stable" and we claimed the groups it was about to start).
        let st = self.own_stable();
        self.send_resource(st, None);
    }

    fn on_resource(
        &mut self,
        p: &Packet,
        hold: Hold,
        full: bool,
        stable: Option<bool>,
        info: Option<&str>,
    ) {
        if !self.rm.nice {
            return;
        }
        if p.src == self.me {
            if info == Some("mach_down") {
                self.notice(Notice::MachDownComplete);
                self.rm.takeover_in_progress = false;
                self.rm.i_hold = self.rm.i_hold.union(Hold::FOREIGN);
                self.rm.needs_failback = true;
                self.foreign_work_done("mach_down");
                // Seed 6199: the peer restarted (and reported stable) while this takeover
                // ran; no later report of its would trigger the failback.
                self.try_auto_failback();
            }
            return;
        }
        if self.rm.rstate == RState::Init {
            self.notice(Notice::ResourceInState0);
            return;
        }
        let full = full || hold.is_none();
        let seq = p.seq.unwrap_or(0);
        self.doubt_resource(hold, full);
        let newest = seq >= self.rm.peer_resource_seq;
        // A report overtaken by a newer one still carries what the newer one does not
        // say: its stability flag, or (if full) the base the newer partial ones add to.
        let stable = stable.filter(|_| seq >= self.rm.peer_stable_seq);
        let holds_news = seq >= self.rm.peer_full_seq;
        if !newest {
            self.announce_stale_overlap(hold, &p.src);
        }
        if !newest && stable.is_none() && !(full && holds_news) {
            return; // nothing in it that a newer report did not replace
        }
        let flag_before = self.rm.peer_flag;
        if let Some(st) = stable {
            self.rm.peer_stable_seq = seq;
            self.rm.peer_flag = st;
        }
        if newest {
            self.rm.peer_resource_seq = seq;
            // A report from a node we count dead (we were cut off, it may be acquiring by
            // now, seed 16768) never proves it holds nothing.
            let counted_alive = self.mem.index(&p.src).is_some_and(|i| self.peer_alive(i));
            self.rm.peer_known_empty =
                hold.is_none() && full && stable == Some(true) && counted_alive;
            self.rm.peer_releasing = info == Some("shutdown");
        }
        let holds_before = self.rm.other_holds;
        if holds_news {
            if full {
                self.rm.peer_full_seq = seq;
                self.rm.peer_partials.retain(|&(s, _)| s > seq);
                self.rm.other_holds = self
                    .rm
                    .peer_partials
                    .iter()
                    .fold(hold, |acc, &(_, h)| acc.union(h));
            } else {
                if self.rm.peer_partials.len() >= 8 {
                    self.rm.peer_partials.remove(0);
                }
                self.rm.peer_partials.push((seq, hold));
                self.rm.other_holds = self.rm.other_holds.union(hold);
            }
        }
        if matches!(self.rm.rstate, RState::Starting | RState::BothStarting) {
            self.rm.rstate = RState::RscRcvd;
            self.rm.rscrcvd_at = Some(self.now);
            if self.rm.mode == AutoFailback::Off {
                self.foreign_work_done("T_RESOURCES(them)");
            }
        }
        match stable {
            Some(true) if !self.rm.other_is_stable => {
                self.notice(Notice::RemoteTransitionCompleted);
                self.rm.other_is_stable = true;
                if self.rm.rstate == RState::Stable {
                    self.send_resource(self.own_stable(), None);
                }
            }
            // Ours: a settled peer whose holdings changed without a transition we saw
            // (it released while isolated, or while we could not hear it) gets our
            // current report, which it may need to claim its orphaned groups (seed 11367).
            // Likewise when it settles again after saying it was in flux, even if a
            // timeout already made us count it stable (seed 4734: its standby timed out
            // after it had released; our report lets it claim its orphaned groups).
            Some(true)
                if (self.rm.other_holds != holds_before || !flag_before)
                    && self.rm.rstate == RState::Stable
                    && newest =>
            {
                self.send_resource(self.own_stable(), None);
            }
            Some(false) => self.rm.other_is_stable = false,
            _ => {}
        }
        if !matches!(self.rm.rstate, RState::Stable | RState::Shutdown) && self.rm.other_is_stable {
            self.notice(Notice::RemoteTransitionCompleted);
            self.rm.rstate = RState::Stable;
            self.rm.rscrcvd_at = None;
            self.req_our(false);
            self.foreign_work_done("T_RESOURCES(us)");
            self.send_resource(self.own_stable(), None);
        }
        if stable == Some(true) {
            self.try_auto_failback();
        }
        self.audit();
        // Only on a fresh, stable report: a peer in flux may be acquiring them right now.
        if stable == Some(true) {
            self.claim_orphans();
        }
        self.heal_check(&p.src, true);
    }

    /// A report overtaken by a newer one may still show that the peer ran groups we run
    /// (during a partition): its addresses may still be in neighbours' ARP caches, so the
    /// keeper re-announces them even if the newer report (already released) came first.
    fn announce_stale_overlap(&mut self, peer_hold: Hold, peer: &NodeName) {
        let overlap = self.rm.i_hold.intersect(peer_hold.mirror());
        if overlap.is_none()
            || self.rm.announced
            || self.rm.announced_since_contact
            || self.rm.rstate != RState::Stable
        {
            return;
        }
        self.rm.announced = true;
        self.rm.announced_since_contact = true;
        let kept = self.groups_of(overlap).len();
        self.notice(Notice::SplitBrainKeep(overlap, peer.clone(), kept));
        for g in self.groups_of(overlap) {
            if self.rm.groups.states[g] == GroupState::Running {
                self.actions.push_back(Action::Announce { group: g });
            }
        }
    }

    /// Ours: nobody runs our local groups and both sides are settled: take them
    /// (heartbeat only logs `No one owns our local resources!`).
    fn claim_orphans(&mut self) {
        if self.rm.nice
            && self.mem.comm_up
            && self.rm.rstate == RState::Stable
            && self.rm.other_is_stable
            && !self.rm.shutdown_started
            && !self.rm.i_hold.contains(Hold::LOCAL)
            && !self.rm.other_holds.contains(Hold::FOREIGN)
            && !self.local_groups().is_empty()
            && self.rm.standby == Standby::Not
            && self.rm.groups.idle()
        {
            self.req_our(false);
            // Say so before any script runs: the peer, which may have just been told
            // "none, stable", must not take our groups over unfenced if we die now.
            if self.rm.i_hold.contains(Hold::LOCAL) {
                self.send_resource(false, None);
            }
        }
    }

    /// §4.14 consistency audits (log only).
    fn audit(&mut self) {
        let (i, o) = (self.rm.i_hold, self.rm.other_holds);
        if i.contains(Hold::LOCAL) && o.contains(Hold::FOREIGN) {
            self.notice(Notice::BothOwnOurs);
        }
        if i.contains(Hold::FOREIGN) && o.contains(Hold::LOCAL) {
            self.notice(Notice::BothOwnForeign);
        }
    }

    pub(super) fn try_auto_failback(&mut self) {
        self.rm.autofailback_at = None;
        if self.rm.mode != AutoFailback::On
            || self.rm.shutdown_started
            || !self.rm.i_hold.contains(Hold::FOREIGN)
            || !self.rm.needs_failback
            || !self.peer_is_alive()
            // A peer that shut down is alive only until its dead time runs out.
            || self.rm.peer_shutdone
            // Built-in ipfail: not back to a peer that sees fewer ping nodes; the
            // balanced count calls us again.
            || self.ipfail_blocks_failback()
        {
            return;
        }
        if self.rm.standby == Standby::Not
            && self.rm.other_is_stable
            && self.rm.rstate == RState::Stable
            && !self.rm.takeover_in_progress
            && self.rm.groups.idle()
        {
            self.rm.needs_failback = false;
            self.rm.failback_asked = true;
            self.send_msg(
                None,
                Msg::AskResources {
                    set: Hold::FOREIGN,
                    phase: Phase::Me,
                },
            );
        } else {
            self.notice(Notice::AutoFailbackDelayed);
            self.rm.autofailback_at = Some(self.now + AUTOFAILBACK_RETRY);
        }
    }

    /// The standby protocol, §4.9.
    fn on_ask(&mut self, src: &NodeName, set: Hold, phase: Phase, seq: u64) {
        if !self.rm.nice {
            self.notice(Notice::StandbyLegacy);
            return;
        }
        if self.rm.rstate == RState::Shutdown {
            return;
        }
        // A standby may make the peer acquire groups before it reports them: until its
        // next stable report, it is no longer known to hold nothing (fence if it dies).
        self.rm.peer_known_empty = false;
        let from_me = *src == self.me;
        let now = self.now;
        if !from_me && phase != Phase::Me && seq <= self.rm.standby_floor {
            // From an earlier episode (see `standby_floor`).
            self.notice(Notice::StandbyIgnored(
                phase.name(),
                src.clone(),
                self.rm.standby.code(),
            ));
            return;
        }
        match (phase, self.rm.standby) {
            (Phase::Me, Standby::Not) => {
                if !self.rm.other_is_stable {
                    self.notice(Notice::StandbyFluxOther(src.clone()));
                    return;
                }
                if self.rm.rstate != RState::Stable {
                    self.notice(Notice::StandbyFluxLocal(src.clone()));
                    return;
                }
                self.notice(Notice::WantsStandby(src.clone(), set));
                if from_me {
                    self.rm.standby_floor = self.peer().map_or(0, |i| self.mem.nodes[i].rx_last);
                    self.rm.other_is_stable = false;
                    self.rm.standby = Standby::Me;
                    self.rm.standby_deadline = Some(now + STANDBY_FIRST);
                } else {
                    self.rm.standby_floor = seq;
                    self.rm.guard.accepting_from_fewer = self.ipfail_blocks_failback();
                    self.rm.standby = Standby::Other;
                    self.rm.standby_deadline = Some(now + STANDBY_PHASE);
                    self.send_msg(
                        None,
                        Msg::AskResources {
                            set,
                            phase: Phase::Other,
                        },
                    );
                }
            }
            (Phase::Me, st) => match self.rm.standby_deadline {
                Some(d) => {
                    let left = d.saturating_since(now).as_millis() / 1000;
                    self.notice(Notice::StandbyInProgress(src.clone(), left));
                }
                None => self.notice(Notice::StandbyIgnored("me", src.clone(), st.code())),
            },
            (Phase::Other, _) if from_me => {}
            (Phase::Other, Standby::Me) => {
                self.notice(Notice::StandbyCanTake(src.clone(), set));
                self.rm.standby_deadline = Some(now + STANDBY_PHASE);
                self.rm.i_hold = self.rm.i_hold.minus(set);
                self.send_msg(
                    None,
                    Msg::Resource {
                        hold: self.rm.i_hold,
                        full: true,
                        stable: Some(false),
                        info: Some("standby".into()),
                    },
                );
                let ops = self
                    .groups_of(set)
                    .into_iter()
                    .map(|g| (g, GroupOp::Give))
                    .collect();
                self.enqueue(ActKind::StandbyGive(set), ops);
            }
            (Phase::Done, Standby::Me) if from_me => {
                self.notice(Notice::LocalStandbyCompleted(set));
                self.rm.standby = Standby::Done;
                self.rm.standby_deadline = Some(now + STANDBY_PHASE);
            }
            (Phase::Done, Standby::Done) if from_me => {
                self.notice(Notice::StandbyAcquisitionDone(set));
                if self.rm.mode == AutoFailback::On {
                    self.local_work_done("auto_failback");
                }
                self.rm.i_hold = self.rm.i_hold.union(set.mirror());
                let from_fewer = std::mem::take(&mut self.rm.guard.accepting_from_fewer);
                if (from_fewer || self.ipfail_blocks_failback()) && self.rm.mode == AutoFailback::On
                {
                    // Handed over because the peer sees fewer ping nodes (ipfail): it
                    // gets its groups back once the counts balance.
                    self.rm.needs_failback = true;
                }
                self.rm.standby = Standby::Not;
                self.rm.standby_deadline = None;
                self.send_resource(self.own_stable(), None);
            }
            (Phase::Done, Standby::Other) if !from_me => {
                self.notice(Notice::StandbyAcquireFrom(set, src.clone()));
                let ops = self
                    .groups_of(set.mirror())
                    .into_iter()
                    .map(|g| (g, GroupOp::Take))
                    .collect();
                self.enqueue(ActKind::StandbyTake(set), ops);
                self.rm.standby = Standby::Done;
            }
            (Phase::Done, Standby::Done) => {
                // The acceptor holds the set now, whether or not its report (sent after
                // this `done`) has arrived yet (seed 2252).
                self.rm.other_holds = self.rm.other_holds.union(set.mirror());
                self.rm.failback_asked = false;
                self.notice(Notice::OtherCompletedStandby(set));
                self.rm.standby = Standby::Not;
                self.rm.standby_deadline = None;
                self.send_resource(self.own_stable(), None);
                self.ipfail_handover_done();
            }
            (ph, st) => {
                self.notice(Notice::StandbyIgnored(ph.name(), src.clone(), st.code()));
            }
        }
    }

    /// Legacy: ask the peer for our group `g`; asked again every `IP_REQUEST_RETRY` until
    /// an answer comes (seed 11689: a request sent just before the status that made a
    /// restarted peer known is dropped by its sequence filter, and nothing else would ever
    /// start the group).
    fn ip_request(&mut self, g: usize) {
        self.rm.ip_pending.insert(g, self.now + IP_REQUEST_RETRY);
        let key = self.cfg.groups[g].key().to_string();
        self.send_msg(None, Msg::IpRequest { key });
    }

    /// Legacy: ask for each of our groups not running here, or still being released (seed
    /// 212179: isolation ended while its release ran; skipped as "active", nothing asked
    /// for them afterwards). The take the answer brings runs after the release.
    pub(super) fn legacy_request_local(&mut self) {
        for g in self.local_groups() {
            if self.rm.groups.ends_stopped(g) {
                self.ip_request(g);
            }
        }
    }

    fn ip_request_retries(&mut self) {
        let now = self.now;
        if self.rm.nice || self.rm.shutdown_started || !self.peer_is_alive() {
            self.rm.ip_pending.clear();
            return;
        }
        let due: Vec<usize> = self
            .rm
            .ip_pending
            .iter()
            .filter(|&(_, &t)| t <= now)
            .map(|(&g, _)| g)
            .collect();
        for g in due {
            if !self.rm.groups.ends_stopped(g) {
                self.rm.ip_pending.remove(&g);
            } else {
                self.ip_request(g);
            }
        }
    }

    fn on_ip_request(&mut self, src: &NodeName, key: &str) {
        if let Some(i) = self.mem.index(src) {
            self.rm.legacy_heal.remove(&i);
        }
        let Some(g) = self.cfg.groups.iter().position(|g| g.key() == key) else {
            return;
        };
        if self.rm.groups.states[g].is_active() || self.rm.groups.take_pending(g) {
            // The peer gets it: no queued take of ours may restart it afterwards. A take
            // already running finishes first, then the give, so the answer is true.
            self.rm.groups.cancel_takes(g);
            self.enqueue(
                ActKind::LegacyGive {
                    key: key.to_string(),
                    to: src.clone(),
                },
                vec![(g, GroupOp::Give)],
            );
        } else {
            self.send_msg(
                Some(src.clone()),
                Msg::IpRequestResp {
                    key: key.to_string(),
                    weown: false,
                },
            );
        }
    }

    fn on_shutdone(&mut self, src: &NodeName) {
        if *src == self.me {
            let me = self.me.clone();
            self.notice(Notice::ShutdownComplete(me));
            self.actions.push_back(Action::Exit(ExitReason::Shutdown));
            return;
        }
        self.notice(Notice::ReceivedShutdownNotice(src.clone()));
        self.rm.peer_shutdone = true;
        self.rm.peer_known_empty = true;
        self.rm.peer_releasing = false;
        self.rm.other_holds = Hold::NONE;
        self.rm.other_is_stable = true;
        self.rm.standby = Standby::Not;
        self.rm.standby_deadline = None;
        if self.rm.shutdown_started {
            return;
        }
        if let Decision::Proceed(auth) = self.rm.fencing.decide(src, false) {
            self.takeover(auth);
        }
    }

    // ---- commands ------------------------------------------------------------------

    pub(super) fn on_command(&mut self, c: Command) {
        match c {
            Command::Standby(set) => self.send_msg(
                None,
                Msg::AskResources {
                    set,
                    phase: Phase::Me,
                },
            ),
            Command::Takeover(arg) => self.send_msg(None, Msg::HbTakeover { set: arg }),
            Command::Shutdown => {
                if self.rm.shutdown_started {
                    self.notice(Notice::ShutdownAlreadyUnderway);
                } else if !self.mem.comm_up {
                    self.notice(Notice::ShutdownDelayedComm);
                    self.rm.shutdown_pending = true;
                } else {
                    self.send_status();
                    if self.stable() {
                        self.start_shutdown();
                    } else {
                        self.notice(Notice::ShutdownDelayedActivity);
                        self.rm.shutdown_pending = true;
                    }
                }
            }
        }
    }

    fn start_shutdown(&mut self) {
        self.rm.shutdown_pending = false;
        self.rm.shutdown_started = true;
        self.rm.i_hold = Hold::NONE;
        self.rm.rstate = RState::Shutdown;
        self.rm.handover_at = None;
        self.rm.autofailback_at = None;
        self.rm.queued_standby = None;
        if self.rm.nice {
            self.send_msg(
                None,
                Msg::Resource {
                    hold: Hold::NONE,
                    full: true,
                    stable: Some(false),
                    info: Some("shutdown".into()),
                },
            );
        }
        self.notice(Notice::ShutdownInProgress(self.boot.pid));
        let ops = (0..self.cfg.groups.len())
            .map(|g| (g, GroupOp::Give))
            .collect();
        self.enqueue(ActKind::Shutdown, ops);
    }

    // ---- activities ------------------------------------------------------------------

    pub(super) fn activity_started(&mut self, act: &super::groups::Activity) {
        match &act.kind {
            ActKind::MachDown(_) => {
                for (g, _) in act.ops.iter() {
                    let key = self.cfg.groups[*g].key().to_string();
                    self.notice(Notice::TakingOver(key));
                }
            }
            ActKind::StandbyGive(s) => self.notice(Notice::GiveUpStandby(*s)),
            ActKind::StandbyTake(s) => self.notice(Notice::AcquireStandby(s.mirror())),
            ActKind::Shutdown => self.notice(Notice::GivingUpAll),
            _ => {}
        }
    }

    pub(super) fn activity_done(&mut self, kind: ActKind) {
        match kind {
            ActKind::ReqOur => {
                self.notice(Notice::LocalAcquisitionCompleted);
                if self.rm.nice && !self.rm.shutdown_started {
                    let st = self.rm.rstate == RState::Stable;
                    self.send_resource(st, Some("req_our_resources()"));
                }
                self.local_work_done("req_our_resources");
            }
            ActKind::MachDown(n) if self.is_isolated() => {
                // Isolated meanwhile: its acquisitions were cancelled, nothing was taken.
                self.rm.takeover_in_progress = false;
                self.notice(Notice::MachDownNodeComplete(n));
            }
            ActKind::MachDown(n) => {
                if self.rm.nice {
                    self.notice(Notice::NiceFailbackForeignAcquired);
                    self.send_msg(
                        None,
                        Msg::Resource {
                            hold: Hold::FOREIGN,
                            full: false,
                            stable: None,
                            info: Some("mach_down".into()),
                        },
                    );
                    self.notice(Notice::MachDownNodeComplete(n));
                } else {
                    self.notice(Notice::MachDownNodeComplete(n));
                    self.foreign_work_done("status");
                }
            }
            ActKind::StandbyGive(s) => {
                self.notice(Notice::ReleaseCompletedStandby(s));
                // `done` tells the acceptor of the running episode to acquire. A release
                // of an abandoned episode (queued behind a hung stop) that finishes later
                // must not: loopback in `Done` it read as the acceptor's completion, and
                // we claimed the set the peer had just taken (seed 307632).
                if self.rm.standby != Standby::Me {
                    return;
                }
                self.send_msg(
                    None,
                    Msg::AskResources {
                        set: s,
                        phase: Phase::Done,
                    },
                );
            }
            ActKind::StandbyTake(s) => {
                self.notice(Notice::AcquisitionCompletedStandby(s.mirror()));
                self.send_msg(
                    None,
                    Msg::AskResources {
                        set: s,
                        phase: Phase::Done,
                    },
                );
            }
            ActKind::Shutdown => {
                self.notice(Notice::AllRelinquished);
                self.send_msg(None, Msg::Shutdone);
            }
            ActKind::Heal => {
                if self.rm.nice && !self.rm.shutdown_started {
                    let st = self.own_stable();
                    self.send_resource(st, None);
                }
            }
            ActKind::LegacyGive { key, to } => {
                self.send_msg(Some(to), Msg::IpRequestResp { key, weown: true });
            }
            ActKind::LegacyTake => self.local_work_done("ip-request-resp"),
            ActKind::Retake => {}
        }
    }

    /// Ours: once we are stable again after having told the peer we were not, say so;
    /// otherwise the peer rejects standby requests as "in flux" until the next transition.
    pub(super) fn rm_settle(&mut self) {
        if self.rm.nice
            && self.mem.comm_up
            && (!self.rm.advertised_stable || self.rm.advertised_hold != self.advertised())
            && !self.rm.shutdown_started
            && self.rm.rstate == RState::Stable
            && self.peer_is_alive()
            && self.own_stable()
        {
            self.send_resource(self.own_stable(), None);
        }
    }

    /// Nothing is running: deferred work may start.
    pub(super) fn on_idle(&mut self) {
        if self.rm.groups.failed_since.take().is_some() && self.rm.handover_at.is_none() {
            self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
        }
        if self.rm.shutdown_pending && self.mem.comm_up && self.stable() {
            self.send_status();
            self.start_shutdown();
            return;
        }
        if let Some(s) = self.rm.queued_standby.take()
            && !self.rm.shutdown_started
        {
            self.send_msg(
                None,
                Msg::AskResources {
                    set: s,
                    phase: Phase::Me,
                },
            );
            return;
        }
        // Ours: we claim a set (and the peer knows it) but one of its groups runs nowhere
        // here and is not being worked on: start it (seeds 42345, 13037: a release queued
        // by one episode ran after another had claimed the set again).
        if self.rm.nice
            && self.mem.comm_up
            && !self.rm.shutdown_started
            && self.rm.rstate == RState::Stable
            && self.rm.standby == Standby::Not
            && !self.rm.takeover_in_progress
            && !self.is_isolated()
        {
            let stopped: Vec<(usize, GroupOp)> = self
                .groups_of(self.rm.i_hold)
                .into_iter()
                .filter(|&g| self.rm.groups.states[g] == GroupState::Stopped)
                .map(|g| (g, GroupOp::Take))
                .collect();
            if !stopped.is_empty() {
                self.enqueue(ActKind::Retake, stopped);
            }
        }
    }

    /// Start failure hand-over (§2.7 step 3, without heartbeat's always-`foreign` quirk).
    fn handover(&mut self) {
        self.rm.handover_at = None;
        let failed: Vec<usize> = (0..self.rm.groups.states.len())
            .filter(|&g| self.rm.groups.states[g] == GroupState::Failed)
            .collect();
        if failed.is_empty() || self.rm.shutdown_started {
            return;
        }
        let mut set = Hold::NONE;
        for &g in &failed {
            set = set.union(if self.cfg.groups[g].node == self.me {
                Hold::LOCAL
            } else {
                Hold::FOREIGN
            });
        }
        if self.rm.nice && self.peer_is_alive() {
            if self.stable() && self.rm.rstate == RState::Stable {
                self.rm.handover_waits = 0;
                self.notice(Notice::HandOverAfterFailure(set));
                // The groups stay `Failed` until the standby stops them; if the peer
                // rejects or ignores the request, we offer again later.
                self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
                self.send_msg(
                    None,
                    Msg::AskResources {
                        set,
                        phase: Phase::Me,
                    },
                );
            } else if self.rm.handover_waits >= HANDOVER_MAX_WAITS
                && self.rm.i_hold.contains(set)
                && self.rm.groups.idle()
            {
                // The peer has been in flux for minutes (seed 26648: it never settled after
                // our cancelled fence). We are the owner of record of these groups, so the
                // peer will not start them: try them here again.
                self.rm.handover_waits = 0;
                let ops = failed.into_iter().map(|g| (g, GroupOp::Take)).collect();
                self.enqueue(ActKind::Retake, ops);
            } else {
                self.rm.handover_waits += 1;
                self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
            }
        } else if !self.rm.nice && self.peer_is_alive() {
            // Legacy: the home node owns the decision. Ask for our own groups again (the
            // peer answers `weown=no` if it does not run them, and we retry the start);
            // the peer's groups are its business.
            // Kept `Failed` (and asked again later) until an answer lets us take it.
            self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
            for g in failed {
                if self.cfg.groups[g].node == self.me {
                    self.ip_request(g);
                } else {
                    self.rm.groups.states[g] = GroupState::Stopped;
                }
            }
        } else if self.is_isolated() {
            self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
        } else if self.rm.groups.idle() {
            // Nobody else can run it: try again here.
            let ops = failed.into_iter().map(|g| (g, GroupOp::Take)).collect();
            self.enqueue(ActKind::Retake, ops);
        } else {
            self.rm.handover_at = Some(self.now + HANDOVER_DELAY);
        }
    }

    // ---- timers ----------------------------------------------------------------------

    pub(super) fn rm_timers(&mut self) {
        let now = self.now;
        self.stop_retries();
        self.ip_request_retries();
        if let Some(d) = self.rm.standby_deadline
            && d <= now
        {
            self.notice(Notice::StandbyNoReply);
            let unmoved = self.rm.standby == Standby::Me;
            self.rm.standby = Standby::Not;
            self.rm.standby_deadline = None;
            self.rm.other_is_stable = true;
            if std::mem::take(&mut self.rm.failback_asked) && unmoved {
                // Ours: an auto-failback that got no answer is tried again.
                self.rm.needs_failback = true;
                self.rm.autofailback_at = Some(now + AUTOFAILBACK_RETRY);
            }
        }
        if self.rm.rstate == RState::RscRcvd
            && let Some(t) = self.rm.rscrcvd_at
            && t + RSCRCVD_WAIT <= now
        {
            self.rm.rscrcvd_at = None;
            self.rm.rstate = RState::Stable;
            self.req_our(false);
            self.notice(Notice::LocalTransitionCompleted);
            self.foreign_work_done("HB_R_BOTHSTARTING");
            self.send_resource(self.own_stable(), None);
        }
        if self.rm.nice
            && let Some(i) = self.peer()
            && self.peer_alive(i)
        {
            let peer = self.mem.nodes[i].name.clone();
            self.heal_check(&peer, false);
        }
        if let Some(t) = self.rm.autofailback_at
            && t <= now
        {
            self.try_auto_failback();
        }
        for n in self.rm.fencing.due(now) {
            let dev = self.cfg.stonith_device.clone();
            self.notice(Notice::Resetting(n.clone(), dev));
            self.actions.push_back(Action::Fence { node: n });
        }
        if let Some(t) = self.rm.handover_at
            && t <= now
        {
            self.handover();
        }
        if self.rm.shutdown_pending && self.mem.comm_up && self.stable() {
            self.send_status();
            self.start_shutdown();
        }
    }

    pub(super) fn rm_deadline(&self) -> Option<Instant> {
        let rm = &self.rm;
        [
            rm.standby_deadline,
            rm.rscrcvd_at
                .filter(|_| rm.rstate == RState::RscRcvd)
                .map(|t| t + RSCRCVD_WAIT),
            rm.autofailback_at,
            rm.handover_at,
            rm.fencing.next_deadline(),
            rm.groups.stop_retry_deadline(),
            rm.ip_pending.values().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
