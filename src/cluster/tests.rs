//! Unit tests of single spec rules against one `Cluster`, driven by hand-made packets.

use super::codec::{decode, encode};
use super::msg::{Msg, NodeStatus, Packet};
use super::*;
use crate::config::{
    AuthKey, AuthKeys, AutoFailback, KeyIndex, NodeName, Resource, ResourceGroup, Secret, Timing,
};
use crate::time::Duration;

fn n(s: &str) -> NodeName {
    NodeName::new(s)
}

fn keys() -> AuthKeys {
    AuthKeys::single(
        KeyIndex::new(1).unwrap_or_else(|| unreachable!()),
        AuthKey::Sha1(Secret::new("t")),
    )
}

fn cfg() -> ClusterConfig {
    ClusterConfig {
        nodes: vec![n("node1"), n("node2")],
        ping_nodes: vec![],
        media: vec!["eth0".into()],
        timing: Timing {
            keepalive: Duration::from_secs(1),
            deadtime: Duration::from_secs(10),
            warntime: Duration::from_secs(5),
            initdead: Duration::from_secs(20),
            deadping: Duration::from_secs(10),
        },
        auto_failback: AutoFailback::On,
        groups: vec![ResourceGroup {
            node: n("node1"),
            resources: vec![Resource {
                token: "10.0.0.1".into(),
                script: "IPaddr".into(),
                args: vec!["10.0.0.1".into()],
            }],
        }],
        stonith: false,
        stonith_device: String::new(),
        auth: keys(),
        max_rexmit_delay: Duration::from_millis(250),
        hopfudge: 1,
        log_badpack: true,
    }
}

fn at(s: u64) -> Instant {
    Instant::from_micros(s * 1_000_000)
}

fn node1() -> Cluster {
    let boot = Boot {
        generation: 7,
        seed: 1,
        wall_secs: 1000,
        pid: 42,
        uuid: [1; 16],
    };
    Cluster::new(cfg(), n("node1"), boot, at(0)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn drain(c: &mut Cluster) -> Vec<Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

fn sent(actions: &[Action]) -> Vec<Packet> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => decode(bytes, &keys()).ok(),
            _ => None,
        })
        .collect()
}

fn from_node2(seq: Option<u64>, generation: u64, dest: Option<&str>, msg: Msg) -> Vec<u8> {
    let p = Packet {
        src: n("node2"),
        dest: dest.map(n),
        seq,
        generation,
        ts: 1,
        ttl: 3,
        msg,
    };
    encode(&p, &[2; 16], &keys())
}

fn status(seq: u64, generation: u64) -> Vec<u8> {
    from_node2(
        Some(seq),
        generation,
        None,
        Msg::Status {
            st: NodeStatus::Up,
            dt_ms: Some(10_000),
            protocol: true,
        },
    )
}

#[test]
fn startup_advertises_up_with_bumped_dead_time() {
    // behaviour §4.5 step 1 / wire §9.1: first status is `up`, dt = deadtime + 2 s
    let mut c = node1();
    let out = sent(&drain(&mut c));
    let st = out.iter().find(|p| matches!(p.msg, Msg::Status { .. }));
    assert!(matches!(
        st.map(|p| &p.msg),
        Some(Msg::Status {
            st: NodeStatus::Up,
            dt_ms: Some(12_000),
            protocol: true
        })
    ));
    assert_eq!(
        st.and_then(|p| p.seq),
        Some(1),
        "first sequence number is 1 (wire §8.1)"
    );
    assert_eq!(st.map(|p| p.generation), Some(7));
}

#[test]
fn repnodes_lists_every_normal_node_to_the_requester() {
    // behaviour §4.5 step 3 / wire §7.5
    let mut c = node1();
    drain(&mut c);
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(1, 3),
        },
    );
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: from_node2(Some(2), 3, Some("node1"), Msg::ReqNodes),
        },
    );
    let out = sent(&drain(&mut c));
    let rep = out.iter().find(|p| matches!(p.msg, Msg::RepNodes { .. }));
    assert_eq!(rep.and_then(|p| p.dest.clone()), Some(n("node2")));
    assert!(
        matches!(rep.map(|p| &p.msg), Some(Msg::RepNodes { nodes }) if *nodes == vec![n("node1"), n("node2")])
    );
}

