//! Unit tests of single spec rules against one `Cluster`, driven by hand-made packets.

use super::codec::{decode, encode};
use super::msg::{Msg, NodeStatus, Packet, Phase};
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
        fence_delay: Duration::ZERO,
        ipfail: false,
        log_badpack: true,
    }
}

fn at(s: u64) -> Instant {
    Instant::from_micros(s * 1_000_000)
}

/// node1's boot facts: generation 7, a fixed seed.
fn boot() -> Boot {
    Boot {
        generation: 7,
        seed: 1,
        wall_secs: 1000,
        pid: 42,
        uuid: [1; 16],
        restart: None,
    }
}

fn node1() -> Cluster {
    let boot = boot();
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
    from_node2(Some(seq), generation, None, peer_status(NodeStatus::Up))
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
    cfg.ping_nodes = ping_node();
    let boot = boot();
    let mut c = Cluster::new(cfg, n("node1"), boot, at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    let first = drain(&mut c);
    assert!(first.contains(&Action::Ping {
        host: "10.0.0.254".into()
    }));
    c.handle(at(0), ping_reply());
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
            c.handle(now, ping_reply());
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

fn from2(c: &mut Cluster, t: Instant, seq: u64, dest: Option<&str>, msg: Msg) -> Vec<Action> {
    c.handle(
        t,
        Input::Datagram {
            medium: 0,
            bytes: from_node2(Some(seq), 5, dest, msg),
        },
    );
    drain(c)
}

/// Runs the scripts node1 asks for: nothing is running before, every start works.
fn run_jobs(c: &mut Cluster, t: Instant, mut acts: Vec<Action>) -> Vec<Action> {
    let mut all = Vec::new();
    while !acts.is_empty() {
        let mut next = Vec::new();
        for a in acts {
            if let Action::Run(j) = &a {
                c.handle(
                    t,
                    Input::JobFinished {
                        job: j.id,
                        ok: j.op != JobOp::Status,
                    },
                );
                next.extend(drain(c));
            }
            all.push(a);
        }
        acts = next;
    }
    all
}

/// node1 and node2 (generation 5, seqs 1–4 used) both comm-up and stable; node1 runs
/// its group.
fn stable_pair() -> Cluster {
    stable_pair_with(cfg())
}

/// The one ping node of the ping tests, 10.0.0.254.
fn ping_node() -> Vec<crate::config::PingNode> {
    vec![crate::config::PingNode {
        name: "10.0.0.254".into(),
        hosts: vec!["10.0.0.254".into()],
        is_group: false,
    }]
}

/// An echo reply from [`ping_node`].
fn ping_reply() -> Input {
    Input::PingReply {
        host: "10.0.0.254".into(),
    }
}

fn stable_pair_with(cfg: ClusterConfig) -> Cluster {
    let boot = boot();
    let hosts: Vec<String> = cfg
        .ping_nodes
        .iter()
        .flat_map(|p| p.hosts.clone())
        .collect();
    let mut c = Cluster::new(cfg, n("node1"), boot, at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    for host in hosts {
        c.handle(at(1), Input::PingReply { host });
    }
    drain(&mut c);
    let st = peer_status(NodeStatus::Active);
    from2(&mut c, at(1), 1, None, st);
    let nodes = vec![n("node1"), n("node2")];
    from2(&mut c, at(1), 2, Some("node1"), Msg::RepNodes { nodes });
    assert!(c.status().comm_up);
    from2(&mut c, at(1), 3, None, Msg::Starting);
    let report = Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(true),
        info: None,
    };
    let acts = from2(&mut c, at(1), 4, None, report);
    run_jobs(&mut c, at(2), acts);
    assert_eq!(c.status().groups[0], GroupState::Running, "node1's group");
    assert_eq!(c.status().rsc, Some(Hold::LOCAL));
    c
}

#[test]
fn a_late_stable_report_counts_even_after_a_newer_partial_one() {
    // Seed 13547: node2's `isstable=1` report was lost, its `mach_down` partial report
    // (no isstable) arrived first, and the retransmitted report was then dropped as
    // overtaken, so node2 stayed "in flux" here for ever.
    let mut c = stable_pair();
    let flux = Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(false),
        info: None,
    };
    from2(&mut c, at(3), 5, None, flux);
    let partial = Msg::Resource {
        hold: Hold::FOREIGN,
        full: false,
        stable: None,
        info: Some("mach_down".into()),
    };
    from2(&mut c, at(3), 7, None, partial);
    let late = Msg::Resource {
        hold: Hold::LOCAL,
        full: true,
        stable: Some(true),
        info: None,
    };
    from2(&mut c, at(3), 6, None, late);
    c.handle(at(4), Input::Command(Command::Standby(Hold::ALL)));
    let acts = drain(&mut c);
    assert!(
        !acts.contains(&Action::Notice(Notice::StandbyFluxOther(n("node1")))),
        "node2 is stable: {acts:?}"
    );
    assert!(acts.contains(&Action::Notice(Notice::WantsStandby(n("node1"), Hold::ALL))));
    // A late report older than the newest stability flag changes nothing.
    let mut c = stable_pair();
    let stale = Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(false),
        info: None,
    };
    from2(&mut c, at(3), 6, None, stable_report());
    from2(&mut c, at(3), 5, None, stale);
    c.handle(at(4), Input::Command(Command::Standby(Hold::ALL)));
    let acts = drain(&mut c);
    assert!(acts.contains(&Action::Notice(Notice::WantsStandby(n("node1"), Hold::ALL))));
}

#[test]
fn a_standby_release_of_an_abandoned_episode_does_not_say_done() {
    // Seed 307632: a release hung past its episode's timeout; a second standby queued its
    // own release behind it. The first release's late `done` moved the new episode to
    // `Done`; the second's `done` then read, in loopback, as the acceptor's completion, and
    // node1 claimed the set node2 had just taken.
    let mut c = stable_pair();
    let mut seq = 5;
    let ask = |phase| Msg::AskResources {
        set: Hold::LOCAL,
        phase,
    };
    let stops = |acts: &[Action]| -> Vec<crate::cluster::groups::JobId> {
        acts.iter()
            .filter_map(|a| match a {
                Action::Run(j) if j.op == JobOp::Stop => Some(j.id),
                _ => None,
            })
            .collect()
    };
    c.handle(at(4), Input::Command(Command::Standby(Hold::LOCAL)));
    drain(&mut c);
    let acts = from2(
        &mut c,
        at(4),
        seq,
        None,
        ask(crate::cluster::msg::Phase::Other),
    );
    let hung = stops(&acts);
    assert_eq!(hung.len(), 1, "{acts:?}");
    // The stop hangs; node2 stays in touch until the episode has timed out.
    let mut timed_out = false;
    for t in 5..=70 {
        seq += 1;
        node2_status(&mut c, at(t), seq, 5, 10_000);
        let acts = run_to(&mut c, at(t));
        timed_out |= notices(&acts)
            .iter()
            .any(|n| n.starts_with("No reply to standby"));
    }
    assert!(timed_out);
    // A new episode: its release queues behind the hung one.
    c.handle(at(71), Input::Command(Command::Standby(Hold::LOCAL)));
    drain(&mut c);
    seq += 1;
    from2(
        &mut c,
        at(71),
        seq,
        None,
        ask(crate::cluster::msg::Phase::Other),
    );
    c.handle(
        at(72),
        Input::JobFinished {
            job: hung[0],
            ok: true,
        },
    );
    let acts = drain(&mut c);
    let dones = |acts: &[Action]| {
        sent(acts)
            .iter()
            .filter(|p| p.msg == ask(crate::cluster::msg::Phase::Done))
            .count()
    };
    // The old release ends with the group stopped: the new episode's acceptor may go.
    assert_eq!(dones(&acts), 1, "{:?}", notices(&acts));
    let acts = run_jobs(&mut c, at(72), acts);
    assert_eq!(
        dones(&acts),
        1,
        "the second release says nothing more: {:?}",
        notices(&acts)
    );
    assert!(!c.status().rsc.is_some_and(|h| h.contains(Hold::FOREIGN)));
    assert_eq!(c.status().groups[0], GroupState::Stopped);
}

