//! What the control socket shows and how a `--wait` request learns its outcome.
//!
//! Pure translations, no decision: the core's [`StatusView`] plus the edge's own facts
//! (configuration, wall clock, transition times, fencing attempts) become an
//! [`api::Snapshot`]; the core's notices become the outcome of a waiting `hb_standby --wait`
//! / `hb_takeover --wait` (the core already decided; this only reads what it said).

use crate::api::{
    self, ClientStatus, DeviceRun, FenceResult, FenceView, FenceWant, GroupView, LinkStatus,
    LinkView, NodeType, Outcome, RscHold, Snapshot, Transition,
};
use crate::cluster::{
    self, GroupState, GuardView, Hold, LinkState, NodeStatus, Notice, StatusView,
};
use crate::config::{Config, NodeName};
use crate::time::Instant;

/// `cl_status rscstatus`: the core's `None` means "in transition".
pub fn rsc_hold(h: Option<Hold>) -> RscHold {
    match h {
        None => RscHold::Transition,
        Some(h) if h == Hold::ALL => RscHold::All,
        Some(h) if h == Hold::LOCAL => RscHold::Local,
        Some(h) if h == Hold::FOREIGN => RscHold::Foreign,
        Some(_) => RscHold::None,
    }
}

/// The word of a group's local state in status output.
pub fn group_state(g: &GroupState) -> &'static str {
    match g {
        GroupState::Stopped => "stopped",
        GroupState::Starting { .. } => "starting",
        GroupState::Running => "running",
        GroupState::Stopping { .. } => "stopping",
        GroupState::Failed => "failed",
    }
}

fn node_status(s: NodeStatus) -> api::NodeStatus {
    match s {
        NodeStatus::Init => api::NodeStatus::Init,
        NodeStatus::Up => api::NodeStatus::Up,
        NodeStatus::Active => api::NodeStatus::Active,
        NodeStatus::Dead => api::NodeStatus::Dead,
        NodeStatus::Ping => api::NodeStatus::Ping,
    }
}

/// What the edge knows about fencing one node (its record of `Action::Fence` and the
/// fencer's running attempts); the core's `StatusView::fencing` says what is wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeFence {
    pub node: NodeName,
    /// The device of the running or last attempt.
    pub device: String,
    /// An attempt runs now.
    pub running: bool,
    /// The running attempt waits for `meatclient -c NODE`.
    pub needs_operator: bool,
    /// Attempts the edge started since the last success.
    pub attempts: u32,
    /// The last finished attempt, on the edge's wall clock.
    pub last: Option<FenceResult>,
}

/// What the edge adds to the core's view.
#[derive(Clone, Debug, Default)]
pub struct EdgeFacts {
    /// Wall clock and core clock read together: core `Instant`s are shown as Unix seconds
    /// relative to this pair.
    pub taken_unix: u64,
    pub now: Instant,
    /// What the peer reports holding, in its own terms (`Cluster::peer_holds`).
    pub peer_holds: Hold,
    /// Per haresources group (same index): its last transition as the edge saw it.
    pub transitions: Vec<Option<Transition>>,
    /// Fencing requests (see [`crate::sys::event_loop`]'s tracking of `Action::Fence`).
    pub fencing: Vec<EdgeFence>,
    /// Node names (normal and ping) in the order heartbeat lists them ([`listing_order`]);
    /// nodes not named here follow in the core's order.
    pub node_order: Vec<String>,
}

/// The order heartbeat's `cl_status listnodes` prints: the reverse of the `node` and
/// `ping`/`ping_group` declarations in ha.cf (fixture cl_status/node1-active: `ping
/// 192.0.2.254`, `node node1`, `node node2` list as node2, node1, 192.0.2.254).
pub fn listing_order(ha_cf: &crate::config::ha_cf::HaCf) -> Vec<String> {
    let mut decl: Vec<(usize, String)> = ha_cf
        .nodes
        .iter()
        .map(|n| (n.pos.line, n.value.to_string()))
        .chain(
            ha_cf
                .ping_nodes
                .iter()
                .map(|p| (p.pos.line, p.value.name.clone())),
        )
        .collect();
    // Stable: several names on one line keep their order before the whole is reversed.
    decl.sort_by_key(|(line, _)| *line);
    decl.into_iter().rev().map(|(_, n)| n).collect()
}

