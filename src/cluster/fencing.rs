//! The fencing step of takeover (behaviour spec §4.7 steps 6–8, §7.2).
//!
//! Taking over a dead peer's groups requires a [`TakeoverAuth`], and only this module can
//! make one: directly when fencing is not needed (clean shutdown, held nothing) or no
//! STONITH device is configured, and otherwise only from a *successful* fence result.

use std::collections::BTreeMap;

use crate::config::NodeName;
use crate::time::{Duration, Instant};

/// heartbeat retries a failed reset 5 s later, forever.
pub const FENCE_RETRY: Duration = Duration::from_secs(5);

/// Proof that `node` was reset by the fence device.
#[derive(Debug, PartialEq, Eq)]
pub struct Fenced {
    node: NodeName,
}

impl Fenced {
    pub fn node(&self) -> &NodeName {
        &self.node
    }
}

/// Why a takeover may proceed.
#[derive(Debug, PartialEq, Eq)]
pub enum Why {
    Fenced(Fenced),
    /// No device configured: heartbeat warns and takes over anyway.
    NoDevice,
    /// The peer shut down cleanly or held nothing.
    NotNeeded,
    /// The peer came back with a new generation: its old incarnation is gone.
    Restarted,
}

/// Permission to start a dead peer's groups.
#[derive(Debug, PartialEq, Eq)]
pub struct TakeoverAuth {
    node: NodeName,
    why: Why,
}

impl TakeoverAuth {
    pub fn node(&self) -> &NodeName {
        &self.node
    }
    pub fn why(&self) -> &Why {
        &self.why
    }
}

pub enum Decision {
    Proceed(TakeoverAuth),
    /// Ask the edge to reset the node; takeover waits for [`Fencing::finished`].
    FenceNow,
    /// Fence race delay: the first attempt is due at this time ([`Fencing::due`]).
    FenceLater(Instant),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    InFlight,
    RetryAt(Instant),
    /// Waiting out the fence race delay before the first attempt.
    DelayedUntil(Instant),
}

/// What status output shows about fencing one node (`StatusView::fencing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceView {
    pub node: NodeName,
    /// A fence of this node is wanted and has not succeeded yet (running, waiting for a
    /// retry, or waiting out the race delay).
    pub in_progress: bool,
    /// The device is running against this node right now.
    pub running: bool,
    /// When the next attempt starts, if one is scheduled (retry or race delay).
    pub next_attempt: Option<Instant>,
    /// Attempts started since this node was last declared dead.
    pub attempts: u32,
    /// The result of the last finished attempt (`true`: reset) and when it came.
    pub last_result: Option<(bool, Instant)>,
}

#[derive(Clone, Debug, Default)]
struct Record {
    attempts: u32,
    last: Option<(bool, Instant)>,
}

#[derive(Debug, Default)]
pub struct Fencing {
    device: bool,
    pending: BTreeMap<NodeName, State>,
    records: BTreeMap<NodeName, Record>,
}

impl Fencing {
    pub fn new(device: bool) -> Fencing {
        Fencing {
            device,
            pending: BTreeMap::new(),
            records: BTreeMap::new(),
        }
    }

    /// Like [`Fencing::decide`], but a first attempt that must wait (fence race delay)
    /// is scheduled for `at` instead of started now.
    pub fn decide_at(
        &mut self,
        node: &NodeName,
        must_fence: bool,
        now: Instant,
        at: Instant,
    ) -> Decision {
        match self.decide(node, must_fence) {
            Decision::FenceNow if at > now => {
                self.pending.insert(node.clone(), State::DelayedUntil(at));
                // `decide` counted an attempt that has not started yet.
                if let Some(r) = self.records.get_mut(node) {
                    r.attempts = r.attempts.saturating_sub(1);
                }
                Decision::FenceLater(at)
            }
            d => d,
        }
    }

    pub fn decide(&mut self, node: &NodeName, must_fence: bool) -> Decision {
        if !must_fence {
            return Decision::Proceed(TakeoverAuth {
                node: node.clone(),
                why: Why::NotNeeded,
            });
        }
        if !self.device {
            return Decision::Proceed(TakeoverAuth {
                node: node.clone(),
                why: Why::NoDevice,
            });
        }
        self.pending.insert(node.clone(), State::InFlight);
        let r = self.records.entry(node.clone()).or_default();
        r.attempts = 1;
        Decision::FenceNow
    }

    /// A fence result from the edge. Only a success for a fence we asked for yields proof.
    pub fn finished(&mut self, now: Instant, node: &NodeName, ok: bool) -> Option<TakeoverAuth> {
        if self.pending.get(node) != Some(&State::InFlight) {
            return None;
        }
        self.records.entry(node.clone()).or_default().last = Some((ok, now));
        if ok {
            self.pending.remove(node);
            Some(TakeoverAuth {
                node: node.clone(),
                why: Why::Fenced(Fenced { node: node.clone() }),
            })
        } else {
            self.pending
                .insert(node.clone(), State::RetryAt(now + FENCE_RETRY));
            None
        }
    }

