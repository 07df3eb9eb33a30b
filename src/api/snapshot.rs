//! The status snapshot: a plain copy of what the tools may see, filled by the daemon from the
//! cluster core's status (this module depends on neither).

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($var),* }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),* }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$var),)* _ => None }
            }
        }
    };
}

word_enum!(
    /// A node's status as API clients see it (§8.5).
    NodeStatus { Init => "init", Up => "up", Active => "active", Dead => "dead", Ping => "ping" }
);
word_enum!(
    /// `normal` cluster node or `ping` node.
    NodeType { Normal => "normal", Ping => "ping" }
);
word_enum!(
    /// A heartbeat link's status (a link never heard is `dead`).
    LinkStatus { Up => "up", Dead => "dead" }
);
word_enum!(
    /// `cl_status rscstatus` (§4.13).
    RscHold { None => "none", Local => "local", Foreign => "foreign", All => "all", Transition => "transition" }
);
word_enum!(
    /// `cl_status clientstatus`.
    ClientStatus { Online => "online", Offline => "offline", Join => "join", Leave => "leave" }
);

/// One heartbeat link of a node (ping nodes have one link named after themselves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub name: String,
    pub status: LinkStatus,
}

/// One configured node, in configuration order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub kind: NodeType,
    pub status: NodeStatus,
    pub weight: u32,
    pub site: String,
    pub links: Vec<LinkView>,
}

/// The last change of a resource group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Why, in words (e.g. `node2 dead`, `hb_standby`, `auto_failback`).
    pub cause: String,
    /// When, seconds since the Unix epoch (wall clock of the daemon).
    pub at_unix: u64,
}

/// One haresources group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// The preferred node (first word of the haresources line).
    pub owner: String,
    /// The resources, as written after the node name.
    pub resources: String,
    /// Who holds it now, if anyone.
    pub holder: Option<String>,
    /// `running`, `starting`, `stopping`, `stopped`, `failed`.
    pub state: String,
    pub last: Option<Transition>,
}

/// heartbeat 3.0.6's `hbversion` parameter and API version string: the release, then the
/// Mercurial changeset it was built from (fixtures: `cl_status hbparameter -p hbversion`).
pub const HBVERSION: &str = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)";

/// How a finished fencing attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceResult {
    /// `true`: the node was reset.
    pub ok: bool,
    /// Seconds since the Unix epoch (daemon wall clock).
    pub at_unix: u64,
}

word_enum!(
    /// What the daemon's fencing edge is doing against a node right now.
    DeviceRun { Idle => "idle", Running => "running", WaitingForOperator => "operator" }
);

/// Where the cluster core stands on fencing a node (it decides; the edge runs the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceWant {
    /// Nothing wanted: the last fence succeeded, or it was called off (the node came back or
    /// restarted, or this node is isolated).
    Settled,
    /// An attempt is under way; the core waits for its result.
    Attempt,
    /// Waiting out the fence race delay; no attempt has started yet.
    RaceDelay { first_attempt_unix: u64 },
    /// The last attempt failed; the next one starts then (every 5 s, forever).
    Retry { next_attempt_unix: u64 },
}

impl FenceWant {
    /// A fence is wanted and has not succeeded yet.
    pub fn in_progress(self) -> bool {
        self != FenceWant::Settled
    }

    /// When the next attempt starts, if one is scheduled.
    pub fn next_attempt_unix(self) -> Option<u64> {
        match self {
            FenceWant::RaceDelay {
                first_attempt_unix: t,
            }
            | FenceWant::Retry {
                next_attempt_unix: t,
            } => Some(t),
            FenceWant::Settled | FenceWant::Attempt => None,
        }
    }
}

/// Fencing of one node: every node the core decided to fence since the daemon started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceView {
    pub node: String,
    /// The device id (`external/ipmi`, `fence_virsh`, `Meatware STONITH device`); `None`
    /// while no attempt was ever started (the first one waits out the race delay).
    pub device: Option<String>,
    /// The edge: is the device running against the node now?
    pub device_run: DeviceRun,
    /// The core: is a fence still wanted, and when is the next attempt?
    pub want: FenceWant,
    /// Attempts started since the node was last declared dead.
    pub attempts: u32,
    /// The last finished attempt, if any.
    pub last: Option<FenceResult>,
}

/// A pending built-in ipfail hand-over (a standby of `hold`, due at `at_unix`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpfailGiveup {
    pub hold: RscHold,
    pub at_unix: u64,
}

/// Built-in ipfail, when it is on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpfailView {
    /// The peer's ping node count as it last reported it.
    pub peer_ping_visible: Option<u64>,
    pub giveup: Option<IpfailGiveup>,
}

/// Isolation (tie-breaker with ping nodes, majority with 3+ nodes) and built-in ipfail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardView {
    /// This node sees itself cut off: it holds nothing and takes nothing over.
    pub isolated: bool,
    /// Ping nodes this node sees, of `ping_total` configured.
    pub ping_visible: u64,
    pub ping_total: u64,
    /// `None`: built-in ipfail is off.
    pub ipfail: Option<IpfailView>,
}

impl GuardView {
    /// Nothing to tell beyond heartbeat's own output: no ping nodes, not isolated, no ipfail.
    pub fn is_quiet(&self) -> bool {
        !self.isolated && self.ping_total == 0 && self.ipfail.is_none()
    }
}

/// Everything the tools can ask about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `3.0.6 (node: …)` as `hbparameter -p hbversion` prints it.
    pub version: String,
    pub local_node: String,
    /// `haresources` in v1.
    pub managed_by: String,
    pub rsc: RscHold,
    pub nodes: Vec<NodeView>,
    /// The recorded parameter table, raw values (§1.2).
    pub parameters: Vec<(String, String)>,
    /// Local API clients and their status.
    pub clients: Vec<(String, ClientStatus)>,
    pub groups: Vec<GroupView>,
    /// Fencing requests of this daemon's lifetime (empty when none was ever needed).
    pub fencing: Vec<FenceView>,
    pub guard: GuardView,
    /// When the snapshot was taken, seconds since the Unix epoch.
    pub taken_unix: u64,
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for RscHold {
    fn default() -> Self {
        RscHold::None
    }
}

impl Snapshot {
    /// A node by name; node names compare case-insensitively as in heartbeat.
    pub fn node(&self, name: &str) -> Option<&NodeView> {
        self.nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
    }
}