#[test]
fn old_generations_replays_own_and_unknown_packets_are_counted_and_ignored() {
    // wire §6 steps 3 and 6, §8.4
    let mut c = node1();
    drain(&mut c);
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(5, 3),
        },
    );
    let before = c.status();
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(6, 2),
        },
    );
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(5, 3),
        },
    );
    let own = encode(
        &Packet {
            src: n("node1"),
            dest: None,
            seq: Some(99),
            generation: 7,
            ts: 1,
            ttl: 3,
            msg: Msg::Starting,
        },
        &[1; 16],
        &keys(),
    );
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: own,
        },
    );
    let stranger = encode(
        &Packet {
            src: n("nodex"),
            dest: None,
            seq: Some(1),
            generation: 1,
            ts: 1,
            ttl: 3,
            msg: Msg::Starting,
        },
        &[1; 16],
        &keys(),
    );
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: stranger,
        },
    );
    let d = c.drops();
    assert_eq!(d[DropReason::OldGeneration.index()], 1);
    assert_eq!(d[DropReason::Replayed.index()], 1);
    assert_eq!(d[DropReason::FromSelf.index()], 1);
    assert_eq!(d[DropReason::UnknownNode.index()], 1);
    let mut after = c.status();
    after.drops = before.drops;
    assert_eq!(after, before, "none of them changed anything");
}

#[test]
fn a_gap_asks_for_retransmission_and_a_higher_generation_is_a_restart() {
    // wire §8.2 and §6 step 6
    let mut c = node1();
    drain(&mut c);
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(1, 3),
        },
    );
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: status(4, 3),
        },
    );
    let acts = drain(&mut c);
    assert!(acts.contains(&Action::Notice(Notice::LostPackets(2, n("node2"), 1, 4))));
    let mut asks: Vec<Packet> = Vec::new();
    while asks.is_empty() {
        let t = c.poll_timeout().unwrap_or(at(99));
        assert!(
            t <= at(1) + Duration::from_millis(250),
            "rexmit within max_rexmit_delay"
        );
        c.handle_timeout(t);
        asks = sent(&drain(&mut c))
            .into_iter()
            .filter(|p| matches!(p.msg, Msg::Rexmit { .. }))
            .collect();
    }
    assert!(!asks.is_empty());
    assert!(
        asks.iter()
            .all(|p| p.seq.is_none() && p.dest == Some(n("node2")))
    );
    c.handle(
        at(2),
        Input::Datagram {
            medium: 0,
            bytes: status(1, 4),
        },
    );
    let acts = drain(&mut c);
    assert!(acts.contains(&Action::Notice(Notice::HeartbeatRestart(n("node2")))));
}

#[test]
fn a_silent_peer_is_dead_after_initdead_and_its_groups_are_taken_over() {
    // behaviour §4.5 step 2, §4.7
    let mut c = node1();
    drain(&mut c);
    let mut now = at(0);
    let mut all = Vec::new();
    while now < at(21) {
        now = c.poll_timeout().unwrap_or(at(21)).min(at(21));
        c.handle_timeout(now);
        all.extend(drain(&mut c));
    }
    assert!(all.contains(&Action::Notice(Notice::NodeDead(n("node2")))));
    assert!(all.contains(&Action::Notice(Notice::NoStonith)));
    assert!(
        all.iter()
            .any(|a| matches!(a, Action::Run(j) if j.op == JobOp::Status && j.group == 0))
    );
    let dead_at = all
        .iter()
        .position(|a| *a == Action::Notice(Notice::NodeDead(n("node2"))));
    assert!(dead_at.is_some());
    assert_eq!(c.status().nodes[1].status, NodeStatus::Dead);
}

