//! Named scenarios: the two-node stories of behaviour spec §4.5–§4.11, plus fencing,
//! split-brain healing, script failures and the adversary. Each asserts the outcome and
//! snapshots its trace (virtual-time-stamped notices, wire summaries, script runs) in
//! `tests/sim/snapshots/NAME.trace` (`HB_SIM_BLESS=1` rewrites them).

use std::path::PathBuf;

use heartbeat_rs::cluster::{Command, GroupState, Hold, NodeStatus};
use heartbeat_rs::config::AutoFailback;
use heartbeat_rs::time::{Duration, Instant};

use crate::world::{DEADTIME, KEEPALIVE, MAX_LATENCY, Shape, World};

fn s(x: u64) -> Instant {
    Instant::from_micros(x * 1_000_000)
}

fn snapshot(name: &str, w: &World) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sim/snapshots");
    let path = dir.join(format!("{name}.trace"));
    let got = w.dump();
    let bless = std::env::var("HB_SIM_BLESS").is_ok_and(|v| v == "1");
    match std::fs::read_to_string(&path) {
        Ok(want) if !bless => {
            if want != got {
                let diff = want
                    .lines()
                    .zip(got.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(want.lines().count().min(got.lines().count()));
                panic!(
                    "trace of {name} differs from {} at line {} (HB_SIM_BLESS=1 to accept):\n  want: {:?}\n  got:  {:?}",
                    path.display(),
                    diff + 1,
                    want.lines().nth(diff),
                    got.lines().nth(diff)
                );
            }
        }
        _ => {
            let _ = std::fs::create_dir_all(&dir);
            std::fs::write(&path, got).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        }
    }
}

fn clean(w: &World) {
    assert!(
        w.violations.is_empty(),
        "violations: {:#?}\n{}",
        w.violations,
        w.dump()
    );
}

fn pair_started(mode: AutoFailback, seed: u64) -> World {
    let mut w = World::new(seed, Shape::pair(mode));
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w
}

fn holder(w: &World, g: usize) -> Vec<usize> {
    w.held_by(g)
}

#[test]
fn s4_5_node_starting_alone_declares_peer_dead_after_initdead_and_takes_all() {
    let mut w = World::new(1, Shape::pair(AutoFailback::On));
    w.start_at(s(0), 0);
    w.run_until(s(19));
    assert_eq!(
        holder(&w, 0),
        Vec::<usize>::new(),
        "nothing before initdead"
    );
    w.run_until(s(40));
    assert_eq!(holder(&w, 0), vec![0]);
    assert_eq!(holder(&w, 1), vec![0]);
    assert_eq!(w.notices("WARN: node node2: is dead"), 1);
    assert_eq!(w.notices("WARN: No STONITH device configured."), 1);
    assert_eq!(w.notices("Resources being acquired from node2."), 1);
    assert_eq!(w.notices("Comm_now_up(): updating status to active"), 1);
    clean(&w);
    snapshot("s4_5_start_alone", &w);
}

#[test]
fn s4_6_two_nodes_starting_together_each_take_their_own() {
    let mut w = pair_started(AutoFailback::On, 2);
    w.run_until(s(40));
    assert_eq!(holder(&w, 0), vec![0]);
    assert_eq!(holder(&w, 1), vec![1]);
    assert!(w.notices("reqnodes") >= 2 && w.notices("repnodes") >= 2);
    assert_eq!(w.notices("is dead"), 0);
    w.check_liveness("started");
    clean(&w);
    snapshot("s4_6_both_start", &w);
}

#[test]
fn s4_8_late_joiner_gets_its_group_back_with_auto_failback_on() {
    let mut w = World::new(3, Shape::pair(AutoFailback::On));
    w.start_at(s(0), 0);
    w.start_at(s(40), 1);
    w.run_until(s(39));
    assert_eq!(
        holder(&w, 1),
        vec![0],
        "node1 took node2's group at initdead"
    );
    // As heartbeat's fixture 04 (failback a second after the joiner's comm-up): the holder
    // asks once the joiner reports stable, not before its comm-up (which cost the 10 s
    // standby timeout).
    w.run_until(s(45));
    assert_eq!(
        holder(&w, 1),
        vec![1],
        "auto failback returned it within seconds"
    );
    w.run_until(s(90));
    assert_eq!(holder(&w, 1), vec![1], "auto failback returned it");
    assert_eq!(
        w.notices("node1 wants to go standby [foreign]"),
        2,
        "asked once (both nodes log it)"
    );
    assert_eq!(w.notices("No reply to standby request."), 0);
    assert_eq!(w.notices("Standby resource acquisition done [foreign]."), 1);
    w.check_liveness("after failback");
    clean(&w);
    snapshot("s4_8_join_failback", &w);
}

