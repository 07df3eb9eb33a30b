//! Quick restart (behaviour spec §4.12): on SIGHUP with a changed `ha.cf` the daemon keeps
//! its resources and re-executes itself as `heartbeat -R [-C STATE]`. This is both halves
//! of it as far as the resource manager is concerned: what the old process hands over,
//! how the new one starts with it, and how a peer tells such a restart from a crash.

use super::{RState, Standby};
use crate::cluster::groups::{ActKind, GroupOp, GroupState};
use crate::cluster::msg::{Hold, Msg};
use crate::cluster::notice::Notice;
use crate::cluster::{Cluster, Restart};

impl Cluster {
    /// What a quick restart now would hand over, or `None` while we are not settled: a
    /// group operation, a negotiation, a standby, a shutdown or an unanswered legacy
    /// `ip-request` would be cut short (and the new process would not know about it).
    pub(in crate::cluster) fn restart_state(&self) -> Option<Restart> {
        let rm = &self.rm;
        let settled = self.mem.comm_up
            && !rm.shutdown_started
            && !rm.shutdown_pending
            && rm.groups.idle()
            && (!rm.nice
                || (rm.rstate == RState::Stable
                    && !rm.takeover_in_progress
                    && rm.standby == Standby::Not
                    && rm.standby_deadline.is_none()))
            && rm.ip_pending.is_empty();
        if !settled {
            return None;
        }
        let running = (0..self.cfg.groups.len())
            .filter(|&g| rm.groups.states[g] == GroupState::Running)
            .map(|g| self.cfg.groups[g].key().to_string())
            .collect();
        Some(Restart {
            held: rm.nice.then(|| self.advertised()),
            running: Some(running),
        })
    }

    /// The groups a `-R` process starts with as running.
    fn restart_running(&self, r: &Restart) -> Vec<usize> {
        match &r.running {
            Some(keys) => (0..self.cfg.groups.len())
                .filter(|&g| keys.iter().any(|k| k == self.cfg.groups[g].key()))
                .collect(),
            None => self.groups_of(r.held.unwrap_or(Hold::NONE)),
        }
    }

    /// The sets (`local`/`foreign`) with a group among `groups`.
    fn sets_of(&self, groups: &[usize]) -> Hold {
        groups.iter().fold(Hold::NONE, |h, &g| {
            h.union(if self.cfg.groups[g].node == self.me {
                Hold::LOCAL
            } else {
                Hold::FOREIGN
            })
        })
    }

    /// A `-R` process: the groups the old one ran are running (nothing is re-run).
    pub(in crate::cluster) fn restart_boot(&mut self, r: &Restart) {
        for g in self.restart_running(r) {
            self.rm.groups.states[g] = GroupState::Running;
        }
    }

    /// Comm-up of a `-R` process: no initial acquisition. Nice_failback modes start
    /// `STABLE` with the handed-over holdings; a mode change is handled as heartbeat does.
    /// Returns false for an ordinary start.
    pub(in crate::cluster) fn restart_comm_up(&mut self) -> bool {
        let Some(r) = self.boot.restart.clone() else {
            return false;
        };
        // Nothing to announce: the acquisition happened in the old process.
        self.rm.local_done = true;
        self.rm.foreign_done = true;
        self.rm.initial_logged = true;
        let deaths = std::mem::take(&mut self.rm.pending_deaths);
        let alone = !self.peer_is_alive();
        let running = self.restart_running(&r);
        let running_sets = self.sets_of(&running);
        if self.rm.nice {
            let held = match r.held {
                Some(h) => h,
                None => {
                    self.notice(Notice::RestartAssumingLocal);
                    Hold::LOCAL.union(running_sets)
                }
            };
            self.rm.i_hold = held;
            // Ours: the peer's groups held here go home when it is back (auto_failback
            // on), as they would have from the old process.
            self.rm.needs_failback = held.contains(Hold::FOREIGN);
            self.rm.rstate = RState::Stable;
            self.rm.other_is_stable = alone;

            // Ours: a held group that is not running (its start had failed, or it is new
            // in haresources) is started again rather than left down while claimed; a
            // failure takes the usual way (hand-over to the peer).
            let missing: Vec<(usize, GroupOp)> = self
                .groups_of(held)
                .into_iter()
                .filter(|g| !running.contains(g))
                .map(|g| (g, GroupOp::Take))
                .collect();
            if !missing.is_empty() {
                self.enqueue(ActKind::Retake, missing);
            }
            // Our holdings first: a peer that missed the announcement of this restart
            // tells it from a crash by our first resource message (a fresh start's is
            // `starting`). Then ask for the peer's (it answers `resource`).
            let st = self.own_stable();
            self.send_resource(st, None);
            if !alone {
                self.send_msg(None, Msg::Starting);
            }
        } else {
            if let Some(h) = r.held {
                if h.contains(Hold::LOCAL) {
                    self.notice(Notice::RestartAcquiringLocal);
                    self.req_our(false);
                } else {
                    self.notice(Notice::RestartLocalAlreadyAcquired);
                }
            }
            if !alone {
                self.legacy_restart_with_peer();
            } else if deaths.is_empty() && !self.isolation_holds_takeover() {
                self.req_our(true);
            }
        }
        // A peer found dead whose groups we already run was dealt with (fenced, taken
        // over) by the old process: fencing it again, or re-running its takeover, is wrong.
        let had_foreign = r
            .held
            .unwrap_or(Hold::NONE)
            .union(running_sets)
            .contains(Hold::FOREIGN);
        for i in deaths {
            if had_foreign {
                self.rm.other_holds = Hold::NONE;
                self.rm.other_is_stable = true;
                // Legacy: our groups are still ours to run; one whose start had failed
                // in the old process is not running and, the takeover skipped, nothing
                // else would start it (seed 301536).
                if !self.rm.nice && !self.isolation_holds_takeover() {
                    self.req_our(true);
                }
            } else {
                self.rm_node_dead(i);
            }
        }
        true
    }

