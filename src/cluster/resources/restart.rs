//! Quick restart (behaviour spec §4.12): on SIGHUP with a changed `ha.cf` the daemon keeps
//! its resources and re-executes itself as `heartbeat -R [-C STATE]`. This is both halves
//! of it as far as the resource manager is concerned: what the old process hands over,
//! how the new one starts with it, and how a peer tells such a restart from a crash.

use super::{RState, Standby};
use crate::cluster::groups::GroupState;
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
        let mut running = Hold::NONE;
        for (g, st) in rm.groups.states.iter().enumerate() {
            if *st == GroupState::Running {
                running = running.union(if self.cfg.groups[g].node == self.me {
                    Hold::LOCAL
                } else {
                    Hold::FOREIGN
                });
            }
        }
        Some(Restart {
            held: rm.nice.then(|| self.advertised()),
            running,
        })
    }

    /// A `-R` process: the groups the old one ran are running (nothing is re-run).
    pub(in crate::cluster) fn restart_boot(&mut self, r: Restart) {
        let running = r.held.unwrap_or(Hold::NONE).union(r.running);
        for g in self.groups_of(running) {
            self.rm.groups.states[g] = GroupState::Running;
        }
    }

    /// Comm-up of a `-R` process: no initial acquisition. Nice_failback modes start
    /// `STABLE` with the handed-over holdings; a mode change is handled as heartbeat does.
    /// Returns false for an ordinary start.
    pub(in crate::cluster) fn restart_comm_up(&mut self) -> bool {
        let Some(r) = self.boot.restart else {
            return false;
        };
        // Nothing to announce: the acquisition happened in the old process.
        self.rm.local_done = true;
        self.rm.foreign_done = true;
        self.rm.initial_logged = true;
        let deaths = std::mem::take(&mut self.rm.pending_deaths);
        let alone = !self.peer_is_alive();
        if self.rm.nice {
            let held = match r.held {
                Some(h) => h,
                None => {
                    self.notice(Notice::RestartAssumingLocal);
                    Hold::LOCAL.union(r.running)
                }
            };
            self.rm.i_hold = held;
            self.rm.rstate = RState::Stable;
            self.rm.other_is_stable = alone;
            if !alone {
                // Ask the peer for its holdings (it answers `resource`), then tell it ours
                // and that we are stable, which settles it again at once.
                self.send_msg(None, Msg::Starting);
            }
            self.send_resource(true, None);
            let missing = self
                .groups_of(Hold::LOCAL)
                .into_iter()
                .any(|g| self.rm.groups.states[g] != GroupState::Running);
            if r.held.is_none() && missing {
                self.req_our(true);
            }
        } else if let Some(h) = r.held {
            if h.contains(Hold::LOCAL) {
                self.notice(Notice::RestartAcquiringLocal);
                self.req_our(false);
            } else {
                self.notice(Notice::RestartLocalAlreadyAcquired);
            }
        }
        // A peer found dead whose groups we already run was dealt with (fenced, taken
        // over) by the old process: fencing it again, or re-running its takeover, is wrong.
        let had_foreign = r
            .held
            .unwrap_or(Hold::NONE)
            .union(r.running)
            .contains(Hold::FOREIGN);
        for i in deaths {
            if had_foreign {
                self.rm.other_holds = Hold::NONE;
                self.rm.other_is_stable = true;
            } else {
                self.rm_node_dead(i);
            }
        }
        true
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
}