fn crash_story(mode: AutoFailback, seed: u64) -> World {
    let mut w = pair_started(mode, seed);
    w.run_until(s(40));
    assert_eq!(holder(&w, 0), vec![0]);
    w.crash_at(s(50), 0);
    w
}

#[test]
fn s4_7_peer_death_is_noticed_and_taken_over_within_t1() {
    let mut w = crash_story(AutoFailback::On, 4);
    // T1: deadtime + keepalive (+ the last heartbeat's delivery delay).
    let bound = s(50) + DEADTIME + KEEPALIVE + MAX_LATENCY;
    w.run_until(s(50) + DEADTIME.saturating_sub(KEEPALIVE));
    assert_eq!(holder(&w, 0), Vec::<usize>::new(), "crash took it down");
    assert_eq!(
        w.notices("node node1: is dead"),
        0,
        "not before the dead time"
    );
    w.run_until(bound);
    assert_eq!(w.notices("WARN: node node1: is dead"), 1);
    assert_eq!(w.notices("Resources being acquired from node1."), 1);
    w.run_until(s(70));
    assert_eq!(holder(&w, 0), vec![1]);
    assert_eq!(w.notices("mach_down takeover complete."), 1);
    assert_eq!(w.notices("Link node1:eth0 dead."), 1);
    clean(&w);
    snapshot("s4_7_crash_takeover", &w);
}

#[test]
fn s4_8_rejoin_fails_back_with_on_stays_with_off_and_pulls_with_legacy() {
    for (mode, back) in [
        (AutoFailback::On, 0),
        (AutoFailback::Off, 1),
        (AutoFailback::Legacy, 0),
    ] {
        let mut w = crash_story(mode, 5);
        w.start_at(s(80), 0);
        w.run_until(s(140));
        assert_eq!(holder(&w, 0), vec![back], "{mode:?}");
        assert_eq!(holder(&w, 1), vec![1], "{mode:?}");
        assert_eq!(w.notices("Heartbeat restart on node node1"), 1, "{mode:?}");
        clean(&w);
        snapshot(&format!("s4_8_rejoin_{mode:?}").to_lowercase(), &w);
    }
}

#[test]
fn s4_9_hb_standby_moves_everything_to_the_peer_and_back() {
    let mut w = pair_started(AutoFailback::On, 6);
    w.cmd_at(s(40), 0, Command::Standby(Hold::ALL));
    w.run_until(s(60));
    assert_eq!(holder(&w, 0), vec![1]);
    assert_eq!(holder(&w, 1), vec![1]);
    for line in [
        "node1 wants to go standby [all]",
        "standby: node2 can take our all resources",
        "give up all HA resources (standby).",
        "all HA resource release completed (standby).",
        "Local standby process completed [all].",
        "standby: acquire [all] resources from node1",
        "Standby resource acquisition done [all].",
        "Other node completed standby takeover of all resources.",
    ] {
        assert!(w.notices(line) >= 1, "missing {line:?}");
    }
    w.cmd_at(s(61), 1, Command::Standby(Hold::FOREIGN));
    w.run_until(s(90));
    assert_eq!(holder(&w, 0), vec![0], "node2 gave node1's group back");
    assert_eq!(holder(&w, 1), vec![1]);
    clean(&w);
    snapshot("s4_9_standby", &w);
}

#[test]
fn s4_9_simultaneous_standby_requests_both_time_out_after_10_s() {
    let mut w = pair_started(AutoFailback::On, 7);
    w.cmd_at(s(41), 0, Command::Standby(Hold::ALL));
    w.cmd_at(s(41), 1, Command::Standby(Hold::ALL));
    w.run_until(s(50));
    assert_eq!(w.notices("No reply to standby request."), 0);
    assert_eq!(w.notices("Standby in progress- new request from"), 2);
    w.run_until(s(53));
    assert_eq!(
        w.notices("No reply to standby request.  Standby request cancelled."),
        2
    );
    assert_eq!(holder(&w, 0), vec![0], "nothing moved");
    assert_eq!(holder(&w, 1), vec![1], "nothing moved");
    clean(&w);
}