fn stable_report() -> Msg {
    Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(true),
        info: None,
    }
}

#[test]
fn a_standby_done_from_an_earlier_episode_is_ignored() {
    // Seed 11859: node2's `done` of a standby that a partition interrupted, retransmitted
    // after the partition healed, arrived while node2 asked for a new standby; taking it
    // as the answer made node1 acquire a set node2 had not released.
    use super::msg::Phase;
    let mut c = stable_pair();
    let me = Msg::AskResources {
        set: Hold::LOCAL,
        phase: Phase::Me,
    };
    let acts = from2(&mut c, at(3), 10, None, me);
    assert!(acts.contains(&Action::Notice(Notice::WantsStandby(
        n("node2"),
        Hold::LOCAL
    ))));
    let old_done = Msg::AskResources {
        set: Hold::LOCAL,
        phase: Phase::Done,
    };
    let acts = from2(&mut c, at(3), 8, None, old_done.clone());
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Notice(Notice::StandbyAcquireFrom(..)))),
        "a done older than the request acquires nothing: {acts:?}"
    );
    let acts = from2(&mut c, at(4), 11, None, old_done);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notice(Notice::StandbyAcquireFrom(..)))),
        "the episode's own done does: {acts:?}"
    );
}

#[test]
fn the_newest_packet_over_a_second_medium_brings_that_link_up_but_a_replay_does_not() {
    // wire spec §6 step 7: a duplicate marks its link alive. Only the newest packet's copy
    // over another medium counts: an older seq, or the same medium again, may be a replay.
    let mut cfg = cfg();
    cfg.media = vec!["eth0".into(), "eth1".into()];
    let boot = boot();
    let mut c = Cluster::new(cfg, n("node1"), boot, at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    drain(&mut c);
    let link_up = |acts: &[Action], medium: &str| {
        acts.iter().any(|a| {
            matches!(a, Action::Notice(Notice::LinkUp(node, link))
                if node.as_str() == "node2" && link == medium)
        })
    };
    let first = status(1, 3);
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: first.clone(),
        },
    );
    assert!(link_up(&drain(&mut c), "eth0"));
    // The same packet on eth0 again changes nothing.
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: first.clone(),
        },
    );
    assert!(!link_up(&drain(&mut c), "eth0"));
    // Its copy over eth1, which always arrives second, brings eth1 up.
    c.handle(
        at(1),
        Input::Datagram {
            medium: 1,
            bytes: first.clone(),
        },
    );
    assert!(link_up(&drain(&mut c), "eth1"));
    // eth1 goes quiet past deadtime while eth0 carries on: eth1 is dead.
    for s in 2..=25u64 {
        c.handle(
            at(s),
            Input::Datagram {
                medium: 0,
                bytes: status(s, 3),
            },
        );
        c.handle_timeout(at(s));
    }
    let acts = drain(&mut c);
    let dead = |acts: &[Action]| {
        acts.iter().any(|a| {
            matches!(a, Action::Notice(Notice::LinkDead(node, link))
                if node.as_str() == "node2" && link == "eth1")
        })
    };
    assert!(dead(&acts), "eth1 silent for 24 s is dead");
    // A replay of an old packet over eth1 does not revive it ...
    c.handle(
        at(25),
        Input::Datagram {
            medium: 1,
            bytes: first,
        },
    );
    assert!(!link_up(&drain(&mut c), "eth1"));
    // ... the newest packet's copy over eth1 does.
    c.handle(
        at(25),
        Input::Datagram {
            medium: 1,
            bytes: status(25, 3),
        },
    );
    assert!(link_up(&drain(&mut c), "eth1"));
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

/// Runs timers until `end`, collecting actions.
fn run_to(c: &mut Cluster, end: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    loop {
        let t = c.poll_timeout().unwrap_or(end);
        if t > end {
            break;
        }
        c.handle_timeout(t);
        all.extend(drain(c));
    }
    all
}

#[test]
fn held_nothing_is_not_trusted_while_packets_of_the_dead_node_are_missing() {
    // Seed 16235: "none, stable" then (lost) "acquiring"; with STONITH the dead node is
    // fenced unless we have everything it sent.
    let mut with_device = cfg();
    with_device.stonith = true;
    let empty = Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(true),
        info: None,
    };
    // Complete: no fence.
    let mut c = stable_pair_with(with_device.clone());
    from2(&mut c, at(3), 5, None, empty.clone());
    let acts = run_to(&mut c, at(20));
    assert!(acts.contains(&Action::Notice(Notice::NodeDead(n("node2")))));
    assert!(!acts.iter().any(|a| matches!(a, Action::Fence { .. })));
    // Seq 6 never arrives, 7 does: fenced.
    let mut c = stable_pair_with(with_device);
    from2(&mut c, at(3), 5, None, empty);
    let st = peer_status(NodeStatus::Active);
    from2(&mut c, at(3), 7, None, st);
    let acts = run_to(&mut c, at(20));
    assert!(acts.contains(&Action::Notice(Notice::NodeDead(n("node2")))));
    assert!(
        acts.iter()
            .any(|a| *a == Action::Fence { node: n("node2") }),
        "{acts:?}"
    );
}

#[test]
fn a_two_node_cluster_with_a_ping_node_does_not_take_over_when_isolated() {
    let mut with_ping = cfg();
    with_ping.ping_nodes = ping_node();
    let mut c = stable_pair_with(with_ping);
    c.handle(at(2), ping_reply());
    drain(&mut c);
    assert!(!c.status().guard.isolated);
    // node2 and the ping node fall silent together.
    let acts = run_to(&mut c, at(30));
    assert!(c.status().guard.isolated);
    assert!(acts.contains(&Action::Notice(Notice::TakeoverHeldIsolated(n("node2")))));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Notice(Notice::ResourcesBeingAcquired(_))))
    );
    // It released its own group.
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Run(j) if j.op == JobOp::Stop))
    );
    // The ping node answers again, node2 still dead: the takeover is decided now.
    c.handle(at(31), ping_reply());
    let acts = drain(&mut c);
    assert!(!c.status().guard.isolated);
    assert!(acts.contains(&Action::Notice(Notice::NoLongerIsolated)));
    assert!(acts.contains(&Action::Notice(Notice::ResourcesBeingAcquired(n("node2")))));
}