#[test]
fn ping_nodes_live_on_replies_and_die_after_deadping_without_moving_resources() {
    // behaviour §5.1
    let mut cfg = cfg();
    cfg.ping_nodes = vec![crate::config::PingNode {
        name: "10.0.0.254".into(),
        hosts: vec!["10.0.0.254".into()],
        is_group: false,
    }];
    let boot = Boot {
        generation: 7,
        seed: 1,
        wall_secs: 1000,
        pid: 42,
        uuid: [1; 16],
    };
    let mut c = Cluster::new(cfg, n("node1"), boot, at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    let first = drain(&mut c);
    assert!(first.contains(&Action::Ping {
        host: "10.0.0.254".into()
    }));
    c.handle(
        at(0),
        Input::PingReply {
            host: "10.0.0.254".into(),
        },
    );
    let acts = drain(&mut c);
    assert!(acts.contains(&Action::Notice(Notice::StatusUpdate(
        n("10.0.0.254"),
        NodeStatus::Ping
    ))));
    assert!(acts.contains(&Action::Notice(Notice::LinkUp(
        n("10.0.0.254"),
        "10.0.0.254".into()
    ))));
    // node2 never answers: comm-up at initdead, then the ping node goes silent.
    let mut all = Vec::new();
    let mut now = at(0);
    while now < at(45) {
        now = c.poll_timeout().unwrap_or(at(45)).min(at(45));
        c.handle_timeout(now);
        if now < at(25) {
            c.handle(
                now,
                Input::PingReply {
                    host: "10.0.0.254".into(),
                },
            );
        }
        all.extend(drain(&mut c));
    }
    let dead = all
        .iter()
        .filter(|a| **a == Action::Notice(Notice::NodeDead(n("10.0.0.254"))))
        .count();
    assert_eq!(dead, 1, "dead after deadping");
    let takeovers = all
        .iter()
        .filter(|a| matches!(a, Action::Notice(Notice::ResourcesBeingAcquired(x)) if *x == n("10.0.0.254")))
        .count();
    assert_eq!(takeovers, 0, "a ping node never holds resources");
}

#[test]
fn a_peer_with_another_key_is_refused_and_logged_at_most_every_ten_seconds() {
    // wire spec §4.3: heartbeat logs "authtoken does not match" per packet; we rate-limit.
    let mut c = node1();
    drain(&mut c);
    let wrong = AuthKeys::single(
        KeyIndex::new(1).unwrap_or_else(|| unreachable!()),
        AuthKey::Sha1(Secret::new("another")),
    );
    let p = Packet {
        src: n("node2"),
        dest: None,
        seq: Some(1),
        generation: 3,
        ts: 1,
        ttl: 3,
        msg: Msg::Status {
            st: NodeStatus::Up,
            dt_ms: None,
            protocol: true,
        },
    };
    let logged = |c: &mut Cluster, t: u64| {
        let bytes = encode(&p, &[2; 16], &wrong);
        c.handle(at(t), Input::Datagram { medium: 0, bytes });
        drain(c)
            .into_iter()
            .filter_map(|a| match a {
                Action::Notice(Notice::AuthFailed(f)) => Some(f),
                _ => None,
            })
            .count()
    };
    assert_eq!(logged(&mut c, 1), 1);
    assert_eq!(logged(&mut c, 5), 0, "within 10 s of the last line");
    assert_eq!(logged(&mut c, 11), 1);
    let v = c.status();
    assert_eq!(v.drops[DropReason::BadAuth.index()], 3);
    assert!(
        v.nodes
            .iter()
            .all(|n| n.name != self::n("node2") || !matches!(n.status, NodeStatus::Up))
    );
    let text = Notice::AuthFailed(codec::AuthFailure::Mismatch {
        digest: "7ab0a306".into(),
    });
    assert_eq!(
        text.to_string(),
        "authtoken does not match, authtoken=7ab0a306"
    );
    assert_eq!(text.priority(), Priority::Err);
}