#[test]
fn s4_10_hb_takeover_makes_the_peer_go_standby() {
    let mut w = pair_started(AutoFailback::On, 8);
    w.cmd_at(s(40), 1, Command::Takeover("all".into()));
    w.run_until(s(60));
    assert_eq!(holder(&w, 0), vec![1]);
    assert_eq!(holder(&w, 1), vec![1]);
    assert!(w.notices("node1 wants to go standby [all]") >= 1);
    clean(&w);
    snapshot("s4_10_takeover", &w);
}

#[test]
fn s4_11_graceful_shutdown_hands_over_without_fencing() {
    let mut shape = Shape::pair(AutoFailback::On);
    shape.stonith = true;
    let mut w = World::new(9, shape);
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.cmd_at(s(40), 0, Command::Shutdown);
    w.run_until(s(75));
    assert!(w.node_status(0).is_none(), "node1 exited");
    assert_eq!(holder(&w, 0), vec![1]);
    assert_eq!(holder(&w, 1), vec![1]);
    for line in [
        "Heartbeat shutdown in progress. (4000)",
        "Giving up all HA resources.",
        "All HA resources relinquished.",
        "node1 Heartbeat shutdown complete.",
        "Received shutdown notice from 'node1'.",
        "Dead node node1 gave up resources.",
    ] {
        assert_eq!(w.notices(line), 1, "missing {line:?}");
    }
    assert_eq!(
        w.notices("Resetting node"),
        0,
        "no STONITH after a clean shutdown"
    );
    clean(&w);
    snapshot("s4_11_shutdown", &w);
}

#[test]
fn stonith_takeover_waits_for_a_successful_fence_retrying_every_5_s() {
    let mut shape = Shape::pair(AutoFailback::On);
    shape.stonith = true;
    let mut w = World::new(10, shape);
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.run_until(s(40));
    w.fence_failures = 2;
    w.stall_at(s(50), 0, Duration::from_secs(120)); // alive but silent: must be fenced
    w.run_until(s(62));
    assert_eq!(w.notices("Resetting node node1 with [sim fence device]"), 1);
    assert_eq!(
        holder(&w, 0),
        vec![0],
        "nothing taken over while the fence fails"
    );
    w.run_until(s(90));
    assert_eq!(w.notices("STONITH of node1 failed.  Retrying..."), 2);
    assert_eq!(w.notices("node node1 now reset."), 1);
    assert_eq!(holder(&w, 0), vec![1]);
    clean(&w);
    snapshot("stonith_retry", &w);
}

#[test]
fn split_brain_heals_with_one_keeper_per_group_and_no_restart() {
    for mode in [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy] {
        let mut w = pair_started(mode, 11);
        w.run_until(s(40));
        for m in 0..2 {
            w.cut_at(s(40), m, 0, 1, false);
        }
        w.heal_at(s(70));
        w.run_until(s(69));
        assert_eq!(
            holder(&w, 0),
            vec![0, 1],
            "{mode:?}: split brain during the partition"
        );
        w.run_until(s(110));
        let keeper0 = holder(&w, 0);
        let keeper1 = holder(&w, 1);
        assert_eq!(keeper0.len(), 1, "{mode:?}");
        assert_eq!(keeper1.len(), 1, "{mode:?}");
        match mode {
            AutoFailback::Off => {
                assert_eq!(
                    (keeper0[0], keeper1[0]),
                    (0, 0),
                    "ties go to the smaller name"
                )
            }
            _ => assert_eq!((keeper0[0], keeper1[0]), (0, 1), "home keeps"),
        }
        assert_eq!(w.notices("returning after partition"), 2, "{mode:?}");
        // No restart: nothing was started after the heal on the keeper.
        let heal_starts = w
            .trace
            .iter()
            .filter(|l| l.contains("RUN") && l.contains("Start"))
            .filter(|l| {
                l.split(' ')
                    .next()
                    .and_then(|t| t.parse::<f64>().ok())
                    .is_some_and(|t| t > 70.0)
            })
            .count();
        assert_eq!(heal_starts, 0, "{mode:?}: no restarts");
        clean(&w);
        snapshot(&format!("split_brain_{mode:?}").to_lowercase(), &w);
    }
}