/// The `destuuid` and `ld` of what `c` sent to node2.
fn to_node2(actions: &[Action]) -> Vec<(Msg, Option<[u8; 16]>, Option<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => {
                let r = codec::decode_received(bytes, &keys()).ok()?;
                let m = crate::wire::decode_udp(bytes, &keys()).ok()?;
                let ld = m.get_str("ld").map(str::to_string);
                (r.packet.dest == Some(n("node2"))).then_some((r.packet.msg, r.dest_uuid, ld))
            }
            _ => None,
        })
        .collect()
}

fn from_node2_as(uuid: [u8; 16], seq: u64, dest: Option<&str>, msg: Msg) -> Vec<u8> {
    let p = Packet {
        src: n("node2"),
        dest: dest.map(n),
        seq: Some(seq),
        generation: 3,
        ts: 1,
        ttl: 3,
        msg,
    };
    encode(&p, &uuid, &keys())
}

#[test]
fn destuuid_is_the_peers_srcuuid_learned_from_fresh_packets_only() {
    // wire §5 step 1 and §6 step 4.
    let mut c = node1();
    drain(&mut c);
    let req = |c: &mut Cluster, uuid: [u8; 16], seq: u64| {
        c.handle(
            at(1),
            Input::Datagram {
                medium: 0,
                bytes: from_node2_as(uuid, seq, Some("node1"), Msg::ReqNodes),
            },
        );
        drain(c)
    };
    let out = req(&mut c, [2; 16], 1);
    let rep = to_node2(&out);
    assert!(
        matches!(rep.as_slice(), [(Msg::RepNodes { .. }, Some(u), _)] if *u == [2; 16]),
        "{rep:?}"
    );
    // A replay (seq already seen) with another UUID does not change what we know.
    let out = req(&mut c, [9; 16], 1);
    assert!(to_node2(&out).is_empty());
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::Notice(Notice::UuidChanged(..))))
    );
    // A null UUID is "not known", never learned.
    let out = req(&mut c, [0; 16], 2);
    assert!(matches!(to_node2(&out).as_slice(), [(_, Some(u), _)] if *u == [2; 16]));
    // A fresh packet with another UUID: heartbeat's INFO line, and the new UUID is used.
    let out = req(&mut c, [3; 16], 3);
    let changed: Vec<String> = out
        .iter()
        .filter_map(|a| match a {
            Action::Notice(n @ Notice::UuidChanged(..)) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        changed,
        ["node node2 changed its uuid to 03030303-0303-0303-0303-030303030303"]
    );
    assert!(matches!(to_node2(&out).as_slice(), [(_, Some(u), _)] if *u == [3; 16]));
}

#[test]
fn numbered_messages_carry_the_load_the_edge_gave_and_ns_messages_none() {
    // wire §5: `ld` on every non-NS_ message, `n/a` when unknown.
    let mut c = node1();
    let ld_of = |acts: &[Action]| -> Vec<Option<String>> {
        acts.iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => crate::wire::decode_udp(bytes, &keys())
                    .ok()
                    .map(|m| m.get_str("ld").map(str::to_string)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(ld_of(&drain(&mut c)), [Some("n/a".to_string())]);
    c.set_load(Some("0.08 0.03 0.01 1/123 4567"));
    c.handle_timeout(at(1));
    assert_eq!(
        ld_of(&drain(&mut c)),
        [Some("0.08 0.03 0.01 1/123 4567".to_string())]
    );
    // Not one printable line: heartbeat's "unreadable" value rather than a broken field.
    c.set_load(Some("1\n2"));
    c.handle_timeout(at(2));
    assert_eq!(ld_of(&drain(&mut c)), [Some("n/a".to_string())]);
    c.set_load(Some("0.5 0.5 0.5 1/1 1"));
    // An ACK (NS_) has none.
    let mut acks = Vec::new();
    for seq in 1..=20 {
        c.handle(
            at(3),
            Input::Datagram {
                medium: 0,
                bytes: from_node2_as([2; 16], seq, None, Msg::Starting),
            },
        );
        acks.extend(
            to_node2(&drain(&mut c))
                .into_iter()
                .filter(|(m, ..)| matches!(m, Msg::Ack { .. })),
        );
    }
    assert!(!acks.is_empty());
    assert!(
        acks.iter()
            .all(|(_, u, ld)| ld.is_none() && *u == Some([2; 16]))
    );
}

fn notifications(acts: &[Action]) -> Vec<Notification> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn rc_d_gets_only_what_the_core_does_not_handle_itself() {
    // behaviour §4.4: heartbeat's rc.d types minus the four the core does natively.
    for t in [
        "ifstat",
        "num_ping_nodes",
        "you_are_dead",
        "abort_giveup",
        "my-app-event",
    ] {
        assert!(rcd::routed(t), "{t}");
    }
    for t in [
        "status",
        "ip-request",
        "ip-request-resp",
        "hb_takeover",
        "ask_resources",
        "starting",
        "resource",
        "shutdone",
        "stonith",
        "reqnodes",
        "NS_ackmsg",
    ] {
        assert!(!rcd::routed(t), "{t}");
    }
    let mut c = node1();
    drain(&mut c);
    let names = [
        "status",
        "hb_takeover",
        "ask_resources",
        "ifstat",
        "foo",
        ".foo~",
    ];
    c.set_rc_scripts(names.iter().map(|s| s.to_string()));
    let said: Vec<String> = drain(&mut c)
        .iter()
        .filter_map(|a| match a {
            Action::Notice(n @ Notice::RcNative(_)) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        said,
        [
            "heartbeat-rs: rc.d scripts for messages handled natively are not run: status hb_takeover"
        ]
    );
}

#[test]
fn notifications_run_one_at_a_time_with_the_message_fields() {
    let mut c = node1();
    drain(&mut c);
    c.set_rc_scripts(["ifstat", "foo", "status", "bar"].map(String::from));
    // The first packet brings node2's link up (ifstat) and is a status (native: no run).
    let first = from2(&mut c, at(1), 1, None, peer_status(NodeStatus::Up));
    let foo = from2(&mut c, at(1), 2, None, Msg::Other { t: "foo".into() });
    // No script for this one; one addressed to another node is not ours to notify.
    let none = from2(&mut c, at(1), 3, None, Msg::Other { t: "baz".into() });
    let other = from2(
        &mut c,
        at(1),
        4,
        Some("node3"),
        Msg::Other { t: "foo".into() },
    );
    let started = notifications(&first);
    assert_eq!(started.len(), 1, "{started:?}");
    let ifstat = &started[0];
    assert_eq!(ifstat.kind, "ifstat");
    let env = |n: &Notification, k: &str| {
        n.env
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(env(ifstat, "HA_node").as_deref(), Some("node2"));
    assert_eq!(env(ifstat, "HA_ifname").as_deref(), Some("eth0"));
    assert_eq!(env(ifstat, "HA_st").as_deref(), Some("up"));
    assert_eq!(env(ifstat, "HA_OSTATUS").as_deref(), Some("up"));
    assert!(notifications(&foo).is_empty(), "waits for the running one");
    assert!(notifications(&none).is_empty() && notifications(&other).is_empty());
    assert_eq!(c.rc_pending(), 2);
    c.handle(
        at(2),
        Input::JobFinished {
            job: ifstat.id,
            ok: false,
        },
    );
    let next = notifications(&drain(&mut c));
    assert_eq!(next.len(), 1);
    let foo = &next[0];
    assert_eq!(foo.kind, "foo");
    assert_eq!(env(foo, "HA_t").as_deref(), Some("foo"));
    assert_eq!(env(foo, "HA_src").as_deref(), Some("node2"));
    assert_eq!(env(foo, "HA_seq").as_deref(), Some("2"));
    assert_eq!(env(foo, "HA_ld").as_deref(), Some("n/a"));
    assert!(
        env(foo, "HA_srcuuid").is_none(),
        "binary fields are not passed"
    );
    // A stray or repeated end changes nothing.
    c.handle(
        at(2),
        Input::JobFinished {
            job: ifstat.id,
            ok: true,
        },
    );
    assert!(notifications(&drain(&mut c)).is_empty());
    c.handle(
        at(2),
        Input::JobFinished {
            job: foo.id,
            ok: true,
        },
    );
    assert!(notifications(&drain(&mut c)).is_empty());
    assert_eq!(c.rc_pending(), 0);
}

#[test]
fn a_notification_waits_until_no_resource_operation_runs_or_waits() {
    let mut c = node1();
    drain(&mut c);
    c.set_rc_scripts(["foo".to_string()]);
    let st = peer_status(NodeStatus::Active);
    from2(&mut c, at(1), 1, None, st);
    let nodes = vec![n("node1"), n("node2")];
    from2(&mut c, at(1), 2, Some("node1"), Msg::RepNodes { nodes });
    from2(&mut c, at(1), 3, None, Msg::Starting);
    let report = Msg::Resource {
        hold: Hold::NONE,
        full: true,
        stable: Some(true),
        info: None,
    };
    let acquiring = from2(&mut c, at(1), 4, None, report);
    assert!(acquiring.iter().any(|a| matches!(a, Action::Run(_))));
    let foo = from2(&mut c, at(1), 5, None, Msg::Other { t: "foo".into() });
    assert!(
        notifications(&foo).is_empty(),
        "the group is being acquired"
    );
    let rest = run_jobs(&mut c, at(2), acquiring);
    assert_eq!(c.status().groups, vec![GroupState::Running]);
    let started = notifications(&rest);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].kind, "foo");
    assert!(
        rest.iter().position(|a| matches!(a, Action::Notify(_)))
            > rest.iter().rposition(|a| matches!(a, Action::Run(_))),
        "after the last script of the acquisition"
    );
}
/// The datagrams `c` sends now, as bytes.
fn sent_bytes(c: &mut Cluster) -> Vec<Vec<u8>> {
    drain(c)
        .into_iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => Some(bytes),
            _ => None,
        })
        .collect()
}