    /// Legacy, a `-R` process meeting an active peer (ours): the peer may have taken our
    /// groups, and we its, while the old process could not hear it, and neither side
    /// would ever ask (the peer sees a restart, we skip the initial acquisition). Legacy's
    /// rule settles it as after a partition: the home node wins. Peer-homed groups
    /// running here are released, and ours asked for with `ip-request` (the peer answers
    /// at once if it does not run them; ours keep running meanwhile).
    fn legacy_restart_with_peer(&mut self) {
        let Some(peer) = self.peer() else {
            return;
        };
        if self.mem.nodes[peer].status != crate::cluster::NodeStatus::Active {
            // A peer that has not reached comm-up runs nothing: our groups not running
            // here (released while isolated, or a failed start) are taken as at a start.
            if !self.isolation_holds_takeover() {
                self.req_our(true);
            }
            return;
        }
        let name = self.mem.nodes[peer].name.clone();
        let give: Vec<(usize, GroupOp)> = self
            .home_groups(&name)
            .into_iter()
            .filter(|&g| self.rm.groups.states[g].is_active())
            .map(|g| (g, GroupOp::Give))
            .collect();
        if !give.is_empty() {
            self.notice(Notice::SplitBrainRelease(Hold::FOREIGN, name));
            self.enqueue(ActKind::Heal, give);
        }
        for g in self.local_groups() {
            self.ip_request(g);
        }
    }

    /// A peer's new generation after it announced a quick restart (its `dt` rose by 30 s):
    /// it kept its resources, so nothing is taken over and what it held still stands
    /// until its new process reports. Returns false when the restart must be treated as
    /// a crash (not announced, or it was dead or being fenced).
    pub(in crate::cluster) fn peer_kept_resources(
        &mut self,
        i: usize,
        alive_before: bool,
        was_fencing: bool,
    ) -> bool {
        if !self.mem.nodes[i].quick_restarted || !alive_before || was_fencing {
            return false;
        }
        self.rm.other_is_stable = false;
        true
    }

    /// Nice_failback: the peer restarted while we counted it as holding groups (or were
    /// about to fence it), and we saw no announcement (seed 3035: it quick-restarted while
    /// partitioned from us, and its new process's raised `dt` was lost too). A crash and a
    /// quick restart look the same until the new process speaks; its old holdings still
    /// stand meanwhile and nothing is taken over. A fresh process's first resource message
    /// is `starting` (heartbeat 3.0.6's included: it holds nothing yet); a quick-restarted
    /// one's is its `resource` report (`restart_comm_up` sends that first). If it dies
    /// again before it says, the usual death verdict applies (fenced, with STONITH).
    pub(in crate::cluster) fn restart_in_doubt(&mut self, first_seq: u64) {
        self.rm.restart_doubt = Some(first_seq);
        self.rm.other_is_stable = false;
    }

    /// The restarted peer's `starting` (number `seq`) settles a doubt only if it is its
    /// first resource message: a packet of the new generation was heard before it and none
    /// in between is missing (a lost `resource` before it would be a quick restart's).
    pub(in crate::cluster) fn doubt_starting(&mut self, seq: u64) {
        let Some(first) = self.rm.restart_doubt else {
            return;
        };
        let Some(peer) = self.peer() else {
            return;
        };
        if seq > first && self.mem.nodes[peer].missing.range(..seq).next().is_none() {
            self.restart_held_nothing();
        }
    }

    /// The restarted peer's `resource` report settles a doubt: holding nothing, its old
    /// incarnation's groups are gone; holding something, it kept them (a quick restart)
    /// or acquired them as a fresh start, and either way they stay with it.
    pub(in crate::cluster) fn doubt_resource(&mut self, hold: Hold, full: bool) {
        if self.rm.restart_doubt.is_none() {
            return;
        }
        if hold.is_none() && full {
            self.restart_held_nothing();
        } else {
            self.rm.restart_doubt = None;
        }
    }

    /// The new process holds nothing, so what the old one ran is down. Our groups among
    /// it are ours to start again now. Its own groups are left to its start-up: it takes
    /// them when our answer to its `starting` does not claim them (taking them here too,
    /// after such an answer had gone out, started them on both nodes: seed 314499).
    fn restart_held_nothing(&mut self) {
        self.rm.restart_doubt = None;
        let ours_there = self.rm.other_holds.contains(Hold::FOREIGN);
        self.rm.other_holds = Hold::NONE;
        if ours_there && !self.rm.shutdown_started {
            self.req_our(true);
        }
    }
}