/// A core `Instant` as Unix seconds, given one moment on both clocks (rounded to the
/// nearest second; saturating at the epoch).
pub fn unix_secs(t: Instant, now: Instant, now_unix: u64) -> u64 {
    let secs = |us: u64| us.saturating_add(500_000) / 1_000_000;
    if t >= now {
        now_unix.saturating_add(secs((t - now).as_micros()))
    } else {
        now_unix.saturating_sub(secs((now - t).as_micros()))
    }
}

/// The core's fencing entries with the edge's facts beside them, in node order. The core's
/// word counts (what is wanted, attempts, last result); the edge adds the device and
/// whether it runs. A node only one side knows still appears: the core's during the race
/// delay (no attempt started yet), the edge's only if the core has forgotten it.
fn fencing_views(
    core: &[cluster::FenceView],
    edge: &[EdgeFence],
    now: Instant,
    now_unix: u64,
) -> Vec<FenceView> {
    let unix = |t: Instant| unix_secs(t, now, now_unix);
    let mut nodes: Vec<&NodeName> = core.iter().map(|c| &c.node).collect();
    nodes.extend(edge.iter().map(|e| &e.node));
    nodes.sort();
    nodes.dedup();
    nodes
        .into_iter()
        .filter_map(|node| {
            let c = core.iter().find(|c| c.node == *node);
            let e = edge.iter().find(|e| e.node == *node);
            let device_run = match e {
                Some(e) if e.running && e.needs_operator => DeviceRun::WaitingForOperator,
                Some(e) if e.running => DeviceRun::Running,
                _ => DeviceRun::Idle,
            };
            let (want, attempts, last) = match (c, e) {
                (Some(c), _) => {
                    let want = match (c.in_progress, c.next_attempt) {
                        (false, _) => FenceWant::Settled,
                        (true, None) => FenceWant::Attempt,
                        // The core counts an attempt when it starts: none yet means the
                        // first one waits out the race delay.
                        (true, Some(t)) if c.attempts == 0 => FenceWant::RaceDelay {
                            first_attempt_unix: unix(t),
                        },
                        (true, Some(t)) => FenceWant::Retry {
                            next_attempt_unix: unix(t),
                        },
                    };
                    let last = c.last_result.map(|(ok, at)| FenceResult {
                        ok,
                        at_unix: unix(at),
                    });
                    (want, c.attempts, last)
                }
                (None, None) => return None,
                (None, Some(e)) => {
                    let want = if e.running {
                        FenceWant::Attempt
                    } else {
                        FenceWant::Settled
                    };
                    (want, e.attempts, e.last.clone())
                }
            };
            Some(FenceView {
                node: node.to_string(),
                device: e.map(|e| e.device.clone()),
                device_run,
                want,
                attempts,
                last,
            })
        })
        .collect()
}

fn guard_view(g: &GuardView, now: Instant, now_unix: u64) -> api::GuardView {
    api::GuardView {
        isolated: g.isolated,
        ping_visible: g.ping_visible,
        ping_total: g.ping_total,
        ipfail: g.ipfail.then(|| api::IpfailView {
            peer_ping_visible: g.peer_ping_visible,
            giveup: g.ipfail_giveup.map(|(hold, at)| api::IpfailGiveup {
                hold: rsc_hold(Some(hold)),
                at_unix: unix_secs(at, now, now_unix),
            }),
        }),
    }
}

