//! Typed protocol messages: what the state machine reasons about. The conversion to and
//! from wire bytes lives in [`super::codec`] only.

use std::fmt;

use crate::config::NodeName;

/// A resource set as heartbeat names it (`rsc_hold`, `hb_standby` arguments). Relative to
/// the node that says it: `local` = groups whose haresources node is that node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hold(u8);

impl Hold {
    pub const NONE: Hold = Hold(0);
    pub const LOCAL: Hold = Hold(1);
    pub const FOREIGN: Hold = Hold(2);
    pub const ALL: Hold = Hold(3);

    pub fn contains(self, other: Hold) -> bool {
        other.0 != 0 && self.0 & other.0 == other.0
    }
    pub fn intersects(self, other: Hold) -> bool {
        self.0 & other.0 != 0
    }
    pub fn union(self, other: Hold) -> Hold {
        Hold(self.0 | other.0)
    }
    pub fn intersect(self, other: Hold) -> Hold {
        Hold(self.0 & other.0)
    }
    pub fn minus(self, other: Hold) -> Hold {
        Hold(self.0 & !other.0)
    }
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
    /// The same groups seen from the other node of a pair (local ↔ foreign).
    pub fn mirror(self) -> Hold {
        Hold(((self.0 & 1) << 1) | ((self.0 & 2) >> 1))
    }
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "none",
            1 => "local",
            2 => "foreign",
            _ => "all",
        }
    }
    pub fn parse(s: &str) -> Option<Hold> {
        Some(match s {
            "none" => Hold::NONE,
            "local" => Hold::LOCAL,
            "foreign" => Hold::FOREIGN,
            "all" => Hold::ALL,
            _ => return None,
        })
    }
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A node's advertised status (`st=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    Init,
    Up,
    Active,
    Dead,
    /// A ping node that answers.
    Ping,
}

impl NodeStatus {
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
            NodeStatus::Ping => "ping",
        }
    }
    pub fn parse(s: &str) -> Option<NodeStatus> {
        Some(match s {
            "init" => NodeStatus::Init,
            "up" => NodeStatus::Up,
            "active" => NodeStatus::Active,
            "dead" => NodeStatus::Dead,
            "ping" => NodeStatus::Ping,
            _ => return None,
        })
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Standby protocol phase (`ask_resources info=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    Me,
    Other,
    Done,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Me => "me",
            Phase::Other => "other",
            Phase::Done => "done",
        }
    }
}

/// `stonith result=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StonithResult {
    Ok,
    NoDevice,
    Unneeded,
    Bad,
}

impl StonithResult {
    pub fn name(self) -> &'static str {
        match self {
            StonithResult::Ok => "OK",
            StonithResult::NoDevice => "n_stnth",
            StonithResult::Unneeded => "unneeded",
            StonithResult::Bad => "bad",
        }
    }
}

/// The body of a cluster message, one variant per `t=` the core understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Status {
        st: NodeStatus,
        /// Advertised dead time in ms (`dt`, hex on the wire).
        dt_ms: Option<u64>,
        protocol: bool,
    },
    Starting,
    Resource {
        hold: Hold,
        full: bool,
        stable: Option<bool>,
        info: Option<String>,
    },
    AskResources {
        set: Hold,
        phase: Phase,
    },
    IpRequest {
        key: String,
    },
    IpRequestResp {
        key: String,
        weown: bool,
    },
    HbTakeover {
        set: String,
    },
    Shutdone,
    Stonith {
        node: NodeName,
        result: StonithResult,
    },
    ReqNodes,
    RepNodes {
        nodes: Vec<NodeName>,
    },
    Ack {
        ackseq: u64,
    },
    Rexmit {
        first: u64,
        last: u64,
    },
    NakRexmit {
        seq: u64,
        info: String,
    },
    /// ipfail's `num_ping_nodes` (behaviour spec §5.2): how many ping nodes the sender
    /// sees.
    NumPingNodes {
        count: u64,
    },
    /// A type without a built-in handler (passed through, otherwise ignored).
    Other {
        t: String,
    },
}

impl Msg {
    pub fn type_name(&self) -> &str {
        match self {
            Msg::Status { .. } => "status",
            Msg::Starting => "starting",
            Msg::Resource { .. } => "resource",
            Msg::AskResources { .. } => "ask_resources",
            Msg::IpRequest { .. } => "ip-request",
            Msg::IpRequestResp { .. } => "ip-request-resp",
            Msg::HbTakeover { .. } => "hb_takeover",
            Msg::Shutdone => "shutdone",
            Msg::Stonith { .. } => "stonith",
            Msg::ReqNodes => "reqnodes",
            Msg::RepNodes { .. } => "repnodes",
            Msg::Ack { .. } => "NS_ackmsg",
            Msg::Rexmit { .. } => "NS_rexmit",
            Msg::NakRexmit { .. } => "NS_nak_rexmit",
            Msg::NumPingNodes { .. } => "num_ping_nodes",
            Msg::Other { t } => t,
        }
    }
    /// `NS_*` messages are never numbered, stored or retransmitted (wire spec §5).
    pub fn is_sequenced(&self) -> bool {
        !self.type_name().starts_with("NS_")
    }
}

/// A message with its transport envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src: NodeName,
    pub dest: Option<NodeName>,
    /// `None` for `NS_*` messages.
    pub seq: Option<u64>,
    /// Generation (`hg`).
    pub generation: u64,
    /// Sender wall-clock seconds (`ts`), informational only.
    pub ts: u64,
    pub ttl: u8,
    pub msg: Msg,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_sets_mirror_and_combine_like_heartbeat() {
        // behaviour spec §4.9: local ↔ foreign, all ↔ all
        assert_eq!(Hold::LOCAL.mirror(), Hold::FOREIGN);
        assert_eq!(Hold::FOREIGN.mirror(), Hold::LOCAL);
        assert_eq!(Hold::ALL.mirror(), Hold::ALL);
        assert_eq!(Hold::NONE.mirror(), Hold::NONE);
        assert_eq!(Hold::LOCAL.union(Hold::FOREIGN), Hold::ALL);
        assert_eq!(Hold::ALL.minus(Hold::LOCAL), Hold::FOREIGN);
        assert!(!Hold::LOCAL.contains(Hold::NONE));
        for h in [Hold::NONE, Hold::LOCAL, Hold::FOREIGN, Hold::ALL] {
            assert_eq!(Hold::parse(h.name()), Some(h));
        }
    }

    #[test]
    fn ns_types_are_unsequenced() {
        assert!(!Msg::Ack { ackseq: 1 }.is_sequenced());
        assert!(Msg::Starting.is_sequenced());
    }
}