#[test]
fn start_failure_releases_the_group_and_hands_it_over() {
    let mut w = World::new(12, Shape::pair(AutoFailback::On));
    w.script_fail
        .push((0, 0, 1, heartbeat_rs::cluster::JobOp::Start, 1));
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.run_until(s(20));
    assert_eq!(holder(&w, 0), Vec::<usize>::new(), "released right to left");
    assert_eq!(
        w.node_status(0).map(|st| st.groups[0].clone()),
        Some(GroupState::Failed)
    );
    assert_eq!(
        w.notices("CRIT: Giving up resources due to failure of svc111"),
        1
    );
    w.run_until(s(70));
    assert_eq!(holder(&w, 0), vec![1], "offered to the peer 30 s later");
    clean(&w);
    snapshot("start_failure", &w);
}

#[test]
fn stop_failure_retries_then_asks_for_a_reboot() {
    let mut w = World::new(13, Shape::pair(AutoFailback::On));
    w.script_fail
        .push((0, 0, 0, heartbeat_rs::cluster::JobOp::Stop, 100));
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.cmd_at(s(40), 0, Command::Standby(Hold::LOCAL));
    w.run_until(s(60));
    assert_eq!(w.notices("Retrying failed stop operation [10.0.1.1]"), 10);
    assert_eq!(
        w.notices("CRIT: Resource STOP failure. Reboot required!"),
        1
    );
    assert_eq!(w.notices("REBOOT"), 1);
    w.run_until(s(120));
    assert_eq!(holder(&w, 0).len(), 1);
    clean(&w);
}

#[test]
fn forged_and_replayed_packets_change_nothing() {
    let mut w = pair_started(AutoFailback::On, 14);
    for k in 0..200 {
        let t = s(5) + Duration::from_millis(k * 173);
        w.forge_at(t, (k % 2) as usize);
        w.replay_at(t + Duration::from_millis(50), ((k + 1) % 2) as usize);
    }
    w.run_until(s(60));
    let st = w.node_status(0).map(|st| st.drops).unwrap_or_default();
    assert!(st[3] > 0, "bad auth counted: {st:?}");
    assert!(st[7] > 0, "replays counted: {st:?}");
    w.check_liveness("under attack");
    clean(&w);
}

#[test]
fn sixteen_nodes_converge_after_partitions_and_crashes() {
    let shape = Shape {
        nodes: 16,
        media: 2,
        mode: AutoFailback::On,
        stonith: false,
        groups_per_node: 0,
        resources_per_group: 1,
        ping: true,
        two_pings: false,
        ipfail: false,
        fence_delay: Duration::ZERO,
    };
    let mut w = World::new(15, shape);
    for n in 0..16 {
        w.start_at(Instant::from_micros(n as u64 * 300_000), n);
    }
    w.crash_at(s(30), 3);
    w.start_at(s(50), 3);
    w.cut_at(s(35), 0, 1, 2, false);
    w.heal_at(s(60));
    w.run_until(s(100));
    w.check_liveness("16 nodes");
    for n in 0..16 {
        let st = w.node_status(n).expect("running");
        assert!(st.comm_up);
        assert!(
            st.nodes
                .iter()
                .filter(|v| !v.is_ping)
                .all(|v| v.status == NodeStatus::Active)
        );
    }
    clean(&w);
}

