//! Golden test: the daemon's notices render exactly as heartbeat 3.0.6 logged them in the
//! fixture failover stories (`shared/fixtures/heartbeat-3.0.6/logs/*.ha-log`, behaviour
//! spec §9.3).

mod common;

use std::collections::BTreeSet;

use heartbeat_rs::cluster::{Hold, NodeStatus, Notice};
use heartbeat_rs::config::NodeName;

/// Every `PRIO: TEXT` the daemon wrote (`... heartbeat: [PID]: PRIO: TEXT`).
fn fixture_lines() -> BTreeSet<String> {
    let dir = common::fixture("logs");
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(&dir).expect("fixture logs") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "ha-log") {
            let text = std::fs::read_to_string(&p).expect("read");
            for line in text.lines() {
                if let Some(i) = line.find("heartbeat: [")
                    && let Some(j) = line[i..].find("]: ")
                {
                    out.insert(line[i + j + 3..].to_string());
                }
            }
        }
    }
    out
}

fn n(s: &str) -> NodeName {
    NodeName::new(s)
}

#[test]
fn notices_match_heartbeat_text_byte_for_byte() {
    let lines = fixture_lines();
    let cases = vec![
        Notice::Generation(1795303295),
        Notice::LocalStatus(NodeStatus::Up),
        Notice::LocalStatus(NodeStatus::Active),
        Notice::LinkUp(n("node1"), "eth0".into()),
        Notice::LinkDead(n("node1"), "eth0".into()),
        Notice::StatusUpdate(n("node2"), NodeStatus::Active),
        Notice::StatusUpdate(n("node1"), NodeStatus::Up),
        Notice::NodeDead(n("node1")),
        Notice::CommUp,
        Notice::HeartbeatRestart(n("node1")),
        Notice::NoPktsMissing(n("node2")),
        Notice::LostPackets(1, n("node2"), 70, 72),
        Notice::NoStonith,
        Notice::SharedDisks,
        Notice::ResourcesBeingAcquired(n("node1")),
        Notice::DeadNodeGaveUp(n("node1")),
        Notice::MachDownComplete,
        Notice::InitialAcquisitionComplete("auto_failback"),
        Notice::InitialAcquisitionComplete("mach_down"),
        Notice::LocalAcquisitionCompleted,
        Notice::LocalAcquisitionNone,
        Notice::NoLocalResources(n("node2")),
        Notice::RemoteTransitionCompleted,
        Notice::LocalTransitionCompleted,
        Notice::WantsStandby(n("node1"), Hold::FOREIGN),
        Notice::WantsStandby(n("node2"), Hold::ALL),
        Notice::StandbyCanTake(n("node2"), Hold::FOREIGN),
        Notice::GiveUpStandby(Hold::ALL),
        Notice::ReleaseCompletedStandby(Hold::FOREIGN),
        Notice::LocalStandbyCompleted(Hold::ALL),
        Notice::OtherCompletedStandby(Hold::FOREIGN),
        Notice::StandbyAcquireFrom(Hold::FOREIGN, n("node2")),
        Notice::AcquireStandby(Hold::LOCAL),
        Notice::AcquisitionCompletedStandby(Hold::ALL),
        Notice::StandbyAcquisitionDone(Hold::FOREIGN),
        Notice::ShutdownInProgress(11639),
        Notice::GivingUpAll,
        Notice::AllRelinquished,
        Notice::ShutdownComplete(n("node1")),
        Notice::ReceivedShutdownNotice(n("node1")),
    ];
    let mut missing = Vec::new();
    for c in &cases {
        assert!(!c.is_ours(), "{c:?} is heartbeat's own line");
        let line = format!("{}: {}", c.priority().word(), c);
        if !lines.contains(&line) {
            missing.push(line);
        }
    }
    assert!(missing.is_empty(), "not in the fixture logs: {missing:#?}");
}

#[test]
fn spec_texts_without_a_fixture_line() {
    // Behaviour spec §9.3 / §4 texts the captured stories do not contain.
    let cases = [
        (
            Notice::StonithRetry(n("node2")),
            "ERROR: STONITH of node2 failed.  Retrying...",
        ),
        (
            Notice::Resetting(n("node2"), "Meatware STONITH device".into()),
            "info: Resetting node node2 with [Meatware STONITH device]",
        ),
        (Notice::NodeReset(n("node2")), "info: node node2 now reset."),
        (
            Notice::ReturningAfterPartition(n("node2")),
            "CRIT: Cluster node node2 returning after partition.",
        ),
        (
            Notice::LateHeartbeat(n("node2"), 16000),
            "WARN: Late heartbeat: Node node2: interval 16000 ms",
        ),
        (
            Notice::StandbyNoReply,
            "WARN: No reply to standby request.  Standby request cancelled.",
        ),
        (
            Notice::StopFailureReboot,
            "CRIT: Resource STOP failure. Reboot required!",
        ),
        (
            Notice::GivingUpDueToFailure("httpd".into()),
            "CRIT: Giving up resources due to failure of httpd",
        ),
        (
            Notice::ReplayAttack(n("node2"), 5, 6),
            "ERROR: should_drop_message: attempted replay attack [node2]? [gen = 5, curgen = 6]",
        ),
        (
            Notice::UuidChanged(n("node2"), [0xab; 16]),
            "info: node node2 changed its uuid to abababab-abab-abab-abab-abababababab",
        ),
        (
            Notice::SplitBrainKeep(Hold::LOCAL, n("node2"), 1),
            "info: heartbeat-rs: split brain with node2 healed: keeping local resources, re-announcing addresses",
        ),
        (
            Notice::SplitBrainKeep(Hold::LOCAL, n("node2"), 0),
            "info: heartbeat-rs: split brain with node2 healed: keeping local resources (no resource groups here, nothing to re-announce)",
        ),
        (
            Notice::BadNode(n("nodex")),
            "ERROR: process_status_message: bad node [nodex] in message",
        ),
        (
            Notice::StandbyFluxOther(n("node1")),
            "WARN: standby message [me] from node1 ignored.  Other side is in flux.",
        ),
        (
            Notice::StandbyIgnored("done", n("node1"), 0),
            "ERROR: Ignored standby message 'done' from node1 in state 0",
        ),
    ];
    for (notice, want) in cases {
        assert_eq!(format!("{}: {}", notice.priority().word(), notice), want);
    }
}

#[test]
fn our_additions_are_marked_as_ours() {
    for n in [
        Notice::Stalled(12000),
        Notice::SplitBrainKeep(Hold::LOCAL, n("node2"), 1),
        Notice::SplitBrainKeep(Hold::LOCAL, n("node2"), 0),
        Notice::SplitBrainRelease(Hold::FOREIGN, n("node2")),
        Notice::HandOverAfterFailure(Hold::LOCAL),
        Notice::Isolated("no peer and no ping node"),
        Notice::NoLongerIsolated,
        Notice::TakeoverHeldIsolated(n("node2")),
        Notice::FenceDelayed(n("node2"), 15000),
        Notice::RcNative("status".into()),
        Notice::RcQueueFull("foo".into()),
    ] {
        assert!(n.is_ours());
        assert!(n.to_string().starts_with("heartbeat-rs: "), "{n}");
    }
}
