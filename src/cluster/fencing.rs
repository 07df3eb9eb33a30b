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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    InFlight,
    RetryAt(Instant),
}

#[derive(Debug, Default)]
pub struct Fencing {
    device: bool,
    pending: BTreeMap<NodeName, State>,
}

impl Fencing {
    pub fn new(device: bool) -> Fencing {
        Fencing {
            device,
            pending: BTreeMap::new(),
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
        Decision::FenceNow
    }

    /// A fence result from the edge. Only a success for a fence we asked for yields proof.
    pub fn finished(&mut self, now: Instant, node: &NodeName, ok: bool) -> Option<TakeoverAuth> {
        if self.pending.get(node) != Some(&State::InFlight) {
            return None;
        }
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
            if let State::RetryAt(t) = *s
                && t <= now
            {
                *s = State::InFlight;
                out.push(n.clone());
            }
        }
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter_map(|s| match s {
                State::RetryAt(t) => Some(*t),
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
    fn clean_peers_and_no_device_proceed_without_fence() {
        let n = NodeName::new("node2");
        let mut f = Fencing::new(true);
        assert!(matches!(f.decide(&n, false), Decision::Proceed(_)));
        let mut g = Fencing::new(false);
        assert!(matches!(g.decide(&n, true), Decision::Proceed(a) if *a.why() == Why::NoDevice));
    }
}