#[test]
fn a_retransmission_after_a_key_change_is_signed_with_the_new_key() {
    // wire §8.1 / behaviour §3: SIGHUP re-reads authkeys; what is resent afterwards is
    // re-serialised, so its trailer is computed with the key in use then.
    let mut c = node1();
    let first = sent_bytes(&mut c);
    let seq1 = first
        .iter()
        .find(|b| decode(b, &keys()).is_ok_and(|p| p.seq == Some(1)))
        .cloned()
        .unwrap_or_else(|| panic!("node1 sent seq 1"));
    let idx = |i| KeyIndex::new(i).unwrap_or_else(|| unreachable!());
    let both = AuthKeys::new(
        idx(2),
        [
            (idx(1), AuthKey::Sha1(Secret::new("t"))),
            (idx(2), AuthKey::Sha1(Secret::new("new"))),
        ]
        .into_iter()
        .collect(),
    )
    .unwrap_or_else(|| unreachable!());
    let only_new = AuthKeys::single(idx(2), AuthKey::Sha1(Secret::new("new")));
    c.set_auth(both);
    // node2, already on the new key, asks for seq 1 again.
    let ask = Packet {
        src: n("node2"),
        dest: Some(n("node1")),
        seq: None,
        generation: 5,
        ts: 1,
        ttl: 3,
        msg: Msg::Rexmit { first: 1, last: 1 },
    };
    c.handle(
        at(1),
        Input::Datagram {
            medium: 0,
            bytes: encode(&ask, &[2; 16], &only_new),
        },
    );
    let resent = sent_bytes(&mut c);
    assert!(!resent.is_empty(), "seq 1 is resent");
    for b in &resent {
        let p = decode(b, &only_new)
            .unwrap_or_else(|e| panic!("a resend must verify with the new key alone: {e:?}"));
        assert_eq!(p.seq, Some(1));
    }
    // Unchanged keys: the resend is byte-identical (the fields, inner auth included, are
    // those first sent).
    c.set_auth(keys());
    c.handle(
        at(3),
        Input::Datagram {
            medium: 0,
            bytes: encode(&ask, &[2; 16], &keys()),
        },
    );
    let again = sent_bytes(&mut c);
    assert!(again.contains(&seq1), "same keys: the original bytes");
}

// ---- quick restart (behaviour spec §4.12) ----------------------------------------------

fn status_dt(p: &Packet) -> Option<u64> {
    match p.msg {
        Msg::Status { dt_ms, .. } => dt_ms,
        _ => None,
    }
}

fn jobs(acts: &[Action]) -> usize {
    acts.iter().filter(|a| matches!(a, Action::Run(_))).count()
}

