//! Split-brain guards without (or before) fencing (issue #8, docs/fencing.md §4, §6, §7):
//!
//! * **isolation** — two nodes with ping nodes: a node that sees neither its peer nor any
//!   ping node assumes *it* is the one cut off; three or more nodes: a node that sees at most
//!   half of the configured nodes (itself included) is in the minority. An isolated node
//!   takes nothing over, fences nobody and releases what it holds, because the other side,
//!   if alive, takes over. When isolation ends with the peer still dead, the takeover is
//!   decided afresh (fencing first, if configured).
//! * **built-in ipfail** (behaviour spec §5.2) — the node that sees fewer ping nodes than its
//!   peer hands everything over through the standby protocol after 2 × keepalive, unless
//!   the counts balance first; with `auto_failback on`, balanced counts return foreign
//!   groups. Counts travel as ipfail's own `num_ping_nodes` message.
//! * **fence race** — who fences at once and who waits `fence_delay`.

use super::Cluster;
use super::groups::{ActKind, GroupOp};
use super::membership::Kind;
use super::msg::{Hold, Msg, NodeStatus, Phase};
use super::notice::Notice;
use crate::config::AutoFailback;
use crate::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(super) struct Guard {
    pub isolated: bool,
    /// The peer's `num_ping_nodes`, as last received (reset when it dies or restarts).
    pub peer_count: Option<u64>,
    /// What we last told the peer: (its generation, our count).
    pub sent: Option<(u64, u64)>,
    /// A scheduled ipfail give-up: the set and when.
    pub giveup: Option<(Hold, Instant)>,
    /// The last comparison found that the peer sees fewer ping nodes: what it hands over
    /// is failed back (auto_failback on) only once the counts balance.
    pub peer_fewer: bool,
    /// Sequence number of the count in `peer_count`: a late (retransmitted) older count
    /// must not replace a newer one (seed 116).
    pub peer_count_seq: u64,
    /// The standby we are accepting was asked while the peer saw fewer ping nodes (the
    /// counts may balance before it completes: seed 11904).
    pub accepting_from_fewer: bool,
    /// We handed our groups over because we saw fewer ping nodes: once the counts balance
    /// (auto_failback on) we ask for ours back, whatever the peer knew (seed 27362).
    pub gave_up: bool,
}

/// What status output shows about the guards (`StatusView::guard`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardView {
    /// This node believes it is cut off (tie-breaker or minority) and neither holds nor
    /// takes over resources.
    pub isolated: bool,
    /// Ping nodes this node sees (status `ping`), of `ping_total`.
    pub ping_visible: u64,
    pub ping_total: u64,
    /// Built-in ipfail is active (`respawn ... ipfail`, two nodes, ping nodes, not legacy).
    pub ipfail: bool,
    /// The peer's ping node count as it last reported it (ipfail).
    pub peer_ping_visible: Option<u64>,
    /// A pending ipfail hand-over: the set and when it is due.
    pub ipfail_giveup: Option<(Hold, Instant)>,
}