/// What `scripts/demo` shows without root: the crash story of §4.7 in the simulator, printed
/// as a timeline relative to the crash (run with `--nocapture`). Asserts the takeover, so it
/// is a test as well as a demo.
#[test]
fn demo_failover_timeline() {
    let crash = s(50);
    let mut w = crash_story(AutoFailback::On, 4);
    w.run_until(s(70));
    assert_eq!(holder(&w, 0), vec![1], "node2 took the group over");
    clean(&w);
    println!(
        "\nsimulated failover (keepalive {} ms, deadtime {} ms), times relative to node1's crash:",
        KEEPALIVE.as_millis(),
        DEADTIME.as_millis()
    );
    let crash_secs = crash.as_micros() as f64 / 1e6;
    for line in w.dump().lines() {
        let Some((t, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(t) = t.parse::<f64>() else { continue };
        let interesting = !rest.contains(" SEND ") && !rest.contains(" RECV ");
        if interesting && t >= crash_secs - 0.001 && t <= crash_secs + 10.0 {
            println!("  {:+8.3} s  {rest}", t - crash_secs);
        }
    }
}

fn guarded_pair(mode: AutoFailback, seed: u64, f: impl FnOnce(&mut Shape)) -> World {
    let mut shape = Shape::pair(mode);
    shape.ping = true;
    f(&mut shape);
    let mut w = World::new(seed, shape);
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w
}

#[test]
fn ipfail_hands_everything_to_the_node_that_sees_more_ping_nodes_and_back() {
    // behaviour spec §5.2 with the built-in ipfail: node1 loses its ping node, node2 still
    // sees it: node1 hands both groups over; once node1 sees it again, auto_failback on
    // brings its group home.
    let mut w = guarded_pair(AutoFailback::On, 21, |s| s.ipfail = true);
    w.run_until(s(40));
    assert_eq!((holder(&w, 0), holder(&w, 1)), (vec![0], vec![1]));
    w.ping_cut_at(s(40), 0, "10.0.0.254");
    w.run_until(s(51));
    let st = w.node_status(0).expect("node1 runs");
    assert_eq!(st.guard.ping_visible, 0);
    assert_eq!(st.guard.peer_ping_visible, Some(1));
    assert!(st.guard.ipfail);
    w.run_until(s(70));
    assert_eq!(
        w.notices("node1 info: Giving up because we have less visible ping nodes."),
        1
    );
    assert_eq!(
        w.notices("node2 info: Telling other node that we have more visible ping nodes."),
        1
    );
    assert_eq!(w.notices("node1 wants to go standby [all]"), 2);
    assert_eq!(
        (holder(&w, 0), holder(&w, 1)),
        (vec![1], vec![1]),
        "all on node2"
    );
    w.heal_at(s(70));
    w.run_until(s(100));
    assert_eq!(
        w.notices("node2 info: Giving up foreign resources (auto_failback)."),
        1
    );
    assert_eq!(
        (holder(&w, 0), holder(&w, 1)),
        (vec![0], vec![1]),
        "failed back"
    );
    w.check_liveness("after ipfail");
    clean(&w);
    snapshot("ipfail_handover", &w);
}

#[test]
fn tie_breaker_an_isolated_node_releases_and_takes_nothing_over() {
    // issue #8: two nodes, no fence device, one ping node. node1 loses both node2 and the
    // ping node: it assumes it is the cut-off one, releases its group and takes nothing;
    // node2 still sees the ping node and takes node1's group over. Never both.
    let mut w = guarded_pair(AutoFailback::On, 22, |_| {});
    w.run_until(s(40));
    for m in 0..2 {
        w.cut_at(s(40), m, 0, 1, false);
    }
    w.ping_cut_at(s(40), 0, "10.0.0.254");
    w.run_until(s(52));
    let st = w.node_status(0).expect("node1 runs");
    assert!(st.guard.isolated, "node1 knows it is isolated");
    assert!(!w.node_status(1).expect("node2 runs").guard.isolated);
    assert_eq!(
        w.notices("node1 WARN: heartbeat-rs: this node is isolated (neither the peer nor any ping node visible)"),
        1
    );
    w.run_until(s(69));
    assert_eq!(
        w.notices("node1 WARN: heartbeat-rs: not taking over from node2"),
        1
    );
    assert_eq!(
        (holder(&w, 0), holder(&w, 1)),
        (vec![1], vec![1]),
        "node2 runs both"
    );
    w.heal_at(s(70));
    w.run_until(s(110));
    assert_eq!(
        w.notices("node1 info: heartbeat-rs: this node is no longer isolated"),
        1
    );
    assert_eq!((holder(&w, 0), holder(&w, 1)), (vec![0], vec![1]));
    w.check_liveness("after isolation");
    clean(&w);
    snapshot("tie_breaker", &w);
}

#[test]
fn fence_race_the_favoured_node_fences_at_once_the_other_waits() {
    // issue #8: STONITH and `fence_delay 10`, both nodes run one group each: node1 is the
    // home of the first group, so it is favoured. A partition: node1 fences node2 at once;
    // node2 waits 10 s and is reset before it shoots.
    let mut shape = Shape::pair(AutoFailback::On);
    shape.stonith = true;
    shape.fence_delay = Duration::from_secs(10);
    let mut w = World::new(23, shape);
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.run_until(s(40));
    for m in 0..2 {
        w.cut_at(s(40), m, 0, 1, false);
    }
    w.run_until(s(56));
    assert_eq!(
        w.notices("node1 info: Resetting node node2 with [sim fence device]"),
        1
    );
    assert_eq!(
        w.notices("node2 info: heartbeat-rs: fence race delay: fencing node1 in 10000 ms"),
        1
    );
    assert_eq!(w.notices("node2 FENCED"), 1);
    assert_eq!(w.notices("node1 FENCED"), 0);
    let st = w.node_status(0).expect("node1 survives");
    let f = st
        .fencing
        .iter()
        .find(|f| f.node.as_str() == "node2")
        .expect("fencing node2");
    assert_eq!((f.attempts, f.in_progress), (1, false));
    assert!(matches!(f.last_result, Some((true, _))));
    w.run_until(s(60));
    assert_eq!((holder(&w, 0), holder(&w, 1)), (vec![0], vec![0]));
    assert_eq!(
        w.notices("node2 info: Resetting node"),
        0,
        "node2 never shot"
    );
    w.heal_at(s(60));
    w.run_until(s(130));
    w.check_liveness("after the race");
    clean(&w);
    snapshot("fence_race", &w);
}

#[test]
fn majority_a_node_in_the_minority_of_three_knows_it() {
    let shape = Shape {
        nodes: 3,
        media: 1,
        mode: AutoFailback::On,
        stonith: false,
        groups_per_node: 0,
        resources_per_group: 1,
        ping: false,
        two_pings: false,
        ipfail: false,
        fence_delay: Duration::ZERO,
    };
    let mut w = World::new(24, shape);
    for n in 0..3 {
        w.start_at(s(n as u64), n);
    }
    w.run_until(s(30));
    w.cut_at(s(30), 0, 2, 0, false);
    w.cut_at(s(30), 0, 2, 1, false);
    w.run_until(s(45));
    assert!(w.node_status(2).expect("node3").guard.isolated);
    assert!(!w.node_status(0).expect("node1").guard.isolated);
    assert!(!w.node_status(1).expect("node2").guard.isolated);
    w.heal_at(s(45));
    w.run_until(s(60));
    assert!(!w.node_status(2).expect("node3").guard.isolated);
    clean(&w);
}

#[test]
fn s4_12_quick_restart_keeps_the_group_and_the_peer_takes_nothing() {
    for mode in [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy] {
        for restarting in [0, 1] {
            let mut w = pair_started(mode, 12);
            w.run_until(s(40));
            assert_eq!(holder(&w, 0), vec![0], "{mode:?}");
            assert_eq!(holder(&w, 1), vec![1], "{mode:?}");
            let runs_before = w.trace.iter().filter(|l| l.contains(" RUN ")).count();
            w.quick_restart_at(s(45), restarting);
            // Every 50 ms: each group up exactly once, where it was, the whole time.
            let mut t = s(40);
            while t < s(90) {
                t += Duration::from_millis(50);
                w.run_until(t);
                assert_eq!(
                    holder(&w, 0),
                    vec![0],
                    "{mode:?} node{} at {t}",
                    restarting + 1
                );
                assert_eq!(
                    holder(&w, 1),
                    vec![1],
                    "{mode:?} node{} at {t}",
                    restarting + 1
                );
            }
            let runs_after = w.trace.iter().filter(|l| l.contains(" RUN ")).count();
            let label = format!("{mode:?} node{}", restarting + 1);
            assert_eq!(
                runs_before,
                runs_after,
                "{label}: no script ran\n{}",
                w.dump()
            );
            assert_eq!(w.notices("QUICK-RESTART"), 1, "{label}: restarted once");
            let peer = if restarting == 0 { "node1" } else { "node2" };
            assert_eq!(
                w.notices(&format!("Heartbeat restart on node {peer}")),
                1,
                "{label}"
            );
            assert_eq!(w.notices("is dead"), 0, "{label}: nobody saw a death");
            assert_eq!(w.notices("Resources being acquired"), 0, "{label}");
            if mode != AutoFailback::Legacy {
                assert_eq!(w.notices("Current resources: -R -C local"), 1, "{label}");
            }
            w.check_liveness(&format!("after the quick restart ({label})"));
            clean(&w);
            if restarting == 0 {
                snapshot(&format!("s4_12_quick_restart_{mode:?}").to_lowercase(), &w);
            }
        }
    }
}