fn notices(acts: &[Action]) -> Vec<String> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Notice(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_quick_restart_raises_the_dead_time_first_and_hands_over_the_holdings() {
    let mut fresh = node1();
    assert_eq!(fresh.begin_restart(), None, "not before comm-up and stable");
    let mut c = stable_pair();
    run_to(&mut c, at(8));
    let r = c.begin_restart().expect("a stable node can restart");
    assert_eq!(
        r,
        Restart {
            held: Some(Hold::LOCAL),
            running: run1(),
        }
    );
    assert_eq!(r.args(), ["-R", "-C", "local", "--running", "10.0.0.1"]);
    let acts = drain(&mut c);
    let dts: Vec<u64> = sent(&acts).iter().filter_map(status_dt).collect();
    assert_eq!(dts, [40_000], "deadtime 10 s + 30 s, sent at once");
    assert!(notices(&acts).contains(&"Current resources: -R -C local".to_string()));
    // Every later heartbeat keeps the raised value until the exec.
    let later = run_to(&mut c, at(10));
    assert!(
        sent(&later)
            .iter()
            .filter_map(status_dt)
            .all(|d| d == 40_000)
    );
    c.abort_restart();
    let dts: Vec<u64> = sent(&drain(&mut c)).iter().filter_map(status_dt).collect();
    assert_eq!(dts, [10_000], "a failed exec restores the dead time");
}

#[test]
fn a_legacy_node_hands_over_its_running_groups_without_c() {
    let mut cfg = cfg();
    cfg.auto_failback = AutoFailback::Legacy;
    let mut c = Cluster::new(cfg, n("node1"), boot(), at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    drain(&mut c);
    let acts = run_to(&mut c, at(21));
    run_jobs(&mut c, at(21), acts);
    assert_eq!(c.status().groups, vec![GroupState::Running]);
    let r = c.begin_restart().expect("settled");
    assert_eq!(r.held, None);
    assert_eq!(r.args(), ["-R", "--running", "10.0.0.1"]);
}

/// `--running` naming node1's group.
fn run1() -> Option<Vec<String>> {
    Some(vec!["10.0.0.1".to_string()])
}

fn restarted(cfg: ClusterConfig, r: Restart) -> Cluster {
    let mut b = boot();
    b.generation = 8;
    b.restart = Some(r);
    Cluster::new(cfg, n("node1"), b, at(0)).unwrap_or_else(|e| panic!("{e:?}"))
}

/// node2 (generation 5) is up and active; node1 reaches comm-up. Returns what node1 did.
fn peer_comes_up(c: &mut Cluster) -> Vec<Action> {
    let mut acts = drain(c);
    let st = peer_status(NodeStatus::Active);
    acts.extend(from2(c, at(1), 1, None, st));
    let nodes = vec![n("node1"), n("node2")];
    acts.extend(from2(c, at(1), 2, Some("node1"), Msg::RepNodes { nodes }));
    assert!(c.status().comm_up);
    acts
}

#[test]
fn a_restarted_node_keeps_its_groups_runs_no_script_and_reports_stable() {
    let held = Restart {
        held: Some(Hold::LOCAL),
        running: run1(),
    };
    let mut c = restarted(cfg(), held);
    assert_eq!(c.status().groups, vec![GroupState::Running]);
    let acts = peer_comes_up(&mut c);
    assert_eq!(jobs(&acts), 0, "no script runs across a quick restart");
    let out = sent(&acts);
    assert!(
        out.iter().any(|p| p.msg == Msg::Starting),
        "asks for the peer's holdings"
    );
    assert!(out.iter().any(|p| p.msg
        == Msg::Resource {
            hold: Hold::LOCAL,
            full: true,
            stable: Some(true),
            info: None,
        }));
    let acts = from2(&mut c, at(1), 3, None, stable_report());
    assert_eq!(jobs(&acts), 0);
    assert_eq!(c.status().rsc, Some(Hold::LOCAL));
    assert!(
        !notices(&acts)
            .iter()
            .any(|t| t.starts_with("Initial resource acquisition")),
        "nothing was acquired"
    );
}

#[test]
fn a_restart_from_legacy_to_nice_failback_assumes_local() {
    let r = Restart {
        held: None,
        running: run1(),
    };
    let mut c = restarted(cfg(), r);
    let acts = peer_comes_up(&mut c);
    assert!(notices(&acts).contains(&"restart: assuming HB_LOCAL_RSC".to_string()));
    assert_eq!(jobs(&acts), 0, "its groups already run");
    from2(&mut c, at(1), 3, None, stable_report());
    assert_eq!(c.status().rsc, Some(Hold::LOCAL));
}

#[test]
fn a_restart_from_nice_failback_to_legacy_acquires_local_without_rerunning_them() {
    let mut cfg = cfg();
    cfg.auto_failback = AutoFailback::Legacy;
    let r = Restart {
        held: Some(Hold::LOCAL),
        running: run1(),
    };
    let mut c = restarted(cfg.clone(), r);
    let acts = peer_comes_up(&mut c);
    assert!(notices(&acts).contains(&"restart: acquiring local resources.".to_string()));
    assert_eq!(jobs(&acts), 0, "a running group is not started again");
    let r = Restart {
        held: Some(Hold::NONE),
        running: Some(vec![]),
    };
    let mut c = restarted(cfg.clone(), r);
    let acts = peer_comes_up(&mut c);
    assert!(notices(&acts).contains(&"restart:  local resources already acquired.".to_string()));
    // Legacy to legacy: no script (heartbeat skips req_our_resources). Ours: with the
    // peer active, our group is asked for (it answers at once if it does not run it too).
    let r = Restart {
        held: None,
        running: run1(),
    };
    let mut c = restarted(cfg, r);
    let acts = peer_comes_up(&mut c);
    assert_eq!(jobs(&acts), 0);
    assert!(sent(&acts).iter().any(|p| p.msg
        == Msg::IpRequest {
            key: "10.0.0.1".into()
        }));
    let acts = from2(
        &mut c,
        at(2),
        3,
        Some("node1"),
        Msg::IpRequestResp {
            key: "10.0.0.1".into(),
            weown: false,
        },
    );
    assert_eq!(jobs(&acts), 0, "taking a running group runs nothing");
    assert_eq!(c.status().groups, vec![GroupState::Running]);
}

/// `cfg` plus a group homed on node2 (10.0.0.2).
fn with_peer_group(mut cfg: ClusterConfig) -> ClusterConfig {
    cfg.groups.push(ResourceGroup {
        node: n("node2"),
        resources: vec![Resource {
            token: "10.0.0.2".into(),
            script: "IPaddr".into(),
            args: vec!["10.0.0.2".into()],
        }],
    });
    cfg
}

/// node1 stable with node2 holding node2's own group (node2's generation 5, seqs 1–4).
fn pair_peer_holding_its_group() -> Cluster {
    let mut c = Cluster::new(with_peer_group(cfg()), n("node1"), boot(), at(0))
        .unwrap_or_else(|e| panic!("{e:?}"));
    peer_comes_up(&mut c);
    from2(&mut c, at(1), 3, None, Msg::Starting);
    let report = Msg::Resource {
        hold: Hold::LOCAL,
        full: true,
        stable: Some(true),
        info: None,
    };
    let acts = from2(&mut c, at(1), 4, None, report);
    run_jobs(&mut c, at(2), acts);
    assert_eq!(
        c.status().groups,
        vec![GroupState::Running, GroupState::Stopped]
    );
    assert_eq!(c.peer_holds(), Hold::LOCAL);
    c
}

fn node2_status(c: &mut Cluster, t: Instant, seq: u64, generation: u64, dt: u64) -> Vec<Action> {
    let st = Msg::Status {
        st: NodeStatus::Active,
        dt_ms: Some(dt),
        protocol: true,
    };
    c.handle(
        t,
        Input::Datagram {
            medium: 0,
            bytes: from_node2(Some(seq), generation, None, st),
        },
    );
    drain(c)
}

#[test]
fn a_peer_that_announced_a_quick_restart_is_not_taken_over() {
    let mut c = pair_peer_holding_its_group();
    node2_status(&mut c, at(3), 5, 5, 10_000);
    node2_status(&mut c, at(4), 6, 5, 40_000);
    let acts = node2_status(&mut c, at(4), 1, 6, 12_000);
    assert!(notices(&acts).contains(&"Heartbeat restart on node node2".to_string()));
    assert_eq!(
        jobs(&acts),
        0,
        "node2 kept its group: nothing is taken over"
    );
    assert_eq!(c.peer_holds(), Hold::LOCAL, "what it held still stands");
    // Its new process asks and reports stable: all settled, still no takeover.
    let acts = from_gen6(&mut c, 2, Msg::Starting);
    assert_eq!(jobs(&acts), 0);
    let report = Msg::Resource {
        hold: Hold::LOCAL,
        full: true,
        stable: Some(true),
        info: None,
    };
    let acts = from_gen6(&mut c, 3, report);
    assert_eq!(jobs(&acts), 0);
    assert_eq!(c.status().rsc, Some(Hold::LOCAL));
}

fn from_gen6(c: &mut Cluster, seq: u64, msg: Msg) -> Vec<Action> {
    c.handle(
        at(4),
        Input::Datagram {
            medium: 0,
            bytes: from_node2(Some(seq), 6, None, msg),
        },
    );
    drain(c)
}

/// node1 comm-up with node2 (generation 5) stable holding `all`: node2's group and node1's.
fn pair_peer_holding_all() -> Cluster {
    let mut c = Cluster::new(with_peer_group(cfg()), n("node1"), boot(), at(0))
        .unwrap_or_else(|e| panic!("{e:?}"));
    peer_comes_up(&mut c);
    from2(&mut c, at(1), 3, None, Msg::Starting);
    let acts = from2(&mut c, at(1), 4, None, report(Hold::ALL, true));
    assert_eq!(jobs(&acts), 0);
    assert_eq!(c.peer_holds(), Hold::ALL);
    c
}

/// The groups node1 runs scripts for.
fn job_groups(acts: &[Action]) -> Vec<usize> {
    let mut g: Vec<usize> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Run(j) => Some(j.group),
            _ => None,
        })
        .collect();
    g.dedup();
    g
}