/// The snapshot the tools see. `hbversion` reads heartbeat's full version string, as the
/// fixtures show (`3.0.6 (node: …)`), whatever the configuration layer recorded.
pub fn snapshot(st: &StatusView, cfg: &Config, facts: EdgeFacts) -> Snapshot {
    let me = st.me.as_str();
    let rank = |name: &str| {
        facts
            .node_order
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .unwrap_or(usize::MAX)
    };
    let mut ordered: Vec<&crate::cluster::NodeView> = st.nodes.iter().collect();
    ordered.sort_by_key(|n| rank(n.name.as_str()));
    let nodes = ordered
        .into_iter()
        .map(|n| api::NodeView {
            name: n.name.to_string(),
            kind: if n.is_ping {
                NodeType::Ping
            } else {
                NodeType::Normal
            },
            status: node_status(n.status),
            weight: 100,
            site: String::new(),
            links: n
                .links
                .iter()
                .map(|(name, state)| LinkView {
                    name: name.clone(),
                    status: match state {
                        LinkState::Up => LinkStatus::Up,
                        // A link never heard is dead to API clients.
                        LinkState::Init | LinkState::Dead => LinkStatus::Dead,
                    },
                })
                .collect(),
        })
        .collect();
    // The peer of a two-node v1 cluster; with more normal nodes the holder of a group that
    // is not ours is not known.
    let peers: Vec<&NodeName> = cfg.nodes.iter().filter(|n| n.as_str() != me).collect();
    let peer = match peers.as_slice() {
        [p] => Some(*p),
        _ => None,
    };
    let groups = cfg
        .groups
        .iter()
        .zip(&st.groups)
        .enumerate()
        .map(|(i, (g, state))| {
            let peer_has = peer.is_some_and(|p| {
                let theirs = if g.node == *p {
                    Hold::LOCAL
                } else {
                    Hold::FOREIGN
                };
                facts.peer_holds.contains(theirs)
            });
            let holder = if state.is_active() {
                Some(me.to_string())
            } else if peer_has {
                peer.map(|p| p.to_string())
            } else {
                None
            };
            GroupView {
                owner: g.node.to_string(),
                resources: g
                    .resources
                    .iter()
                    .map(|r| r.token.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                holder,
                state: group_state(state).to_string(),
                last: facts.transitions.get(i).cloned().flatten(),
            }
        })
        .collect();
    let parameters = cfg
        .parameters
        .iter()
        .map(|(k, v)| {
            let v = if k == "hbversion" { api::HBVERSION } else { v };
            (k.clone(), v.to_string())
        })
        .collect();
    Snapshot {
        version: api::HBVERSION.to_string(),
        local_node: me.to_string(),
        managed_by: "haresources".to_string(),
        rsc: rsc_hold(st.rsc),
        nodes,
        parameters,
        // heartbeat answers `offline` for the asking cl_status itself (fixture
        // node1-active: `clientstatus node1 cl_status` → offline); no other API clients.
        clients: vec![("cl_status".to_string(), ClientStatus::Offline)],
        groups,
        fencing: fencing_views(&st.fencing, &facts.fencing, facts.now, facts.taken_unix),
        guard: guard_view(&st.guard, facts.now, facts.taken_unix),
        taken_unix: facts.taken_unix,
    }
}

/// Why a group changed, for `last_transition.cause`: the most recent notice that explains
/// resource movement.
pub fn transition_cause(n: &Notice) -> Option<String> {
    Some(match n {
        Notice::NodeDead(p) => format!("{p} dead"),
        Notice::WantsStandby(p, s) => format!("{p} standby [{s}]"),
        Notice::ShutdownInProgress(_) => "shutdown".to_string(),
        Notice::ReceivedShutdownNotice(p) => format!("{p} shut down"),
        Notice::CommUp => "start".to_string(),
        Notice::GivingUpDueToFailure(r) => format!("{r} failed"),
        Notice::SplitBrainKeep(..) => "split brain healed".to_string(),
        Notice::NodeReset(p) => format!("{p} fenced"),
        _ => return None,
    })
}

/// Which administrative request a tool waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitKind {
    /// `hb_standby --wait`: we are the requester (R, §4.9).
    Standby,
    /// `hb_takeover --wait`: the peer becomes the requester, we acquire (§4.10).
    Takeover,
}

/// What a notice means for a waiting request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    /// The standby protocol started (the core accepted the request).
    Started,
    Finished(Outcome, String),
}

