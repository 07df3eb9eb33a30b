//! rc.d notifications (behaviour spec §4.4): a received message whose type has a script of
//! the same name in `/etc/ha.d/rc.d` is queued, and the edge runs `harc TYPE` for the head
//! of the queue once no resource operation is running or waiting, one at a time.
//!
//! heartbeat routes `status`, `ip-request`, `ip-request-resp` and `hb_takeover` through
//! the shipped rc.d scripts; the core does that work natively (takeover after fencing,
//! legacy hand-over, `hb_takeover`), so those four are never run here: the shipped scripts
//! would do it a second time. Everything heartbeat itself has no built-in handler for is
//! routed as in heartbeat: `ifstat` (our link changes), ipfail's messages (`num_ping_nodes`,
//! `you_are_dead`, `abort_giveup`: the built-in ipfail is a client in heartbeat, so an rc.d
//! script of that name runs there too), and any other type, e.g. a client's own messages.
//! (heartbeat would also notify its own broadcasts of such types; the core sends none: its
//! ipfail messages are addressed to the peer.)

use std::collections::{BTreeSet, VecDeque};

use super::notice::Notice;
use super::{Action, Cluster, JobId};
use crate::config::NodeName;

/// Types the core handles itself in place of heartbeat's shipped rc.d scripts.
pub const NATIVE: [&str; 4] = ["status", "ip-request", "ip-request-resp", "hb_takeover"];

/// Types heartbeat handles in the MCP itself (never passed to rc.d there either), besides
/// every `NS_*` type.
const BUILT_IN: [&str; 14] = [
    "starting",
    "resource",
    "ask_resources",
    "shutdone",
    "stonith",
    "reqnodes",
    "repnodes",
    "hbapi-clstat",
    "query-cstatus",
    "respond-cstatus",
    "addnode",
    "delnode",
    "setweight",
    "setsite",
];

/// Queued notifications beyond this are dropped (a peer cannot grow our memory by sending
/// message types faster than scripts run).
pub const MAX_QUEUED: usize = 256;

/// Notification job ids live above the resource jobs' (which count up from 1).
const ID_BASE: u64 = 1 << 62;

/// One `harc TYPE` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: JobId,
    /// The message type, lower-cased: `harc`'s argument and the rc.d script's name.
    pub kind: String,
    /// `HA_<field>` for every string field of the message, then `HA_OSTATUS`. The edge
    /// adds the environment every script gets (`HA_CURHOST`, `HA_DIR`, ...).
    pub env: Vec<(String, String)>,
}

/// True if a message of type `t` goes to rc.d when a script of that name exists.
pub fn routed(t: &str) -> bool {
    !t.starts_with("NS_") && !NATIVE.contains(&t) && !BUILT_IN.contains(&t)
}

#[derive(Debug, Default)]
pub(super) struct RcD {
    /// The rc.d directory's entries, as the edge listed them at start.
    scripts: BTreeSet<String>,
    queue: VecDeque<Notification>,
    running: Option<JobId>,
    next: u64,
}

impl RcD {
    fn wants(&self, t: &str) -> bool {
        routed(t) && self.scripts.contains(t)
    }
}

impl Cluster {
    /// The names in the rc.d directory (heartbeat lists it once; names starting with `.`
    /// are ignored). Logs which of them the core replaces, so an operator who changed one
    /// learns that it is not run.
    pub fn set_rc_scripts<I: IntoIterator<Item = String>>(&mut self, names: I) {
        self.rcd.scripts = names.into_iter().filter(|n| !n.starts_with('.')).collect();
        let native: Vec<&str> = NATIVE
            .iter()
            .copied()
            .filter(|t| self.rcd.scripts.contains(*t))
            .collect();
        if !native.is_empty() {
            let list = native.join(" ");
            self.notice(Notice::RcNative(list));
        }
    }

    /// Whether a message of type `t` would be queued (so the caller gathers its fields
    /// only then).
    pub(super) fn rc_wants(&self, t: &str) -> bool {
        self.rcd.wants(t)
    }

    /// Queues the notification for a message with these string fields (`t` first).
    pub(super) fn rc_queue(&mut self, t: &str, fields: Vec<(String, String)>) {
        if !self.rcd.wants(t) {
            return;
        }
        if self.rcd.queue.len() >= MAX_QUEUED {
            self.notice(Notice::RcQueueFull(t.to_string()));
            return;
        }
        let mut env: Vec<(String, String)> = fields
            .into_iter()
            .filter(|(k, v)| {
                !k.is_empty() && !k.contains('=') && !k.contains('\0') && !v.contains('\0')
            })
            .map(|(k, v)| (format!("HA_{k}"), v))
            .collect();
        env.push(("HA_OSTATUS".into(), self.mem.status.name().into()));
        let id = JobId(ID_BASE + self.rcd.next);
        self.rcd.next += 1;
        self.rcd.queue.push_back(Notification {
            id,
            kind: t.to_ascii_lowercase(),
            env,
        });
    }

    /// heartbeat's internal `ifstat` message for a link that changed state.
    pub(super) fn rc_link(&mut self, node: &NodeName, link: &str, up: bool) {
        if !self.rcd.wants("ifstat") {
            return;
        }
        let st = if up { "up" } else { "dead" };
        let fields = [
            ("t", "ifstat"),
            ("node", node.as_str()),
            ("ifname", link),
            ("st", st),
        ];
        let fields = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.rc_queue("ifstat", fields);
    }

    /// Starts the head of the queue when nothing else runs (`rm_children == 0`).
    pub(super) fn rc_pump(&mut self) {
        if self.rcd.running.is_some() || !self.rm.groups.idle() || self.rm.groups.reboot_requested {
            return;
        }
        if let Some(n) = self.rcd.queue.pop_front() {
            self.rcd.running = Some(n.id);
            self.actions.push_back(Action::Notify(n));
        }
    }

    /// A finished job that was a notification (its exit status does not matter: `harc`
    /// has logged what went wrong).
    pub(super) fn rc_finished(&mut self, job: JobId) -> bool {
        if self.rcd.running == Some(job) {
            self.rcd.running = None;
            true
        } else {
            job.0 >= ID_BASE
        }
    }

    /// Notifications waiting or running (tests, status).
    pub fn rc_pending(&self) -> usize {
        self.rcd.queue.len() + usize::from(self.rcd.running.is_some())
    }
}