#[test]
fn a_peer_restarting_without_the_announcement_is_trusted_only_once_it_says_it_holds_nothing() {
    let mut c = pair_peer_holding_all();
    node2_status(&mut c, at(3), 5, 5, 10_000);
    let acts = node2_status(&mut c, at(4), 1, 6, 12_000);
    assert_eq!(
        jobs(&acts),
        0,
        "crash or quick restart: its new process will say"
    );
    assert_eq!(c.peer_holds(), Hold::ALL, "what it held still stands");
    // A fresh start's first word is `starting`: what it ran is down. Our group is started
    // here; its own is its to start, so our answer does not claim it.
    let acts = from_gen6(&mut c, 2, Msg::Starting);
    assert_eq!(job_groups(&acts), [0]);
    assert!(
        sent(&acts)
            .iter()
            .all(|p| !matches!(&p.msg, Msg::Resource { hold, .. } if hold.contains(Hold::FOREIGN))),
        "{acts:?}"
    );
    assert_eq!(c.peer_holds(), Hold::NONE);
}

fn report(hold: Hold, stable: bool) -> Msg {
    Msg::Resource {
        hold,
        full: true,
        stable: Some(stable),
        info: None,
    }
}

#[test]
fn an_unannounced_restart_is_taken_over_only_when_the_new_process_holds_nothing() {
    // Seed 3035: node2 quick-restarted while partitioned from us (both raised `dt`s lost);
    // the first we heard of its new generation was a `reqnodes`. Its first resource message
    // is its report of what it kept: nothing is taken over, nothing fenced.
    let mut c = pair_peer_holding_its_group();
    node2_status(&mut c, at(3), 5, 5, 10_000);
    let acts = from_gen6(&mut c, 8, Msg::ReqNodes);
    assert!(notices(&acts).contains(&"Heartbeat restart on node node2".to_string()));
    let mut acts = node2_status(&mut c, at(4), 9, 6, 10_000);
    acts.extend(from_gen6(&mut c, 10, report(Hold::LOCAL, true)));
    acts.extend(from_gen6(&mut c, 11, Msg::Starting));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Run(_) | Action::Fence { .. })),
        "{acts:?}"
    );
    assert_eq!(c.peer_holds(), Hold::LOCAL);
    assert_eq!(
        c.status().groups,
        vec![GroupState::Running, GroupState::Stopped]
    );

    // Its report lost and its `starting` first: a gap before it, so `starting` proves
    // nothing; the report, retransmitted, settles it.
    let mut c = pair_peer_holding_its_group();
    node2_status(&mut c, at(3), 5, 5, 10_000);
    let mut acts = node2_status(&mut c, at(4), 1, 6, 10_000);
    acts.extend(from_gen6(&mut c, 3, Msg::Starting));
    acts.extend(from_gen6(&mut c, 2, report(Hold::LOCAL, true)));
    assert_eq!(jobs(&acts), 0);
    assert_eq!(c.peer_holds(), Hold::LOCAL);

    // `starting` the first packet heard of it: what came before is unknown. A fresh
    // process answers our report with "none" while it negotiates: then it is taken over.
    let mut c = pair_peer_holding_its_group();
    node2_status(&mut c, at(3), 5, 5, 10_000);
    let acts = from_gen6(&mut c, 3, Msg::Starting);
    assert_eq!(jobs(&acts), 0);
    let acts = from_gen6(&mut c, 4, report(Hold::NONE, false));
    assert_eq!(jobs(&acts), 0, "it starts its own group itself");
    assert_eq!(c.peer_holds(), Hold::NONE);
}

#[test]
fn a_restart_with_the_peer_still_dead_does_not_take_over_or_fence_again() {
    let mut cfg = cfg();
    cfg.stonith = true;
    let r = Restart {
        held: Some(Hold::ALL),
        running: run1(),
    };
    let mut c = restarted(cfg, r);
    let acts = run_to(&mut c, at(25));
    assert!(c.status().comm_up, "initdead passed");
    assert!(notices(&acts).contains(&"node node2: is dead".to_string()));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Fence { .. } | Action::Run(_))),
        "{acts:?}"
    );
    assert_eq!(c.status().rsc, Some(Hold::ALL));
}

#[test]
fn a_legacy_restart_with_the_peer_dead_starts_its_own_group_that_was_not_running() {
    // Seed 301536: the old process ran the dead peer's group (taken over) but its own had
    // failed to start; the new process skipped the takeover and with it our group.
    let mut cfg = cfg();
    cfg.auto_failback = AutoFailback::Legacy;
    cfg.groups.push(ResourceGroup {
        node: n("node2"),
        resources: vec![Resource {
            token: "10.0.0.2".into(),
            script: "IPaddr".into(),
            args: vec!["10.0.0.2".into()],
        }],
    });
    let r = Restart {
        held: None,
        running: Some(vec!["10.0.0.2".to_string()]),
    };
    let mut c = restarted(cfg, r);
    let acts = run_to(&mut c, at(25));
    assert!(notices(&acts).contains(&"node node2: is dead".to_string()));
    assert!(!acts.iter().any(|a| matches!(a, Action::Fence { .. })));
    run_jobs(&mut c, at(25), acts);
    assert_eq!(
        c.status().groups,
        vec![GroupState::Running, GroupState::Running]
    );
}

#[test]
fn a_held_group_that_is_not_running_is_started_again_after_a_restart() {
    // -C local, but node1's group had failed to start: it is not left down while claimed.
    let r = Restart {
        held: Some(Hold::LOCAL),
        running: Some(vec![]),
    };
    let mut c = restarted(cfg(), r);
    assert_eq!(c.status().groups, vec![GroupState::Stopped]);
    let acts = peer_comes_up(&mut c);
    assert!(jobs(&acts) > 0, "the group is started");
    run_jobs(&mut c, at(2), acts);
    assert_eq!(c.status().groups, vec![GroupState::Running]);
}