/// Reads the core's standby notices (§4.9 / §4.10) for a waiting tool. `me` is the local
/// node: R for a standby, A for a takeover.
pub fn wait_event(kind: WaitKind, me: &NodeName, n: &Notice) -> Option<WaitEvent> {
    let declined = |why: String| Some(WaitEvent::Finished(Outcome::Declined, why));
    // For a standby the requester is us; for a takeover it is the peer.
    let ours = |r: &NodeName| (r == me) == (kind == WaitKind::Standby);
    match n {
        Notice::StandbyLegacy => {
            declined("standby works only with nice_failback (auto_failback on or off)".to_string())
        }
        Notice::StandbyNoReply => {
            declined("no reply to the standby request; it was cancelled".to_string())
        }
        Notice::StandbyFluxOther(r) if ours(r) => declined(format!("{n}")),
        Notice::StandbyFluxLocal(r) if ours(r) => declined(format!("{n}")),
        Notice::StandbyInProgress(r, _) if ours(r) => declined(format!("{n}")),
        Notice::StandbyIgnored(_, r, _) if ours(r) => declined(format!("{n}")),
        Notice::WantsStandby(r, _) if ours(r) => Some(WaitEvent::Started),
        Notice::OtherCompletedStandby(s) if kind == WaitKind::Standby => Some(WaitEvent::Finished(
            Outcome::Done,
            format!("the other node took over {s} resources"),
        )),
        Notice::StandbyAcquisitionDone(s) if kind == WaitKind::Takeover => Some(
            WaitEvent::Finished(Outcome::Done, format!("{s} resources acquired")),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nn(s: &str) -> NodeName {
        NodeName::new(s)
    }

    fn secs(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }

    /// The core's status of node1 in a two-node cluster with one ping node and ipfail.
    fn two_nodes() -> (StatusView, Config) {
        use crate::config::resolve::{CheckOptions, StaticHost, from_texts};
        let loaded = from_texts(
            std::path::Path::new("/etc/ha.d"),
            "node node1 node2\nbcast eth0\nping 192.0.2.254\nauto_failback on\n",
            "node1 192.0.2.100\n",
            "auth 1\n1 crc\n",
            &StaticHost::named("node1"),
            &CheckOptions::default(),
        )
        .expect("the test configuration is valid");
        let st = StatusView {
            me: nn("node1"),
            comm_up: true,
            nodes: Vec::new(),
            rsc: Some(Hold::NONE),
            groups: vec![GroupState::Stopped],
            drops: [0; 9],
            shutting_down: false,
            fencing: Vec::new(),
            guard: GuardView {
                isolated: false,
                ping_visible: 1,
                ping_total: 1,
                ipfail: false,
                peer_ping_visible: None,
                ipfail_giveup: None,
            },
        };
        (st, loaded.config)
    }

    fn core_fence(node: &str) -> cluster::FenceView {
        cluster::FenceView {
            node: nn(node),
            in_progress: false,
            running: false,
            next_attempt: None,
            attempts: 0,
            last_result: None,
        }
    }

    fn edge_fence(node: &str) -> EdgeFence {
        EdgeFence {
            node: nn(node),
            device: "fence_virsh".to_string(),
            running: false,
            needs_operator: false,
            attempts: 0,
            last: None,
        }
    }

    #[test]
    fn core_instants_become_unix_seconds_around_the_snapshot() {
        let now = secs(100);
        assert_eq!(unix_secs(now, now, 1_700_000_000), 1_700_000_000);
        assert_eq!(unix_secs(secs(105), now, 1_700_000_000), 1_700_000_005);
        assert_eq!(unix_secs(secs(40), now, 1_700_000_000), 1_699_999_940);
        // Rounded to the nearest second, both ways.
        let half = Instant::from_micros(100_600_000);
        assert_eq!(unix_secs(half, now, 1_000), 1_001);
        assert_eq!(unix_secs(secs(99), half, 1_000), 998);
        // Never before the epoch, never wrapping.
        assert_eq!(unix_secs(Instant::ZERO, now, 30), 0);
        assert_eq!(unix_secs(secs(200), now, u64::MAX), u64::MAX);
    }

    #[test]
    fn a_fence_only_the_core_knows_appears_with_its_race_delay() {
        let (mut st, cfg) = two_nodes();
        st.fencing = vec![cluster::FenceView {
            in_progress: true,
            next_attempt: Some(secs(115)),
            ..core_fence("node2")
        }];
        let facts = EdgeFacts {
            taken_unix: 1_700_000_000,
            now: secs(100),
            ..EdgeFacts::default()
        };
        let snap = snapshot(&st, &cfg, facts);
        assert_eq!(
            snap.fencing,
            vec![FenceView {
                node: "node2".to_string(),
                device: None,
                device_run: DeviceRun::Idle,
                want: FenceWant::RaceDelay {
                    first_attempt_unix: 1_700_000_015
                },
                attempts: 0,
                last: None,
            }]
        );
    }

    #[test]
    fn core_and_edge_entries_merge_per_node() {
        let now = secs(100);
        let core = [
            // Failed twice, the third attempt is 3 s away.
            cluster::FenceView {
                in_progress: true,
                next_attempt: Some(secs(103)),
                attempts: 2,
                last_result: Some((false, secs(98))),
                ..core_fence("node2")
            },
            // Running now, the operator must confirm.
            cluster::FenceView {
                in_progress: true,
                running: true,
                attempts: 1,
                ..core_fence("node3")
            },
            // Reset earlier.
            cluster::FenceView {
                attempts: 1,
                last_result: Some((true, secs(50))),
                ..core_fence("node4")
            },
        ];
        let edge = [
            EdgeFence {
                attempts: 2,
                last: Some(FenceResult {
                    ok: false,
                    at_unix: 999,
                }),
                ..edge_fence("node2")
            },
            EdgeFence {
                device: "Meatware STONITH device".to_string(),
                running: true,
                needs_operator: true,
                attempts: 1,
                ..edge_fence("node3")
            },
            edge_fence("node4"),
            // The core forgot it (cannot happen today): the edge's facts alone.
            EdgeFence {
                running: true,
                attempts: 4,
                ..edge_fence("node5")
            },
        ];
        let v = fencing_views(&core, &edge, now, 1_000);
        let got: Vec<_> = v
            .iter()
            .map(|f| {
                (
                    f.node.as_str(),
                    f.device.as_deref(),
                    f.device_run,
                    f.want,
                    f.attempts,
                    f.last.clone(),
                )
            })
            .collect();
        let last = |ok, at_unix| Some(FenceResult { ok, at_unix });
        assert_eq!(
            got,
            vec![
                (
                    "node2",
                    Some("fence_virsh"),
                    DeviceRun::Idle,
                    FenceWant::Retry {
                        next_attempt_unix: 1_003
                    },
                    2,
                    // The core's result, on the snapshot's clock.
                    last(false, 998),
                ),
                (
                    "node3",
                    Some("Meatware STONITH device"),
                    DeviceRun::WaitingForOperator,
                    FenceWant::Attempt,
                    1,
                    None,
                ),
                (
                    "node4",
                    Some("fence_virsh"),
                    DeviceRun::Idle,
                    FenceWant::Settled,
                    1,
                    last(true, 950),
                ),
                (
                    "node5",
                    Some("fence_virsh"),
                    DeviceRun::Running,
                    FenceWant::Attempt,
                    4,
                    None,
                ),
            ]
        );
    }

    #[test]
    fn the_guard_shows_isolation_and_ipfail() {
        let (mut st, cfg) = two_nodes();
        let facts = || EdgeFacts {
            taken_unix: 1_700_000_000,
            now: secs(100),
            ..EdgeFacts::default()
        };
        let quiet = snapshot(&st, &cfg, facts()).guard;
        assert_eq!(
            quiet,
            api::GuardView {
                isolated: false,
                ping_visible: 1,
                ping_total: 1,
                ipfail: None,
            }
        );
        st.guard = GuardView {
            isolated: true,
            ping_visible: 0,
            ping_total: 1,
            ipfail: true,
            peer_ping_visible: Some(1),
            ipfail_giveup: Some((Hold::ALL, secs(102))),
        };
        assert_eq!(
            snapshot(&st, &cfg, facts()).guard,
            api::GuardView {
                isolated: true,
                ping_visible: 0,
                ping_total: 1,
                ipfail: Some(api::IpfailView {
                    peer_ping_visible: Some(1),
                    giveup: Some(api::IpfailGiveup {
                        hold: RscHold::All,
                        at_unix: 1_700_000_002,
                    }),
                }),
            }
        );
        // With ipfail off, its leftovers are not shown.
        st.guard.ipfail = false;
        assert_eq!(snapshot(&st, &cfg, facts()).guard.ipfail, None);
    }

    #[test]
    fn rscstatus_words() {
        assert_eq!(rsc_hold(None), RscHold::Transition);
        assert_eq!(rsc_hold(Some(Hold::ALL)), RscHold::All);
        assert_eq!(rsc_hold(Some(Hold::LOCAL)), RscHold::Local);
        assert_eq!(rsc_hold(Some(Hold::FOREIGN)), RscHold::Foreign);
        assert_eq!(rsc_hold(Some(Hold::NONE)), RscHold::None);
    }

    #[test]
    fn a_standby_completes_when_the_other_node_has_taken_over() {
        let me = nn("node1");
        let k = WaitKind::Standby;
        assert_eq!(
            wait_event(k, &me, &Notice::WantsStandby(nn("node1"), Hold::ALL)),
            Some(WaitEvent::Started)
        );
        assert_eq!(
            wait_event(k, &me, &Notice::WantsStandby(nn("node2"), Hold::ALL)),
            None,
            "the peer's own standby is not ours"
        );
        assert!(matches!(
            wait_event(k, &me, &Notice::OtherCompletedStandby(Hold::ALL)),
            Some(WaitEvent::Finished(Outcome::Done, _))
        ));
        assert_eq!(
            wait_event(k, &me, &Notice::StandbyAcquisitionDone(Hold::ALL)),
            None
        );
        assert!(matches!(
            wait_event(k, &me, &Notice::StandbyNoReply),
            Some(WaitEvent::Finished(Outcome::Declined, _))
        ));
        assert!(matches!(
            wait_event(k, &me, &Notice::StandbyFluxLocal(nn("node1"))),
            Some(WaitEvent::Finished(Outcome::Declined, d)) if d.contains("in flux")
        ));
        assert!(matches!(
            wait_event(k, &me, &Notice::StandbyLegacy),
            Some(WaitEvent::Finished(Outcome::Declined, _))
        ));
    }

    #[test]
    fn a_takeover_completes_when_we_have_acquired() {
        let me = nn("node1");
        let k = WaitKind::Takeover;
        assert_eq!(
            wait_event(k, &me, &Notice::WantsStandby(nn("node2"), Hold::ALL)),
            Some(WaitEvent::Started)
        );
        assert_eq!(
            wait_event(k, &me, &Notice::WantsStandby(nn("node1"), Hold::ALL)),
            None
        );
        assert!(matches!(
            wait_event(k, &me, &Notice::StandbyAcquisitionDone(Hold::FOREIGN)),
            Some(WaitEvent::Finished(Outcome::Done, d)) if d.contains("foreign")
        ));
        assert_eq!(
            wait_event(k, &me, &Notice::OtherCompletedStandby(Hold::ALL)),
            None
        );
        assert!(matches!(
            wait_event(k, &me, &Notice::StandbyFluxOther(nn("node2"))),
            Some(WaitEvent::Finished(Outcome::Declined, _))
        ));
    }

    #[test]
    fn heartbeat_lists_nodes_in_reverse_declaration_order() {
        let text = "bcast eth0\nping 192.0.2.254\nnode node1\nnode node2\n";
        let cf = crate::config::ha_cf::parse(text, std::path::Path::new("/etc/ha.d/ha.cf"));
        assert_eq!(listing_order(&cf), ["node2", "node1", "192.0.2.254"]);
        let text = "node a b\nping gw\n";
        let cf = crate::config::ha_cf::parse(text, std::path::Path::new("/etc/ha.d/ha.cf"));
        assert_eq!(listing_order(&cf), ["gw", "b", "a"]);
    }

    #[test]
    fn causes_of_transitions() {
        assert_eq!(
            transition_cause(&Notice::NodeDead(nn("node2"))).as_deref(),
            Some("node2 dead")
        );
        assert_eq!(transition_cause(&Notice::CommUp).as_deref(), Some("start"));
        assert_eq!(transition_cause(&Notice::LostALot), None);
    }
}