    /// Nodes whose retry is due; they are marked in flight again.
    pub fn due(&mut self, now: Instant) -> Vec<NodeName> {
        let mut out = Vec::new();
        for (n, s) in self.pending.iter_mut() {
            if let State::RetryAt(t) | State::DelayedUntil(t) = *s
                && t <= now
            {
                *s = State::InFlight;
                out.push(n.clone());
                let r = self.records.entry(n.clone()).or_default();
                r.attempts = r.attempts.saturating_add(1);
            }
        }
        out
    }

    /// Per-node fencing state for status output: every node fenced (or being fenced) since
    /// this process started.
    pub fn views(&self) -> Vec<FenceView> {
        self.records
            .iter()
            .map(|(n, r)| {
                let st = self.pending.get(n);
                FenceView {
                    node: n.clone(),
                    in_progress: st.is_some(),
                    running: st == Some(&State::InFlight),
                    next_attempt: match st {
                        Some(State::RetryAt(t) | State::DelayedUntil(t)) => Some(*t),
                        _ => None,
                    },
                    attempts: r.attempts,
                    last_result: r.last,
                }
            })
            .collect()
    }

    /// Waiting out the race delay (no attempt started yet).
    pub fn delayed(&self, node: &NodeName) -> bool {
        matches!(self.pending.get(node), Some(State::DelayedUntil(_)))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter_map(|s| match s {
                State::RetryAt(t) | State::DelayedUntil(t) => Some(*t),
                State::InFlight => None,
            })
            .min()
    }

    /// The node restarted (new generation): its previous incarnation holds nothing any
    /// more, so its groups may be taken over without a reset.
    pub fn restarted(&mut self, node: &NodeName) -> TakeoverAuth {
        self.pending.remove(node);
        TakeoverAuth {
            node: node.clone(),
            why: Why::Restarted,
        }
    }

    /// Contact returned with the same generation: stop fencing it.
    pub fn cancel(&mut self, node: &NodeName) {
        self.pending.remove(node);
    }

    /// Isolation: fence nobody (an isolated node would shoot the healthy side).
    pub fn cancel_all(&mut self) {
        self.pending.clear();
    }

    pub fn in_progress(&self, node: &NodeName) -> bool {
        self.pending.contains_key(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_takeover_without_successful_fence() {
        // behaviour spec §7.2: failures retried every 5 s, nothing taken over meanwhile
        let n = NodeName::new("node2");
        let mut f = Fencing::new(true);
        assert!(matches!(f.decide(&n, true), Decision::FenceNow));
        let t0 = Instant::from_micros(0);
        assert!(f.finished(t0, &n, false).is_none());
        assert!(f.due(t0 + Duration::from_millis(4999)).is_empty());
        assert_eq!(f.due(t0 + FENCE_RETRY), vec![n.clone()]);
        let auth = f.finished(t0 + FENCE_RETRY, &n, true);
        assert!(matches!(
            auth.as_ref().map(|a| a.why()),
            Some(Why::Fenced(_))
        ));
        // a stray second success proves nothing
        assert!(f.finished(t0 + FENCE_RETRY, &n, true).is_none());
    }

    #[test]
    fn a_delayed_first_attempt_waits_and_is_counted_when_it_starts() {
        let n = NodeName::new("node2");
        let mut f = Fencing::new(true);
        let t0 = Instant::from_micros(0);
        let at = t0 + Duration::from_secs(15);
        assert!(matches!(f.decide_at(&n, true, t0, at), Decision::FenceLater(t) if t == at));
        assert!(f.in_progress(&n) && f.delayed(&n));
        let v = &f.views()[0];
        assert_eq!(
            (v.attempts, v.running, v.next_attempt),
            (0, false, Some(at))
        );
        assert_eq!(f.next_deadline(), Some(at));
        // a result for an attempt that never started proves nothing
        assert!(f.finished(t0, &n, true).is_none());
        assert!(f.due(t0 + Duration::from_millis(14_999)).is_empty());
        assert_eq!(f.due(at), vec![n.clone()]);
        assert!(f.finished(at, &n, false).is_none());
        let v = &f.views()[0];
        assert_eq!((v.attempts, v.last_result), (1, Some((false, at))));
        assert_eq!(v.next_attempt, Some(at + FENCE_RETRY));
        // contact regained during the delay: nothing more
        let mut g = Fencing::new(true);
        let _ = g.decide_at(&n, true, t0, at);
        g.cancel(&n);
        assert!(g.due(at).is_empty() && !g.in_progress(&n));
        // no delay asked: at once
        assert!(matches!(g.decide_at(&n, true, t0, t0), Decision::FenceNow));
    }

    #[test]
    fn clean_peers_and_no_device_proceed_without_fence() {
        let n = NodeName::new("node2");
        let mut f = Fencing::new(true);
        assert!(matches!(f.decide(&n, false), Decision::Proceed(_)));
        let mut g = Fencing::new(false);
        assert!(matches!(g.decide(&n, true), Decision::Proceed(a) if *a.why() == Why::NoDevice));
    }
}