#[test]
fn contact_regained_asks_for_a_fresh_report_and_claims_orphans_only_on_it() {
    // Seed 86259: node1 released its group while isolated; node2 (which never lost node1)
    // answered node1's `none` during the partition, but that answer was lost for good, and
    // nothing made node2 report again, so node1's group ran nowhere. Behaviour §4.6: a
    // peer answers `starting` with its current `resource` report.
    let mut with_ping = cfg();
    with_ping.ping_nodes = ping_node();
    let mut c = stable_pair_with(with_ping);
    c.handle(at(2), ping_reply());
    drain(&mut c);
    let acts = run_to(&mut c, at(30));
    let acts = run_jobs(&mut c, at(30), acts);
    assert!(c.status().guard.isolated);
    assert!(acts.contains(&Action::Notice(Notice::Isolated(
        "neither the peer nor any ping node visible"
    ))));
    assert_eq!(c.status().groups, vec![GroupState::Stopped]);
    // node2 is heard again: node1 asks what it holds and counts it in flux meanwhile.
    let st = peer_status(NodeStatus::Active);
    let acts = from2(&mut c, at(31), 5, None, st);
    assert!(acts.contains(&Action::Notice(Notice::NoLongerIsolated)));
    let out = sent(&acts);
    assert!(
        out.iter().any(|p| p.msg == Msg::Starting),
        "asks with `starting`: {out:?}"
    );
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Run(_))),
        "nothing is claimed on stale knowledge: {acts:?}"
    );
    assert_eq!(c.status().rsc, None, "the peer counts as in flux");
    // Its fresh answer: it holds nothing and is stable. node1 claims its own group.
    let acts = from2(&mut c, at(31), 6, None, stable_report());
    assert!(acts.contains(&Action::Notice(Notice::RemoteTransitionCompleted)));
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Run(j) if j.op == JobOp::Status || j.op == JobOp::Start)),
        "claims its orphaned group: {acts:?}"
    );
}

#[test]
fn auto_failback_to_a_late_joiner_waits_for_its_stable_report_not_its_first_status() {
    // Behaviour §4.8: the holder asks for the failback on the joiner's stable report.
    // Asking at its first status (before its comm-up) got the request dropped, and the
    // failback waited for the 10 s standby timeout (lab: ~10 s to the first acquisition).
    let two = with_peer_group(cfg());
    let mut c = Cluster::new(two, n("node1"), boot(), at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    let acts = run_to(&mut c, at(21));
    run_jobs(&mut c, at(21), acts);
    assert_eq!(c.status().rsc, Some(Hold::ALL));
    let up = peer_status(NodeStatus::Up);
    let is_ask = |p: &Packet| matches!(p.msg, Msg::AskResources { .. });
    let out = sent(&from2(&mut c, at(30), 1, None, up));
    assert!(!out.iter().any(is_ask), "not before its comm-up: {out:?}");
    from2(&mut c, at(31), 2, None, Msg::Starting);
    let out = sent(&from2(&mut c, at(31), 3, None, stable_report()));
    assert!(
        out.iter().any(|p| p.msg
            == Msg::AskResources {
                set: Hold::FOREIGN,
                phase: super::msg::Phase::Me
            }),
        "on its stable report: {out:?}"
    );
}

#[test]
fn starting_is_answered_stable_only_when_our_side_is_settled() {
    // Seed 209158: node1, mid-way through acquiring everything in a standby, answered a
    // `starting` with "local, isstable=1" (heartbeat's rstate == STABLE); the asker
    // claimed its groups, and node1 started them too. Behaviour §4.6 (answer with our
    // holdings), with the flag meaning "settled" as everywhere else in our reports.
    use super::msg::Phase;
    let two = with_peer_group(cfg());
    let mut c = stable_pair_with(two);
    let me = Msg::AskResources {
        set: Hold::ALL,
        phase: Phase::Me,
    };
    from2(&mut c, at(3), 5, None, me);
    let done = Msg::AskResources {
        set: Hold::ALL,
        phase: Phase::Done,
    };
    let acts = from2(&mut c, at(4), 6, None, done);
    assert!(
        acts.iter().any(|a| matches!(a, Action::Run(_))),
        "acquiring: {acts:?}"
    );
    let answer = sent(&from2(&mut c, at(4), 7, None, Msg::Starting));
    let report = |p: &Packet| match p.msg {
        Msg::Resource { stable, .. } => stable,
        _ => None,
    };
    assert_eq!(
        answer.iter().find_map(report),
        Some(false),
        "in flux while acquiring: {answer:?}"
    );
    // Once the acquisition is done, it says it is settled.
    let later = sent(&run_jobs(&mut c, at(5), acts));
    assert!(
        later.iter().any(|p| matches!(
            p.msg,
            Msg::Resource {
                hold: Hold::ALL,
                stable: Some(true),
                ..
            }
        )),
        "{later:?}"
    );
}

#[test]
fn legacy_asks_for_its_groups_when_isolation_ends_during_their_release() {
    // Seed 212179: isolation ended while the release it started was still stopping our
    // group; the group counted as running and was not asked for, and nothing asked later.
    let mut legacy = cfg();
    legacy.auto_failback = AutoFailback::Legacy;
    legacy.ping_nodes = ping_node();
    let mut c = Cluster::new(legacy, n("node1"), boot(), at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    let ping = ping_reply;
    c.handle(at(1), ping());
    drain(&mut c);
    let active = peer_status(NodeStatus::Active);
    from2(&mut c, at(1), 1, None, active);
    let nodes = vec![n("node1"), n("node2")];
    from2(&mut c, at(1), 2, Some("node1"), Msg::RepNodes { nodes });
    assert!(c.status().comm_up);
    let resp = Msg::IpRequestResp {
        key: "10.0.0.1".into(),
        weown: false,
    };
    let acts = from2(&mut c, at(1), 3, Some("node1"), resp);
    run_jobs(&mut c, at(2), acts);
    assert_eq!(c.status().groups, vec![GroupState::Running]);
    c.handle(at(2), ping());
    drain(&mut c);
    // node2 and the ping node fall silent: isolated, the release starts (and hangs).
    run_to(&mut c, at(30));
    assert!(c.status().guard.isolated);
    assert!(c.status().groups[0].is_active(), "still stopping");
    // node2 is back (not yet active, so regaining contact asks nothing by itself) while
    // the stop still runs: ask for the group again.
    let up = peer_status(NodeStatus::Up);
    let out = sent(&from2(&mut c, at(31), 4, None, up));
    assert!(!c.status().guard.isolated);
    assert!(
        out.iter().any(|p| p.msg
            == Msg::IpRequest {
                key: "10.0.0.1".into()
            }),
        "{out:?}"
    );
}

#[test]
fn a_peer_is_judged_by_the_dead_time_its_last_heartbeat_advertised() {
    // Behaviour §4.5 step 1, §4.7: during its first 5 s a node advertises deadtime + 2 s,
    // and a peer that last heard one of those heartbeats waits that long (sim seeds 232092,
    // 242778: its later heartbeats were lost, or it crashed as the window ended).
    let mut c = stable_pair();
    let bumped = Msg::Status {
        st: NodeStatus::Active,
        dt_ms: Some(12_000),
        protocol: true,
    };
    from2(&mut c, at(3), 5, None, bumped);
    let acts = run_to(&mut c, at(14));
    assert!(!acts.contains(&Action::Notice(Notice::NodeDead(n("node2")))));
    let acts = run_to(&mut c, at(16));
    assert!(acts.contains(&Action::Notice(Notice::NodeDead(n("node2")))));
}

/// Legacy mode, a group homed on each node; node2 counted dead at initdead, so node1 runs
/// both (the start of the legacy heal tests).
fn legacy_holding_both() -> Cluster {
    let mut legacy = with_peer_group(cfg());
    legacy.auto_failback = AutoFailback::Legacy;
    let mut c = Cluster::new(legacy, n("node1"), boot(), at(0)).unwrap_or_else(|e| panic!("{e:?}"));
    let acts = run_to(&mut c, at(21));
    run_jobs(&mut c, at(21), acts);
    assert_eq!(
        c.status().groups,
        vec![GroupState::Running, GroupState::Running],
        "node2 counted dead at initdead: node1 runs both groups"
    );
    c
}

/// node2's status heartbeat (dead time 10 s).
fn peer_status(st: NodeStatus) -> Msg {
    Msg::Status {
        st,
        dt_ms: Some(10_000),
        protocol: true,
    }
}

#[test]
fn legacy_gives_back_a_regained_peers_group_once_it_is_active_without_asking() {
    // Seed 287215: node1 took node2's group while it counted node2 dead, then heard it
    // again while it was still starting (`up`). A one-way cut hid node1's `active`
    // heartbeats, so node2 took its group at comm-up without asking (HA_DONTASK,
    // behaviour §4.4/§4.6) and no `ip-request` came: both ran it for ever.
    let mut c = legacy_holding_both();
    from2(&mut c, at(30), 1, None, peer_status(NodeStatus::Up));
    let acts = from2(&mut c, at(31), 2, None, peer_status(NodeStatus::Active));
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Run(_))),
        "its `ip-request` may follow its first active heartbeat: {acts:?}"
    );
    // Its next heartbeat, and no `ip-request`: it runs the group already.
    let acts = from2(&mut c, at(32), 3, None, peer_status(NodeStatus::Active));
    assert!(
        acts.contains(&Action::Notice(Notice::SplitBrainRelease(
            Hold::FOREIGN,
            n("node2")
        ))),
        "{acts:?}"
    );
    let acts = run_jobs(&mut c, at(32), acts);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Run(j) if j.op == JobOp::Stop && j.group == 1)),
        "{acts:?}"
    );
    assert_eq!(
        c.status().groups,
        vec![GroupState::Running, GroupState::Stopped],
        "node1's own group keeps running"
    );
}

