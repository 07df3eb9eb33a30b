//! Typed log lines. `Display` is heartbeat's exact text (behaviour spec §9.3); the priority
//! word is separate. Lines heartbeat never logs are ours and start with `heartbeat-rs:`.

use std::fmt;

use super::codec::AuthFailure;
use super::msg::{Hold, NodeStatus};
use crate::config::NodeName;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Debug,
    Info,
    Warn,
    Err,
    Crit,
}

impl Priority {
    /// The word heartbeat writes before the text.
    pub fn word(self) -> &'static str {
        match self {
            Priority::Debug => "debug",
            Priority::Info => "info",
            Priority::Warn => "WARN",
            Priority::Err => "ERROR",
            Priority::Crit => "CRIT",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Generation(u64),
    LocalStatus(NodeStatus),
    LinkUp(NodeName, String),
    LinkDead(NodeName, String),
    StatusUpdate(NodeName, NodeStatus),
    NodeDead(NodeName),
    CommUp,
    HeartbeatRestart(NodeName),
    LateHeartbeat(NodeName, u64),
    LateHeartbeatDead(NodeName, u64),
    ReturningAfterPartition(NodeName),
    SplitBrainUrl,
    DeadtimeTooSmall,
    TuningFaq,
    HeavyLoadUrl,
    LostPackets(u64, NodeName, u64, u64),
    LostALot,
    Irretrievable(NodeName, u64),
    NoPktsMissing(NodeName),
    ReplayAttack(NodeName, u64, u64),
    BadNode(NodeName),
    /// A peer's `srcuuid` differs from the one it sent before (wire spec §6 step 4).
    UuidChanged(NodeName, [u8; 16]),
    /// rc.d scripts present for types the core handles natively (not run), space-separated.
    RcNative(String),
    /// An rc.d notification for this type was dropped: too many are waiting.
    RcQueueFull(String),
    /// A datagram failed authentication (rate-limited by the caller; heartbeat logs each).
    AuthFailed(AuthFailure),
    NoStonith,
    SharedDisks,
    Resetting(NodeName, String),
    NodeReset(NodeName),
    StonithRetry(NodeName),
    ResourcesBeingAcquired(NodeName),
    DeadNodeGaveUp(NodeName),
    MachDownComplete,
    TakingOver(String),
    NiceFailbackForeignAcquired,
    MachDownNodeComplete(NodeName),
    AcquiringGroup(String),
    ReleasingGroup(String),
    InitialAcquisitionComplete(&'static str),
    LocalAcquisitionCompleted,
    LocalAcquisitionNone,
    NoLocalResources(NodeName),
    RemoteTransitionCompleted,
    LocalTransitionCompleted,
    StartingInState0,
    ResourceInState0,
    StartingDuringTakeover,
    AutoFailbackDelayed,
    WantsStandby(NodeName, Hold),
    StandbyCanTake(NodeName, Hold),
    GiveUpStandby(Hold),
    ReleaseCompletedStandby(Hold),
    LocalStandbyCompleted(Hold),
    OtherCompletedStandby(Hold),
    StandbyAcquireFrom(Hold, NodeName),
    AcquireStandby(Hold),
    AcquisitionCompletedStandby(Hold),
    StandbyAcquisitionDone(Hold),
    StandbyNoReply,
    StandbyFluxOther(NodeName),
    StandbyFluxLocal(NodeName),
    StandbyInProgress(NodeName, u64),
    StandbyIgnored(&'static str, NodeName, u8),
    StandbyLegacy,
    CancellingStandby,
    ShutdownInProgress(u32),
    ShutdownAlreadyUnderway,
    ShutdownDelayedComm,
    ShutdownDelayedActivity,
    GivingUpAll,
    AllRelinquished,
    ShutdownComplete(NodeName),
    ReceivedShutdownNotice(NodeName),
    TakeoverCancelledShutdown,
    ReceivedIpRequestResp(String, bool),
    GivingUpDueToFailure(String),
    RetryingStop(String),
    StopFailureReboot,
    KillingUngracefully,
    NotLsb(String),
    MustSucceedStop(String),
    RebootAvoided,
    BothOwnOurs,
    BothOwnForeign,
    NoOneOwnsLocal,
    NoOneOwnsForeign,
    /// Quick restart (§4.12): the old process re-executes itself with `-R -C STATE`.
    CurrentResources(Hold),
    /// Quick restart from legacy to a nice_failback mode.
    RestartAssumingLocal,
    /// Quick restart from a nice_failback mode to legacy, holding our local groups.
    RestartAcquiringLocal,
    /// Quick restart from a nice_failback mode to legacy, not holding them.
    RestartLocalAlreadyAcquired,
    // ---- ours ----
    /// Our main loop was not run for this many ms; peers get a fresh dead time instead of
    /// being declared dead on stale data.
    Stalled(u64),
    /// Split-brain healing: we keep this set (of this many groups; a set may name none
    /// here, e.g. `local` on a node without groups of its own) and re-announce its
    /// addresses.
    SplitBrainKeep(Hold, NodeName, usize),
    /// Split-brain healing: we release this set to the peer.
    SplitBrainRelease(Hold, NodeName),
    /// Start failure: the group's set is offered to the peer (heartbeat always offers
    /// `foreign`, a quirk).
    HandOverAfterFailure(Hold),
    /// Tie-breaker / majority: we see neither the peer nor any ping node (two nodes), or
    /// at most half of the nodes (three or more). The text says which.
    Isolated(&'static str),
    NoLongerIsolated,
    /// A takeover that isolation holds back.
    TakeoverHeldIsolated(NodeName),
    /// Fence race delay: we wait this many ms before fencing the node.
    FenceDelayed(NodeName, u64),
    // Built-in ipfail (behaviour spec §5.2), ipfail's own texts.
    IpfailAskCount,
    IpfailMore,
    IpfailLess,
    IpfailBalanced,
    IpfailToldLess,
    IpfailDelayedGiveup(u64),
    IpfailGiveupCalled,
    IpfailAborted,
    IpfailFailback,
}

impl Notice {
    pub fn priority(&self) -> Priority {
        use Notice::*;
        match self {
            NodeDead(_)
            | LateHeartbeat(..)
            | LostPackets(..)
            | NoStonith
            | SharedDisks
            | StartingDuringTakeover
            | StandbyNoReply
            | StandbyFluxOther(_)
            | StandbyFluxLocal(_)
            | StandbyInProgress(..)
            | ShutdownDelayedComm
            | ShutdownDelayedActivity
            | MustSucceedStop(_)
            | RebootAvoided
            | Stalled(_)
            | SplitBrainRelease(..)
            | Isolated(_)
            | TakeoverHeldIsolated(_)
            | RcQueueFull(_)
            | DeadtimeTooSmall => Priority::Warn,
            AuthFailed(AuthFailure::UnknownIndex(_) | AuthFailure::BadToken) => Priority::Warn,
            LostALot
            | Irretrievable(..)
            | ReplayAttack(..)
            | BadNode(_)
            | StonithRetry(_)
            | AuthFailed(AuthFailure::Mismatch { .. })
            | StartingInState0
            | ResourceInState0
            | StandbyIgnored(..)
            | NotLsb(_)
            | BothOwnOurs
            | BothOwnForeign
            | NoOneOwnsLocal
            | NoOneOwnsForeign => Priority::Err,
            LateHeartbeatDead(..)
            | ReturningAfterPartition(_)
            | GivingUpDueToFailure(_)
            | StopFailureReboot
            | KillingUngracefully => Priority::Crit,
            AutoFailbackDelayed => Priority::Debug,
            _ => Priority::Info,
        }
    }

    /// Lines heartbeat never writes.
    pub fn is_ours(&self) -> bool {
        matches!(
            self,
            Notice::Stalled(_)
                | Notice::SplitBrainKeep(..)
                | Notice::SplitBrainRelease(..)
                | Notice::HandOverAfterFailure(_)
                | Notice::Isolated(_)
                | Notice::NoLongerIsolated
                | Notice::TakeoverHeldIsolated(_)
                | Notice::FenceDelayed(..)
                | Notice::RcNative(_)
                | Notice::RcQueueFull(_)
        )
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Notice::*;
        match self {
            Generation(g) => write!(f, "Heartbeat generation: {g}"),
            LocalStatus(s) => write!(f, "Local status now set to: '{s}'"),
            LinkUp(n, l) => write!(f, "Link {n}:{l} up."),
            LinkDead(n, l) => write!(f, "Link {n}:{l} dead."),
            StatusUpdate(n, s) => write!(f, "Status update for node {n}: status {s}"),
            NodeDead(n) => write!(f, "node {n}: is dead"),
            CommUp => f.write_str("Comm_now_up(): updating status to active"),
            HeartbeatRestart(n) => write!(f, "Heartbeat restart on node {n}"),
            LateHeartbeat(n, ms) => write!(f, "Late heartbeat: Node {n}: interval {ms} ms"),
            LateHeartbeatDead(n, ms) => {
                write!(f, "Late heartbeat: Node {n}: interval {ms} ms (> deadtime)")
            }
            ReturningAfterPartition(n) => write!(f, "Cluster node {n} returning after partition."),
            SplitBrainUrl => f.write_str(
                "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain",
            ),
            DeadtimeTooSmall => f.write_str("Deadtime value may be too small."),
            TuningFaq => f.write_str("See FAQ for information on tuning deadtime."),
            HeavyLoadUrl => f.write_str("URL: http://linux-ha.org/wiki/FAQ#Heavy_Load"),
            LostPackets(k, n, a, b) => write!(f, "{k} lost packet(s) for [{n}] [{a}:{b}]"),
            LostALot => f.write_str("lost a lot of packets!"),
            RcNative(list) => write!(
                f,
                "heartbeat-rs: rc.d scripts for messages handled natively are not run: {list}"
            ),
            RcQueueFull(t) => write!(
                f,
                "heartbeat-rs: too many rc.d notifications waiting: {t} message not notified"
            ),
            UuidChanged(n, u) => write!(f, "node {n} changed its uuid to {}", uuid_text(u)),
            Irretrievable(n, s) => write!(f, "Irretrievably lost packet: node {n} seq {s}"),
            NoPktsMissing(n) => write!(f, "No pkts missing from {n}!"),
            ReplayAttack(n, g, c) => write!(
                f,
                "should_drop_message: attempted replay attack [{n}]? [gen = {g}, curgen = {c}]"
            ),
            BadNode(n) => write!(f, "process_status_message: bad node [{n}] in message"),
            // heartbeat adds `, authstr=<the digest it computed>`: a valid signature of
            // attacker-chosen bytes has no place in a log, so we leave it out.
            AuthFailed(AuthFailure::Mismatch { digest }) => {
                write!(f, "authtoken does not match, authtoken={digest}")
            }
            AuthFailed(AuthFailure::UnknownIndex(n)) => {
                write!(f, "Invalid authentication [{n}] in message!")
            }
            AuthFailed(AuthFailure::BadToken) => f.write_str("Bad/invalid netstring auth string"),
            NoStonith => f.write_str("No STONITH device configured."),
            SharedDisks => f.write_str("Shared disks are not protected."),
            Resetting(n, d) => write!(f, "Resetting node {n} with [{d}]"),
            NodeReset(n) => write!(f, "node {n} now reset."),
            StonithRetry(n) => write!(f, "STONITH of {n} failed.  Retrying..."),
            ResourcesBeingAcquired(n) => write!(f, "Resources being acquired from {n}."),
            DeadNodeGaveUp(n) => write!(f, "Dead node {n} gave up resources."),
            MachDownComplete => f.write_str("mach_down takeover complete."),
            TakingOver(k) => write!(f, "Taking over resource group {k}"),
            NiceFailbackForeignAcquired => f.write_str(
                "/usr/share/heartbeat/mach_down: nice_failback: foreign resources acquired",
            ),
            MachDownNodeComplete(n) => write!(f, "mach_down takeover complete for node {n}."),
            AcquiringGroup(g) => write!(f, "Acquiring resource group: {g}"),
            ReleasingGroup(g) => write!(f, "Releasing resource group: {g}"),
            InitialAcquisitionComplete(r) => {
                write!(f, "Initial resource acquisition complete ({r})")
            }
            LocalAcquisitionCompleted => f.write_str("Local Resource acquisition completed."),
            LocalAcquisitionNone => f.write_str("Local Resource acquisition completed. (none)"),
            NoLocalResources(n) => write!(
                f,
                "No local resources [/usr/share/heartbeat/ResourceManager listkeys {n}] to acquire."
            ),
            RemoteTransitionCompleted => f.write_str("remote resource transition completed."),
            LocalTransitionCompleted => f.write_str("local resource transition completed."),
            StartingInState0 => f.write_str("Received 'starting' message in state 0"),
            ResourceInState0 => f.write_str("resource message received in state 0"),
            StartingDuringTakeover => f.write_str("T_STARTING received during takeover."),
            AutoFailbackDelayed => f.write_str("Auto failback delayed."),
            WantsStandby(n, s) => write!(f, "{n} wants to go standby [{s}]"),
            StandbyCanTake(n, s) => write!(f, "standby: {n} can take our {s} resources"),
            GiveUpStandby(s) => write!(f, "give up {s} HA resources (standby)."),
            ReleaseCompletedStandby(s) => write!(f, "{s} HA resource release completed (standby)."),
            LocalStandbyCompleted(s) => write!(f, "Local standby process completed [{s}]."),
            OtherCompletedStandby(s) => {
                write!(f, "Other node completed standby takeover of {s} resources.")
            }
            StandbyAcquireFrom(s, n) => write!(f, "standby: acquire [{s}] resources from {n}"),
            AcquireStandby(s) => write!(f, "acquire {s} HA resources (standby)."),
            AcquisitionCompletedStandby(s) => {
                write!(f, "{s} HA resource acquisition completed (standby).")
            }
            StandbyAcquisitionDone(s) => write!(f, "Standby resource acquisition done [{s}]."),
            StandbyNoReply => f.write_str("No reply to standby request.  Standby request cancelled."),
            StandbyFluxOther(n) => {
                write!(f, "standby message [me] from {n} ignored.  Other side is in flux.")
            }
            StandbyFluxLocal(n) => {
                write!(f, "standby message [me] from {n} ignored.  local resources in flux.")
            }
            StandbyInProgress(n, s) => write!(
                f,
                "Standby in progress- new request from {n} ignored [{s} seconds left]"
            ),
            StandbyIgnored(i, n, k) => {
                write!(f, "Ignored standby message '{i}' from {n} in state {k}")
            }
            StandbyLegacy => f.write_str("Standby mode only implemented when nice_failback on"),
            CancellingStandby => f.write_str("Cancelling pending standby operation"),
            ShutdownInProgress(pid) => write!(f, "Heartbeat shutdown in progress. ({pid})"),
            ShutdownAlreadyUnderway => f.write_str("Heartbeat shutdown already underway."),
            ShutdownDelayedComm => f.write_str("Shutdown delayed until Communication is up."),
            ShutdownDelayedActivity => {
                f.write_str("Shutdown delayed until current resource activity finishes.")
            }
            GivingUpAll => f.write_str("Giving up all HA resources."),
            AllRelinquished => f.write_str("All HA resources relinquished."),
            ShutdownComplete(n) => write!(f, "{n} Heartbeat shutdown complete."),
            ReceivedShutdownNotice(n) => write!(f, "Received shutdown notice from '{n}'."),
            TakeoverCancelledShutdown => {
                f.write_str("Resource takeover cancelled - shutdown in progress.")
            }
            ReceivedIpRequestResp(k, y) => write!(
                f,
                "received ip-request-resp {k} OK {}",
                if *y { "yes" } else { "no" }
            ),
            GivingUpDueToFailure(r) => write!(f, "Giving up resources due to failure of {r}"),
            RetryingStop(r) => write!(f, "Retrying failed stop operation [{r}]"),
            StopFailureReboot => f.write_str("Resource STOP failure. Reboot required!"),
            KillingUngracefully => f.write_str("Killing heartbeat ungracefully!"),
            NotLsb(r) => write!(f, "Resource script for {r} probably not LSB-compliant."),
            MustSucceedStop(r) => write!(f, "it ({r}) MUST succeed on a stop when already stopped"),
            RebootAvoided => f.write_str("Machine reboot narrowly avoided!"),
            BothOwnOurs => f.write_str("Both machines own our resources!"),
            BothOwnForeign => f.write_str("Both machines own foreign resources!"),
            NoOneOwnsLocal => f.write_str("No one owns our local resources!"),
            NoOneOwnsForeign => f.write_str("No one owns foreign resources!"),
            CurrentResources(h) => write!(f, "Current resources: -R -C {h}"),
            RestartAssumingLocal => f.write_str("restart: assuming HB_LOCAL_RSC"),
            RestartAcquiringLocal => f.write_str("restart: acquiring local resources."),
            // (Two spaces: heartbeat's two string pieces both carry one.)
            RestartLocalAlreadyAcquired => {
                f.write_str("restart:  local resources already acquired.")
            }
            Stalled(ms) => write!(
                f,
                "heartbeat-rs: main loop stalled for {ms} ms; peers get a fresh dead time"
            ),
            SplitBrainKeep(s, n, 0) => write!(
                f,
                "heartbeat-rs: split brain with {n} healed: keeping {s} resources (no resource groups here, nothing to re-announce)"
            ),
            SplitBrainKeep(s, n, _) => write!(
                f,
                "heartbeat-rs: split brain with {n} healed: keeping {s} resources, re-announcing addresses"
            ),
            SplitBrainRelease(s, n) => write!(
                f,
                "heartbeat-rs: split brain with {n} healed: releasing {s} resources to {n}"
            ),
            HandOverAfterFailure(s) => write!(
                f,
                "heartbeat-rs: offering {s} resources to the peer after a start failure"
            ),
            Isolated(why) => write!(
                f,
                "heartbeat-rs: this node is isolated ({why}): releasing its resources and taking over nothing"
            ),
            NoLongerIsolated => f.write_str("heartbeat-rs: this node is no longer isolated"),
            TakeoverHeldIsolated(n) => write!(
                f,
                "heartbeat-rs: not taking over from {n}: this node is isolated"
            ),
            FenceDelayed(n, ms) => write!(
                f,
                "heartbeat-rs: fence race delay: fencing {n} in {ms} ms unless it is fenced or back first"
            ),
            IpfailAskCount => f.write_str("Asking other side for ping node count."),
            IpfailMore => f.write_str("Telling other node that we have more visible ping nodes."),
            IpfailLess => f.write_str("Giving up because we have less visible ping nodes."),
            IpfailBalanced => f.write_str("Ping node count is balanced."),
            IpfailToldLess => {
                f.write_str("Giving up because we were told that we have less ping nodes.")
            }
            IpfailDelayedGiveup(s) => write!(f, "Delayed giveup in {s} seconds."),
            IpfailGiveupCalled => f.write_str("giveup() called (timeout worked)"),
            IpfailAborted => f.write_str("Aborted delayed giveup"),
            IpfailFailback => f.write_str("Giving up foreign resources (auto_failback)."),
        }
    }
}

/// RFC 4122 text, lower-case, as libuuid's `uuid_unparse` writes it.
fn uuid_text(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}