impl Cluster {
    fn normal_nodes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.mem.nodes.len()).filter(|&i| !matches!(self.mem.nodes[i].kind, Kind::Ping { .. }))
    }

    fn ping_visible(&self) -> u64 {
        self.mem
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, Kind::Ping { .. }) && n.status == NodeStatus::Ping)
            .count() as u64
    }

    /// Half the ping dead time, but at least three echoes (one lost reply must not
    /// isolate us) and at most the dead time.
    fn ping_window(&self) -> Duration {
        let t = &self.cfg.timing;
        Duration::from_micros(t.deadping.as_micros() / 2)
            .max(t.keepalive.saturating_mul(3))
            .min(t.deadping)
    }

    /// Ping nodes that answered within `ping_window` (about half the ping dead time). A link that fails takes
    /// the peer's heartbeats and the ping replies with it, but which of the two is
    /// declared dead first is chance: judged by status alone, the peer's death could come
    /// first and start a takeover the isolation undoes a moment later.
    fn ping_fresh(&self) -> u64 {
        let window = self.ping_window();
        self.mem
            .nodes
            .iter()
            .filter(|n| {
                matches!(n.kind, Kind::Ping { .. })
                    && n.status == NodeStatus::Ping
                    && n.last_status
                        .is_some_and(|t| self.now.saturating_since(t) <= window)
            })
            .count() as u64
    }

    /// When the freshest ping reply goes stale, if that would isolate us (peer dead).
    pub(super) fn isolation_deadline(&self) -> Option<Instant> {
        if self.rm.guard.isolated
            || !self.mem.comm_up
            || self.rm.shutting_down()
            || self.cfg.nodes.len() != 2
            || self.cfg.ping_nodes.is_empty()
            || self.peer_is_alive()
        {
            return None;
        }
        let window = self.ping_window();
        self.mem
            .nodes
            .iter()
            .filter(|n| matches!(n.kind, Kind::Ping { .. }) && n.status == NodeStatus::Ping)
            .filter_map(|n| n.last_status)
            .max()
            .map(|t| t + window + Duration::from_micros(1))
            // Never a deadline in the past: the timer would fire for ever (seed 1876).
            .filter(|&t| t > self.now)
    }

    /// Why this node is isolated right now, if it is.
    fn isolation_reason(&self) -> Option<&'static str> {
        if !self.mem.comm_up || self.rm.shutting_down() {
            return None;
        }
        let normal: Vec<usize> = self.normal_nodes().collect();
        let n = normal.len();
        if n >= 3 {
            let visible = normal
                .iter()
                .filter(|&&i| i == self.mem.me || self.peer_alive(i))
                .count();
            return (visible * 2 <= n).then_some("at most half of the nodes visible");
        }
        let pings = self.cfg.ping_nodes.len();
        if n == 2 && pings > 0 && self.ping_fresh() == 0 {
            let peer_seen = normal
                .iter()
                .any(|&i| i != self.mem.me && self.peer_alive(i));
            if !peer_seen {
                return Some("neither the peer nor any ping node visible");
            }
        }
        None
    }

    /// The takeover of a dead node must wait: we are isolated. Enters isolation if needed.
    pub(super) fn isolation_holds_takeover(&mut self) -> bool {
        self.guard_isolation();
        self.rm.guard.isolated
    }

    pub(super) fn is_isolated(&self) -> bool {
        self.rm.guard.isolated
    }

    /// Isolation transitions (after every input, and before any takeover decision).
    pub(super) fn guard_isolation(&mut self) {
        if self.rm.shutting_down() {
            return; // everything is being released anyway
        }
        let why = self.isolation_reason();
        match (why, self.rm.guard.isolated) {
            (Some(why), false) => {
                self.rm.guard.isolated = true;
                self.notice(Notice::Isolated(why));
                self.rm.fencing.cancel_all();
                self.release_everything();
            }
            (None, true) => {
                self.rm.guard.isolated = false;
                self.notice(Notice::NoLongerIsolated);
                if self.rm.shutting_down() || !self.mem.comm_up {
                    return;
                }
                // A peer still dead: decide its takeover now (fencing first if configured).
                let dead: Vec<usize> = self
                    .normal_nodes()
                    .filter(|&i| i != self.mem.me && self.mem.nodes[i].status == NodeStatus::Dead)
                    .collect();
                if self.normal_nodes().count() == 2 {
                    for i in dead {
                        self.rm_node_dead_after_isolation(i);
                    }
                    // Back in touch instead: nice modes claim our orphaned groups on the
                    // peer's stable report; legacy asks for them (seed 8800: isolated at
                    // start, nothing else would ever start them).
                    // (Nice modes claim them on the peer's answer to the `starting` sent
                    // when contact was regained: resources::rm_contact_regained.)
                    if !self.cfg.nice_failback() && self.peer_is_alive() {
                        self.legacy_request_local();
                    }
                }
            }
            _ => {}
        }
    }

    /// Stops every group that may run here and forgets queued work. An acquisition
    /// running now finishes its current group (stopped again right after) but no longer
    /// counts as a takeover: its completion must not claim the set (seed 13037).
    fn release_everything(&mut self) {
        self.rm.groups.queue.clear();
        if let Some(a) = self.rm.groups.current.as_mut() {
            a.ops.retain(|&(_, op)| op == GroupOp::Give);
            if !matches!(
                a.kind,
                ActKind::Heal | ActKind::StandbyGive(_) | ActKind::Shutdown
            ) {
                a.kind = ActKind::Retake;
            }
        }
        self.rm.clear_holdings();
        let give: Vec<(usize, GroupOp)> = (0..self.cfg.groups.len())
            .filter(|&g| self.rm.groups.states[g].is_active() || self.rm.groups.take_pending(g))
            .map(|g| (g, GroupOp::Give))
            .collect();
        if !give.is_empty() {
            self.enqueue(ActKind::Heal, give);
        }
    }

    // ---- fence race ----------------------------------------------------------------

    /// In a fence race the favoured node fences at once: the one running more groups (as
    /// both sides last knew it), on a tie the home node of the first group (else the first
    /// node of ha.cf).
    pub(super) fn fence_favoured(&self) -> bool {
        let total = self.cfg.groups.len();
        let mine = (0..total)
            .filter(|&g| self.rm.groups.states[g].is_active())
            .count();
        let theirs = if self.cfg.nice_failback() {
            self.groups_of(self.rm.peer_holds().mirror()).len()
        } else {
            total.saturating_sub(mine)
        };
        if mine != theirs {
            return mine > theirs;
        }
        let preferred = self
            .cfg
            .groups
            .first()
            .map(|g| &g.node)
            .or(self.cfg.nodes.first());
        preferred == Some(&self.me)
    }

    // ---- built-in ipfail -----------------------------------------------------------

    pub(super) fn ipfail_on(&self) -> bool {
        self.cfg.ipfail
            && self.cfg.auto_failback != AutoFailback::Legacy
            && self.cfg.nodes.len() == 2
            && !self.cfg.ping_nodes.is_empty()
    }

    fn ipfail_peer(&self) -> Option<usize> {
        self.normal_nodes()
            .find(|&i| i != self.mem.me)
            .filter(|&i| self.peer_alive(i))
    }

    /// Tells the peer our count whenever it (or the peer's incarnation) changed.
    pub(super) fn ipfail_tell(&mut self) {
        if !self.ipfail_on() || !self.mem.comm_up || self.rm.shutting_down() {
            return;
        }
        let Some(p) = self.ipfail_peer() else {
            self.rm.guard.sent = None;
            self.rm.guard.peer_count = None;
            self.rm.guard.peer_fewer = false;
            self.ipfail_cancel();
            return;
        };
        let count = self.ping_visible();
        let key = (self.mem.nodes[p].generation, count);
        if self.rm.guard.sent == Some(key) {
            return;
        }
        self.rm.guard.sent = Some(key);
        self.notice(Notice::IpfailAskCount);
        let dest = self.mem.nodes[p].name.clone();
        self.send_msg(Some(dest), Msg::NumPingNodes { count });
        self.ipfail_compare();
    }

    /// Contact with the peer was regained: tell it our count again. `restarted`: its
    /// sequence numbers start again, so does the order of its counts (else a count
    /// retransmitted late would still be ordered against the newer one: seed 3923).
    pub(super) fn ipfail_reset(&mut self, restarted: bool) {
        self.rm.guard.sent = None;
        self.rm.guard.peer_count = None;
        self.rm.guard.peer_fewer = false;
        if restarted {
            self.rm.guard.peer_count_seq = 0;
            self.rm.guard.gave_up = false;
        }
        self.ipfail_cancel();
    }

    /// The peer sent `starting` although we know its count: it regained contact with us
    /// after declaring us dead (we never lost it) and forgot our count. Ours has not
    /// changed, so nothing else would send it again, and until it arrives the peer fails
    /// back towards us and counts a hand-over we make as not caused by our fewer ping
    /// nodes (seed 289104: the failback was never asked for after the counts balanced).
    /// Sent before our answer to `starting`, so the count comes before our report. A count
    /// the peer sent after this `starting` (at its comm-up, overtaking it) was already
    /// answered with ours.
    pub(super) fn ipfail_on_starting(&mut self, seq: u64) {
        if self.rm.guard.peer_count.is_none()
            || self.rm.guard.peer_count_seq > seq
            || !self.ipfail_on()
            || !self.mem.comm_up
            || self.rm.shutting_down()
        {
            return;
        }
        let Some(p) = self.ipfail_peer() else {
            return;
        };
        let count = self.ping_visible();
        self.rm.guard.sent = Some((self.mem.nodes[p].generation, count));
        self.notice(Notice::IpfailAskCount);
        let dest = self.mem.nodes[p].name.clone();
        self.send_msg(Some(dest), Msg::NumPingNodes { count });
    }

    /// Holds back auto-failback towards a peer that sees fewer ping nodes.
    pub(super) fn ipfail_blocks_failback(&self) -> bool {
        self.ipfail_on() && self.rm.guard.peer_fewer
    }

    pub(super) fn on_num_ping_nodes(&mut self, count: u64, seq: u64) {
        if !self.ipfail_on() || seq < self.rm.guard.peer_count_seq {
            return;
        }
        self.rm.guard.peer_count_seq = seq;
        if self.rm.guard.peer_count.is_none() {
            // Its first count since contact: ours may have reached it before it could
            // take it (before its comm-up), so it gets ours again (seed 4082).
            self.rm.guard.sent = None;
        }
        self.rm.guard.peer_count = Some(count);
        self.ipfail_compare();
    }

    /// ipfail's `you_are_dead`, from a peer running heartbeat's own ipfail.
    pub(super) fn on_you_are_dead(&mut self) {
        if !self.ipfail_on() {
            return;
        }
        self.notice(Notice::IpfailToldLess);
        self.ipfail_schedule(Hold::ALL);
    }

    pub(super) fn on_abort_giveup(&mut self) {
        if self.ipfail_on() {
            self.ipfail_cancel();
        }
    }

    fn ipfail_compare(&mut self) {
        let Some(theirs) = self.rm.guard.peer_count else {
            return;
        };
        let mine = self.ping_visible();
        self.rm.guard.peer_fewer = mine > theirs;
        if mine > theirs {
            self.notice(Notice::IpfailMore);
            self.ipfail_cancel();
        } else if mine < theirs {
            self.notice(Notice::IpfailLess);
            self.ipfail_schedule(Hold::ALL);
        } else {
            self.notice(Notice::IpfailBalanced);
            self.ipfail_cancel();
            // ipfail gives foreign groups back here; ours does it only for groups that
            // need a failback (taken over, or handed to us because the peer saw fewer
            // ping nodes), so an administrator's hb_standby is not undone.
            if self.cfg.auto_failback == AutoFailback::On
                && self.rm.holds().contains(Hold::FOREIGN)
                && self.rm.wants_failback()
            {
                self.notice(Notice::IpfailFailback);
                self.try_auto_failback();
            }
            if self.rm.guard.gave_up {
                if self.cfg.auto_failback != AutoFailback::On {
                    self.rm.guard.gave_up = false;
                } else if !self.rm.holds().contains(Hold::LOCAL) {
                    self.ipfail_ask_ours_back();
                } else if !self.rm.own_standby_running() {
                    // The hand-over never released anything (refused, timed out).
                    self.rm.guard.gave_up = false;
                }
                // Else our hand-over, asked while we saw fewer, has not released ours
                // yet (seed 411830: the request was lost in the partition and arrived
                // after the counts had balanced on both sides, so the peer took it as
                // plain): we ask for ours back once it completes.
            }
        }
    }

    /// hb_takeover local: the peer hands our home groups back (§4.10).
    fn ipfail_ask_ours_back(&mut self) {
        self.rm.guard.gave_up = false;
        self.send_msg(
            None,
            Msg::HbTakeover {
                set: "local".into(),
            },
        );
    }

    /// Our standby has completed: if it was ipfail's hand-over and the counts balanced
    /// meanwhile, nothing else will compare them again, so ours are asked back now.
    pub(super) fn ipfail_handover_done(&mut self) {
        if self.rm.guard.gave_up
            && self.ipfail_on()
            && self.cfg.auto_failback == AutoFailback::On
            && self.rm.guard.peer_count == Some(self.ping_visible())
            && !self.rm.holds().contains(Hold::LOCAL)
            && self.ipfail_peer().is_some()
            && !self.rm.shutting_down()
        {
            self.ipfail_ask_ours_back();
        }
    }

    fn ipfail_schedule(&mut self, set: Hold) {
        let delay = self.cfg.timing.keepalive.saturating_mul(2);
        self.notice(Notice::IpfailDelayedGiveup(delay.as_millis() / 1000));
        self.rm.guard.giveup = Some((set, self.now + delay));
    }

    fn ipfail_cancel(&mut self) {
        if self.rm.guard.giveup.take().is_some() {
            self.notice(Notice::IpfailAborted);
        }
    }

    pub(super) fn ipfail_deadline(&self) -> Option<Instant> {
        self.rm.guard.giveup.map(|(_, t)| t)
    }

    /// The scheduled give-up is due: hand the set over with the standby protocol when we
    /// are stable, else try again 2 × keepalive later while the reason still holds.
    pub(super) fn ipfail_timer(&mut self) {
        let Some((set, at)) = self.rm.guard.giveup else {
            return;
        };
        if at > self.now {
            return;
        }
        self.rm.guard.giveup = None;
        let still = match self.rm.guard.peer_count {
            Some(theirs) if set == Hold::ALL => self.ping_visible() < theirs,
            Some(theirs) => self.ping_visible() == theirs,
            None => false,
        };
        let held = self.rm.holds().intersect(set);
        if !still || held.is_none() || self.ipfail_peer().is_none() || self.rm.shutting_down() {
            return;
        }
        self.notice(Notice::IpfailGiveupCalled);
        if self.rm_ready_for_standby() {
            if set == Hold::ALL {
                self.rm.guard.gave_up = true;
            }
            self.send_msg(
                None,
                Msg::AskResources {
                    set,
                    phase: Phase::Me,
                },
            );
        } else {
            let delay = self.cfg.timing.keepalive.saturating_mul(2);
            self.rm.guard.giveup = Some((set, self.now + delay));
        }
    }

    pub(super) fn guard_view(&self) -> GuardView {
        GuardView {
            isolated: self.rm.guard.isolated,
            ping_visible: self.ping_visible(),
            ping_total: self.cfg.ping_nodes.len() as u64,
            ipfail: self.ipfail_on(),
            peer_ping_visible: self.rm.guard.peer_count,
            ipfail_giveup: self.rm.guard.giveup,
        }
    }
}