#[test]
fn legacy_rejoin_by_ip_request_is_not_healed_again() {
    // The usual rejoin (behaviour §4.8): the peer asks with `ip-request`; that is the
    // only give-back.
    let mut c = legacy_holding_both();
    from2(&mut c, at(30), 1, None, peer_status(NodeStatus::Up));
    from2(&mut c, at(31), 2, None, peer_status(NodeStatus::Active));
    let ask = Msg::IpRequest {
        key: "10.0.0.2".into(),
    };
    let acts = from2(&mut c, at(31), 3, None, ask);
    run_jobs(&mut c, at(31), acts);
    assert_eq!(c.status().groups[1], GroupState::Stopped);
    let acts = from2(&mut c, at(32), 4, None, peer_status(NodeStatus::Active));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::Notice(Notice::SplitBrainRelease(..)))),
        "{acts:?}"
    );
}

#[test]
fn ipfail_tells_its_count_again_to_a_peer_that_regained_contact() {
    // Seed 289104: node2 had counted node1 dead (node1 stalled) and forgot node1's ping
    // node count; node1 never lost node2 and its count had not changed, so it never sent
    // it again. node2 then failed back to node1 (which saw fewer ping nodes) and took
    // node1's later ipfail hand-over as an ordinary one: no failback once the counts
    // balanced. node2's `starting` (contact regained) now gets our count first.
    let mut with_ipfail = cfg();
    with_ipfail.ipfail = true;
    with_ipfail.ping_nodes = ping_node();
    let mut c = stable_pair_with(with_ipfail);
    let count = Msg::NumPingNodes { count: 1 };
    from2(&mut c, at(2), 5, Some("node1"), count.clone());
    let out = sent(&from2(&mut c, at(3), 6, None, Msg::Starting));
    let ours = out.iter().position(|p| p.msg == count);
    let report = out
        .iter()
        .position(|p| matches!(p.msg, Msg::Resource { .. }));
    assert!(ours.is_some(), "our count again: {out:?}");
    assert!(ours < report, "before our report: {out:?}");
    // A count the peer sent after its `starting` (overtaking it) was answered already.
    from2(&mut c, at(4), 8, Some("node1"), count.clone());
    let out = sent(&from2(&mut c, at(4), 7, None, Msg::Starting));
    assert!(!out.iter().any(|p| p.msg == count), "{out:?}");
}

#[test]
fn ipfail_asks_ours_back_when_a_hand_over_completes_after_the_counts_balanced() {
    // Seed 411830: node1 saw fewer ping nodes and asked to hand everything over, but the
    // request was lost in a partition and retransmitted after the heal, when the counts
    // had balanced on both sides. node1's balanced count found it still holding its groups
    // and dropped its "ask them back" note; node2 then took the hand-over as plain. Nothing
    // failed the groups back. The note now survives until the hand-over completes.
    let mut with_ipfail = cfg();
    with_ipfail.ipfail = true;
    with_ipfail.ping_nodes = ping_node();
    let mut c = stable_pair_with(with_ipfail);
    let ping = |c: &mut Cluster, t| {
        c.handle(t, ping_reply());
        drain(c);
    };
    // node2 sees more ping nodes: we give everything up 2 s later.
    from2(
        &mut c,
        at(2),
        5,
        Some("node1"),
        Msg::NumPingNodes { count: 2 },
    );
    ping(&mut c, at(3));
    let acts = run_to(&mut c, at(4));
    assert!(
        acts.contains(&Action::Notice(Notice::WantsStandby(n("node1"), Hold::ALL))),
        "{acts:?}"
    );
    // The counts balance before node2 has answered the hand-over.
    from2(
        &mut c,
        at(5),
        6,
        Some("node1"),
        Msg::NumPingNodes { count: 1 },
    );
    let other = Msg::AskResources {
        set: Hold::ALL,
        phase: Phase::Other,
    };
    let acts = from2(&mut c, at(5), 7, None, other);
    run_jobs(&mut c, at(5), acts);
    assert_eq!(c.status().groups[0], GroupState::Stopped, "handed over");
    let done = Msg::AskResources {
        set: Hold::ALL,
        phase: Phase::Done,
    };
    let out = sent(&from2(&mut c, at(6), 8, None, done));
    assert!(
        out.iter().any(|p| p.msg
            == Msg::HbTakeover {
                set: "local".into()
            }),
        "ours asked back once the hand-over completed: {out:?}"
    );
}
