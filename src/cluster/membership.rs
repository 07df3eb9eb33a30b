//! Membership and transport (wire spec §5–§9, §12): heartbeats, liveness of nodes and
//! links, comm-up with reqnodes/repnodes, sequence numbers and generations, the send
//! history with retransmission, ACKs, and ping pseudo-nodes.

use std::collections::{BTreeMap, VecDeque};

use super::codec::{self, DropReason};
use super::msg::{Msg, NodeStatus, Packet};
use super::notice::Notice;
use super::rng::SplitMix64;
use super::{Action, Boot, Cluster, ClusterConfig, NodeView};
use crate::config::NodeName;
use crate::time::{Duration, Instant};

/// How many of our latest sent datagrams a received one is compared with before decoding
/// (a looped-back broadcast arrives right after it was sent).
const OWN_ECHO_WINDOW: usize = 4;

/// Slots in the send history (`MAXMSGHIST`).
const HISTORY: usize = 500;
/// Tracked missing sequence numbers per node, and the gap that resets tracking.
const MAX_MISSING: usize = 500;
const MAX_GAP: u64 = 250;
const REQNODES_RETRY: Duration = Duration::from_secs(1);
/// For the first 5 s the advertised dead time is raised by 2 s (§4.5 step 1).
const DT_BUMP_FOR: Duration = Duration::from_secs(5);
const DT_BUMP: Duration = Duration::from_secs(2);
/// Authentication failures are logged at most this often.
const AUTH_LOG_EVERY: Duration = Duration::from_secs(10);
/// At most this many packets answered per NS_rexmit.
const MAX_REXMIT_BATCH: u64 = 50;
/// A peer's `dt` this far above its lowest one announces a quick restart (the bump is
/// 30 s; the margin covers a lowest value seen only during its +2 s start-up bump).
const RESTART_ANNOUNCED: Duration = Duration::from_secs(25);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Never heard on this medium.
    Init,
    Up,
    Dead,
}

#[derive(Clone, Debug)]
pub(super) struct Link {
    pub state: LinkState,
    pub last: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Me,
    Normal,
    Ping { hosts: Vec<String> },
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pub name: NodeName,
    pub kind: Kind,
    pub status: NodeStatus,
    /// Highest generation ever seen (never forgotten, wire spec §8.4).
    pub generation: u64,
    /// Heard from since our start / its last restart.
    pub heard: bool,
    pub protocol: bool,
    pub last_status: Option<Instant>,
    pub last_status_seq: u64,
    pub dt: Option<Duration>,
    /// The lowest `dt` this incarnation advertised: a jump of [`RESTART_ANNOUNCED`] above
    /// it announces a quick restart (heartbeat raises `dt` by 30 s before re-executing).
    pub dt_floor: Option<Duration>,
    /// Its previous incarnation announced a quick restart: it kept its resources.
    pub quick_restarted: bool,
    pub rx_last: u64,
    /// The medium that first delivered `rx_last`: its copy on another medium is the
    /// cross-medium duplicate that proves that medium works (wire spec §6 step 7).
    pub rx_last_from: Option<usize>,
    /// Missing sequence numbers → when to ask for them next.
    pub missing: BTreeMap<u64, Instant>,
    pub ack_trigger: u64,
    pub links: Vec<Link>,
    /// The node's UUID as its `srcuuid` says (wire spec §6 step 4), learned from packets
    /// that passed authentication and the generation/sequence filter; sent as `destuuid`.
    pub uuid: Option<[u8; 16]>,
}

pub(super) struct Membership {
    pub nodes: Vec<Node>,
    pub me: usize,
    pub status: NodeStatus,
    pub comm_up: bool,
    pub seq: u64,
    pub history: VecDeque<(u64, Vec<u8>)>,
    pub next_keepalive: Instant,
    pub bump_until: Option<Instant>,
    pub reqnodes: Option<(usize, Instant)>,
    pub drops: [u64; 9],
    pub loopback: VecDeque<Packet>,
    pub rng: SplitMix64,
    /// Set when every configured node has been heard from or declared dead.
    pub all_accounted: bool,
    /// Reference time for nodes never heard from (start, or the end of a stall).
    pub wait_from: Instant,
    /// When an authentication failure was last logged (at most one line per
    /// [`AUTH_LOG_EVERY`]; heartbeat logs every packet, several a second).
    pub auth_logged: Option<Instant>,
    /// A quick restart is under way: the advertised dead time is raised by 30 s.
    pub restart_bump: bool,
}

impl Membership {
    pub fn new(cfg: &ClusterConfig, me: &NodeName, boot: &Boot, now: Instant) -> Membership {
        let mut rng = SplitMix64::new(boot.seed);
        let links = || {
            vec![
                Link {
                    state: LinkState::Init,
                    last: None
                };
                cfg.media.len()
            ]
        };
        let mut nodes: Vec<Node> = Vec::new();
        let mut me_idx = 0;
        for n in &cfg.nodes {
            if n == me {
                me_idx = nodes.len();
            }
            nodes.push(Node {
                name: n.clone(),
                kind: if n == me { Kind::Me } else { Kind::Normal },
                status: NodeStatus::Init,
                generation: if n == me { boot.generation } else { 0 },
                heard: n == me,
                protocol: true,
                last_status: None,
                last_status_seq: 0,
                dt: None,
                dt_floor: None,
                quick_restarted: false,
                rx_last: 0,
                rx_last_from: None,
                missing: BTreeMap::new(),
                ack_trigger: rng.range(0, 9),
                links: links(),
                uuid: (n == me).then_some(boot.uuid),
            });
        }
        for p in &cfg.ping_nodes {
            nodes.push(Node {
                name: NodeName::new(&p.name),
                kind: Kind::Ping {
                    hosts: p.hosts.clone(),
                },
                status: NodeStatus::Init,
                generation: 0,
                heard: false,
                protocol: true,
                last_status: None,
                last_status_seq: 0,
                dt: None,
                dt_floor: None,
                quick_restarted: false,
                rx_last: 0,
                rx_last_from: None,
                missing: BTreeMap::new(),
                ack_trigger: 0,
                links: vec![Link {
                    state: LinkState::Init,
                    last: None,
                }],
                uuid: None,
            });
        }
        Membership {
            nodes,
            me: me_idx,
            status: NodeStatus::Init,
            comm_up: false,
            seq: 0,
            history: VecDeque::new(),
            next_keepalive: now,
            bump_until: Some(now + DT_BUMP_FOR),
            reqnodes: None,
            drops: [0; 9],
            loopback: VecDeque::new(),
            rng,
            all_accounted: false,
            wait_from: now,
            auth_logged: None,
            restart_bump: false,
        }
    }

    pub fn index(&self, name: &NodeName) -> Option<usize> {
        self.nodes.iter().position(|n| &n.name == name)
    }
}

impl Cluster {
    pub(super) fn start(&mut self, now: Instant) {
        // Ours: a quick restart's new process runs resources from its first moment, so it
        // says `active` at once; peers take a node that is only `up` for one that runs
        // nothing (and may acquire what it holds).
        let st = if self.boot.restart.is_some() {
            NodeStatus::Active
        } else {
            NodeStatus::Up
        };
        self.mem.status = st;
        self.notice(Notice::LocalStatus(st));
        self.mem.nodes[self.mem.me].status = st;
        self.mem.next_keepalive = now;
        self.membership_timers();
    }

    fn advertised_dt(&self) -> Duration {
        let mut base = self.cfg.timing.deadtime;
        // A `-R` process keeps the raised value until its comm-up (at most its 5 s start-up
        // bump), so a peer that missed the old process's announcement still sees a quick
        // restart; no longer, or a crash soon after would be noticed 30 s late.
        let starting = self.mem.bump_until.is_some_and(|t| self.now < t) && !self.mem.comm_up;
        if self.mem.restart_bump || (starting && self.boot.restart.is_some()) {
            base = base + super::RESTART_DT_BUMP;
        }
        match self.mem.bump_until {
            Some(t) if self.now < t => base + DT_BUMP,
            _ => base,
        }
    }

    fn ttl(&self) -> u8 {
        let n = self.cfg.nodes.len() + self.cfg.ping_nodes.len();
        u8::try_from(usize::from(self.cfg.hopfudge) + n).unwrap_or(u8::MAX)
    }

    /// Sends `msg` on every medium; numbered messages are kept for retransmission and
    /// delivered to ourselves (heartbeat's loopback, §0).
    pub(super) fn send_msg(&mut self, dest: Option<NodeName>, msg: Msg) {
        let seq = if msg.is_sequenced() {
            self.mem.seq += 1;
            Some(self.mem.seq)
        } else {
            None
        };
        let elapsed = self.now.saturating_since(self.boot_at).as_micros() / 1_000_000;
        let p = Packet {
            src: self.me.clone(),
            dest,
            seq,
            generation: self.boot.generation,
            ts: self.boot.wall_secs + elapsed,
            ttl: self.ttl(),
            msg,
        };
        let dest_uuid = p
            .dest
            .as_ref()
            .and_then(|d| self.mem.index(d))
            .and_then(|i| self.mem.nodes[i].uuid);
        let stamp = codec::Stamp {
            src_uuid: &self.boot.uuid,
            dest_uuid,
            load: self.load.as_deref(),
        };
        let bytes = codec::encode_stamped(&p, &stamp, &self.cfg.auth);
        for medium in 0..self.cfg.media.len() {
            self.actions.push_back(Action::Send {
                medium,
                bytes: bytes.clone(),
            });
        }
        if let Some(s) = seq {
            if self.mem.history.len() >= HISTORY {
                self.mem.history.pop_front();
            }
            self.mem.history.push_back((s, bytes));
            if !matches!(p.msg, Msg::Status { .. }) {
                self.mem.loopback.push_back(p);
            }
        }
    }

    pub(super) fn send_status(&mut self) {
        let dt = self.advertised_dt().as_millis();
        self.send_msg(
            None,
            Msg::Status {
                st: self.mem.status,
                dt_ms: Some(dt),
                protocol: true,
            },
        );
    }

    pub(super) fn drain_loopback(&mut self) {
        while let Some(p) = self.mem.loopback.pop_front() {
            self.dispatch(&p);
        }
    }

    /// Our own process was not scheduled for longer than the dead time (SIGSTOP, swap
    /// storm): every peer gets a fresh dead time rather than being declared dead on data
    /// we simply did not read. (heartbeat would declare them dead and restart itself.)
    pub(super) fn check_stall(&mut self, now: Instant) {
        let gap = now.saturating_since(self.now);
        let limit = self
            .cfg
            .timing
            .deadtime
            .saturating_sub(self.cfg.timing.keepalive);
        if gap > limit && gap > self.cfg.timing.keepalive.saturating_mul(2) {
            self.actions
                .push_back(Action::Notice(Notice::Stalled(gap.as_millis())));
            for n in self.mem.nodes.iter_mut() {
                if n.status != NodeStatus::Dead {
                    if let Some(t) = n.last_status.as_mut() {
                        *t = now;
                    }
                    for l in n.links.iter_mut() {
                        if let Some(t) = l.last.as_mut() {
                            *t = now;
                        }
                    }
                }
            }
            if self.mem.next_keepalive < now {
                self.mem.next_keepalive = now;
            }
            self.mem.wait_from = self.mem.wait_from.max(now);
        }
    }

    fn threshold(&self, i: usize) -> Duration {
        let t = &self.cfg.timing;
        if !self.mem.comm_up {
            return t.initdead;
        }
        match self.mem.nodes[i].kind {
            Kind::Ping { .. } => t.deadping,
            _ => self.mem.nodes[i].dt.unwrap_or(t.deadtime),
        }
    }

    pub(super) fn membership_timers(&mut self) {
        let now = self.now;
        if let Some(t) = self.mem.bump_until
            && now >= t
        {
            self.mem.bump_until = None;
            self.send_status();
        }
        if now >= self.mem.next_keepalive {
            self.send_status();
            for p in &self.cfg.ping_nodes {
                for h in &p.hosts {
                    self.actions.push_back(Action::Ping { host: h.clone() });
                }
            }
            let next = self.mem.next_keepalive + self.cfg.timing.keepalive;
            self.mem.next_keepalive = if next <= now {
                now + self.cfg.timing.keepalive
            } else {
                next
            };
        }
        // Liveness.
        for i in 0..self.mem.nodes.len() {
            if i == self.mem.me {
                continue;
            }
            let th = self.threshold(i);
            let node = &self.mem.nodes[i];
            let since = node.last_status.unwrap_or(self.mem.wait_from);
            if node.status != NodeStatus::Dead && now.saturating_since(since) > th {
                self.node_died(i);
            }
            for m in 0..self.mem.nodes[i].links.len() {
                let l = &self.mem.nodes[i].links[m];
                if l.state == LinkState::Up
                    && now.saturating_since(l.last.unwrap_or(self.mem.wait_from)) > th
                {
                    self.mem.nodes[i].links[m].state = LinkState::Dead;
                    let link = self.link_name(i, m);
                    let name = self.mem.nodes[i].name.clone();
                    self.rc_link(&name, &link, false);
                    self.notice(Notice::LinkDead(name, link));
                }
            }
        }
        self.check_comm_up();
        // reqnodes retry.
        if let Some((target, at)) = self.mem.reqnodes
            && now >= at
        {
            self.mem.reqnodes = Some((target, now + REQNODES_RETRY));
            let dest = self.mem.nodes[target].name.clone();
            self.send_msg(Some(dest), Msg::ReqNodes);
        }
        // Retransmission requests.
        let mx = self.cfg.max_rexmit_delay;
        let mut asks = Vec::new();
        for n in self.mem.nodes.iter_mut() {
            if !matches!(n.status, NodeStatus::Up | NodeStatus::Active) {
                continue;
            }
            for (seq, at) in n.missing.iter_mut() {
                if *at <= now {
                    *at = now + mx;
                    asks.push((n.name.clone(), *seq));
                }
            }
        }
        for (name, seq) in asks {
            self.send_msg(
                Some(name),
                Msg::Rexmit {
                    first: seq,
                    last: seq,
                },
            );
        }
    }

    pub(super) fn membership_deadline(&self) -> Option<Instant> {
        // A running minimum: this runs before every sleep of the event loop.
        let one = Duration::from_micros(1);
        let mut d = self.mem.next_keepalive;
        let mut at = |t: Instant| d = d.min(t);
        if let Some(t) = self.mem.bump_until {
            at(t);
        }
        if let Some((_, t)) = self.mem.reqnodes {
            at(t);
        }
        for (i, n) in self.mem.nodes.iter().enumerate() {
            if i == self.mem.me {
                continue;
            }
            let th = self.threshold(i);
            if n.status != NodeStatus::Dead {
                at(n.last_status.unwrap_or(self.mem.wait_from) + th + one);
            }
            for l in &n.links {
                if l.state == LinkState::Up {
                    at(l.last.unwrap_or(self.mem.wait_from) + th + one);
                }
            }
            if matches!(n.status, NodeStatus::Up | NodeStatus::Active) {
                n.missing.values().copied().for_each(&mut at);
            }
        }
        Some(d)
    }

    fn link_name(&self, node: usize, medium: usize) -> String {
        match &self.mem.nodes[node].kind {
            Kind::Ping { .. } => self.mem.nodes[node].name.to_string(),
            _ => self.cfg.media.get(medium).cloned().unwrap_or_default(),
        }
    }

    fn node_died(&mut self, i: usize) {
        let name = self.mem.nodes[i].name.clone();
        self.mem.nodes[i].status = NodeStatus::Dead;
        self.notice(Notice::NodeDead(name.clone()));
        if self.mem.nodes[i].kind == Kind::Normal {
            // (The resource manager looks at what is still missing from the node.)
            self.rm_node_dead(i);
        }
        self.mem.nodes[i].missing.clear();
        if let Some((t, _)) = self.mem.reqnodes
            && t == i
        {
            // Try the next candidate at once.
            self.mem.reqnodes = None;
            self.mem.all_accounted = false;
        }
    }

    /// Comm-up once every configured node is heard from or dead (§4.5 step 3).
    fn check_comm_up(&mut self) {
        if self.mem.comm_up || self.mem.reqnodes.is_some() {
            return;
        }
        let accounted = self.mem.nodes.iter().all(|n| {
            // "Heard" means a status (or ping reply) here, not just any packet: the
            // resource manager decides at comm-up from the peer's status.
            n.kind == Kind::Me || n.last_status.is_some() || n.status == NodeStatus::Dead
        });
        if !accounted {
            return;
        }
        self.mem.all_accounted = true;
        let legacy_peer = self
            .mem
            .nodes
            .iter()
            .any(|n| n.kind == Kind::Normal && n.heard && !n.protocol);
        let target = self.mem.nodes.iter().position(|n| {
            n.kind == Kind::Normal && matches!(n.status, NodeStatus::Up | NodeStatus::Active)
        });
        match target {
            Some(t) if !legacy_peer => {
                self.mem.reqnodes = Some((t, self.now + REQNODES_RETRY));
                let dest = self.mem.nodes[t].name.clone();
                self.send_msg(Some(dest), Msg::ReqNodes);
            }
            _ => self.comm_now_up(),
        }
    }

    fn comm_now_up(&mut self) {
        if self.mem.comm_up {
            return;
        }
        self.mem.comm_up = true;
        self.mem.reqnodes = None;
        self.notice(Notice::CommUp);
        if self.mem.status != NodeStatus::Active {
            self.notice(Notice::LocalStatus(NodeStatus::Active));
        }
        self.mem.status = NodeStatus::Active;
        self.mem.nodes[self.mem.me].status = NodeStatus::Active;
        self.send_status();
        self.rm_comm_up();
    }

    pub(super) fn on_ping_reply(&mut self, host: &str) {
        let Some(i) = self.mem.nodes.iter().position(
            |n| matches!(&n.kind, Kind::Ping { hosts } if hosts.iter().any(|h| h == host)),
        ) else {
            return;
        };
        let now = self.now;
        let name = self.mem.nodes[i].name.clone();
        let n = &mut self.mem.nodes[i];
        n.heard = true;
        n.last_status = Some(now);
        let was = n.status;
        n.status = NodeStatus::Ping;
        let link_up = n.links[0].state != LinkState::Up;
        n.links[0] = Link {
            state: LinkState::Up,
            last: Some(now),
        };
        if link_up {
            self.rc_link(&name, name.as_str(), true);
            self.notice(Notice::LinkUp(name.clone(), name.to_string()));
        }
        if was != NodeStatus::Ping {
            self.notice(Notice::StatusUpdate(name, NodeStatus::Ping));
        }
        self.check_comm_up();
    }

    fn drop(&mut self, r: DropReason) {
        self.mem.drops[r.index()] += 1;
    }

    pub(super) fn on_datagram(&mut self, medium: usize, bytes: &[u8]) {
        if medium >= self.cfg.media.len() {
            return self.drop(DropReason::Malformed);
        }
        if self.is_own_recent(bytes) {
            // Our own broadcast looped back (once per keepalive): these exact bytes would
            // verify and parse to `src == me`, so skip the digest and the parse.
            return self.drop(DropReason::FromSelf);
        }
        let (p, src_uuid) = match codec::decode_received(bytes, &self.cfg.auth) {
            Ok(r) => (r.packet, r.src_uuid),
            Err(r) => {
                let due = self
                    .mem
                    .auth_logged
                    .is_none_or(|t| self.now >= t + AUTH_LOG_EVERY);
                if matches!(r, DropReason::BadAuth | DropReason::UnknownKeyIndex)
                    && due
                    && self.cfg.log_badpack
                    && let Some(why) = codec::auth_failure(bytes, &self.cfg.auth)
                {
                    self.mem.auth_logged = Some(self.now);
                    self.notice(Notice::AuthFailed(why));
                }
                return self.drop(r);
            }
        };
        if p.src == self.me {
            return self.drop(DropReason::FromSelf);
        }
        let Some(i) = self.mem.index(&p.src) else {
            self.notice(Notice::BadNode(p.src.clone()));
            return self.drop(DropReason::UnknownNode);
        };
        if !matches!(self.mem.nodes[i].kind, Kind::Normal) {
            return self.drop(DropReason::UnknownNode);
        }
        let for_us = p.dest.as_ref().is_none_or(|d| *d == self.me);
        self.mem.nodes[i].heard = true;
        let Some(seq) = p.seq else {
            // NS_* control messages: no sequence or generation checks (§6 step 6). They
            // keep an up link alive but cannot revive one (they may be replays).
            self.refresh_link(i, medium);
            if !for_us {
                return self.drop(DropReason::NotForUs);
            }
            self.on_control(i, &p);
            self.check_comm_up();
            return;
        };
        let known = self.mem.nodes[i].generation;
        if p.generation < known {
            self.notice(Notice::ReplayAttack(p.src.clone(), p.generation, known));
            return self.drop(DropReason::OldGeneration);
        }
        let is_status = matches!(p.msg, Msg::Status { .. });
        let was_dead = self.mem.nodes[i].status == NodeStatus::Dead;
        // A restart we can vouch for: we knew its previous generation.
        let new_generation = known != 0 && p.generation > known;
        if p.generation > known {
            let new_dt = match p.msg {
                Msg::Status { dt_ms, .. } => dt_ms.map(Duration::from_millis),
                _ => None,
            };
            self.peer_restarted(i, p.generation, known, new_dt, seq);
        } else if is_status
            && self.mem.nodes[i].status == NodeStatus::Dead
            && self.mem.nodes[i].last_status_seq != 0
        {
            if seq <= self.mem.nodes[i].last_status_seq {
                return self.drop(DropReason::Replayed);
            }
            let n = p.src.clone();
            self.notice(Notice::ReturningAfterPartition(n.clone()));
            self.notice(Notice::SplitBrainUrl);
            self.notice(Notice::DeadtimeTooSmall);
            self.notice(Notice::TuningFaq);
            self.notice(Notice::HeavyLoadUrl);
        }
        // Sequence filter.
        let node = &mut self.mem.nodes[i];
        let last = node.rx_last;
        let mut in_order = false;
        if last == 0 || seq == last + 1 {
            node.rx_last = seq;
            node.rx_last_from = Some(medium);
            in_order = true;
        } else if seq > last + 1 {
            let gap = seq - last - 1;
            self.actions.push_back(Action::Notice(Notice::LostPackets(
                gap,
                p.src.clone(),
                last,
                seq,
            )));
            let node = &mut self.mem.nodes[i];
            node.rx_last = seq;
            node.rx_last_from = Some(medium);
            if gap > MAX_GAP {
                node.missing.clear();
                self.actions.push_back(Action::Notice(Notice::LostALot));
            } else {
                let now = self.now;
                let mx = self.cfg.max_rexmit_delay.as_millis();
                let lo = if mx < 100 { 0 } else { 50 };
                for k in last + 1..seq {
                    let d = Duration::from_millis(self.mem.rng.range(lo, mx));
                    let node = &mut self.mem.nodes[i];
                    node.missing.insert(k, now + d);
                    while node.missing.len() > MAX_MISSING {
                        node.missing.pop_first();
                    }
                }
            }
        } else if node.missing.remove(&seq).is_some() {
            if node.missing.is_empty() {
                let n = node.name.clone();
                self.notice(Notice::NoPktsMissing(n));
            }
        } else if seq == last && node.rx_last_from.is_some_and(|m| m != medium) {
            // The newest packet again, over another medium than the one that brought it:
            // that medium works, so the link comes (back) up as in heartbeat. Without this a
            // second medium whose copies always arrive second would never be seen up. Any
            // other duplicate (an older seq, or the same medium again) may be a replay and
            // only keeps an up link alive.
            self.mark_link(i, medium);
            return self.drop(DropReason::Replayed);
        } else {
            self.refresh_link(i, medium);
            return self.drop(DropReason::Replayed);
        }
        self.mark_link(i, medium);
        self.learn_uuid(i, src_uuid);
        if in_order {
            let node = &self.mem.nodes[i];
            if seq % 10 == node.ack_trigger && node.missing.is_empty() {
                let dest = node.name.clone();
                self.send_msg(Some(dest), Msg::Ack { ackseq: seq });
            }
        }
        if is_status {
            self.on_status(i, &p, seq);
            if was_dead && self.peer_alive(i) {
                // Contact with a node we had declared dead: returning after a partition,
                // restarted while we could not hear it, or never heard before initdead.
                self.rm_contact_regained(i, new_generation, seq);
            }
        }
        if !for_us {
            self.check_comm_up();
            return self.drop(DropReason::NotForUs);
        }
        if self.rc_wants(p.msg.type_name()) {
            let fields = codec::string_fields(bytes, &self.cfg.auth);
            self.rc_queue(p.msg.type_name(), fields);
        }
        self.dispatch(&p);
        self.check_comm_up();
    }

    /// True if `bytes` are exactly one of the last few sequenced datagrams we sent (they
    /// decode, with the keys that signed them, to a packet from us).
    fn is_own_recent(&self, bytes: &[u8]) -> bool {
        bytes.len() <= codec::MAX_DATAGRAM
            && self
                .mem
                .history
                .iter()
                .rev()
                .take(OWN_ECHO_WINDOW)
                .any(|(_, sent)| sent.as_slice() == bytes)
    }

    /// A fresh (not duplicate, not older-generation) packet's `srcuuid`: heartbeat's
    /// name-to-UUID table (wire spec §6 step 4). A replay cannot change it, so a stale
    /// `destuuid` never makes the peer ignore what we address to it.
    fn learn_uuid(&mut self, i: usize, uuid: Option<[u8; 16]>) {
        let Some(u) = uuid.filter(|u| *u != codec::NULL_UUID) else {
            return;
        };
        let old = self.mem.nodes[i].uuid.replace(u);
        if old.is_some_and(|o| o != u) {
            let name = self.mem.nodes[i].name.clone();
            self.notice(Notice::UuidChanged(name, u));
        }
    }

    /// `new_dt`: the `dt` of the new generation's packet that told us, if a status.
    fn peer_restarted(
        &mut self,
        i: usize,
        generation: u64,
        known: u64,
        new_dt: Option<Duration>,
        seq: u64,
    ) {
        let name = self.mem.nodes[i].name.clone();
        if known != 0 {
            self.notice(Notice::HeartbeatRestart(name));
        }
        let n = &mut self.mem.nodes[i];
        // Announced by the old process (its last `dt`) or by the new one (which advertises
        // the raised `dt` for its first seconds): either may be lost.
        let raised = |dt: Option<Duration>| matches!((dt, n.dt_floor), (Some(dt), Some(floor)) if dt >= floor + RESTART_ANNOUNCED);
        n.quick_restarted = known != 0 && (raised(n.dt) || raised(new_dt));
        n.dt_floor = None;
        n.generation = generation;
        n.rx_last = 0;
        n.rx_last_from = None;
        n.missing.clear();
        n.last_status_seq = 0;
        if known != 0 {
            // A restart, not a first contact: judge it from now, not from its old status.
            n.last_status = Some(self.now);
        }
        if known != 0 {
            self.rm_peer_restarted(i, seq);
        }
    }

    fn refresh_link(&mut self, i: usize, medium: usize) {
        let now = self.now;
        if let Some(l) = self.mem.nodes[i].links.get_mut(medium)
            && l.state == LinkState::Up
        {
            l.last = Some(now);
        }
    }

    fn mark_link(&mut self, i: usize, medium: usize) {
        let now = self.now;
        let Some(l) = self.mem.nodes[i].links.get_mut(medium) else {
            return;
        };
        let was = l.state;
        l.state = LinkState::Up;
        l.last = Some(now);
        if was != LinkState::Up {
            let name = self.mem.nodes[i].name.clone();
            let link = self.link_name(i, medium);
            self.rc_link(&name, &link, true);
            self.notice(Notice::LinkUp(name, link));
        }
    }

    fn on_status(&mut self, i: usize, p: &Packet, seq: u64) {
        let Msg::Status {
            st,
            dt_ms,
            protocol,
        } = &p.msg
        else {
            return;
        };
        let now = self.now;
        let t = self.cfg.timing;
        let node = &mut self.mem.nodes[i];
        if seq < node.last_status_seq {
            return; // stale (a retransmitted old status)
        }
        node.last_status_seq = seq;
        node.protocol = *protocol;
        node.dt = dt_ms.map(Duration::from_millis);
        if let Some(dt) = node.dt {
            node.dt_floor = Some(node.dt_floor.map_or(dt, |f| f.min(dt)));
        }
        let prev = node.last_status.replace(now);
        let was = node.status;
        let name = node.name.clone();
        if let Some(prev) = prev {
            let gap = now.saturating_since(prev);
            if gap > t.deadtime {
                // heartbeat declares the node dead here and sees it alive again with the
                // same packet; we only warn (the node is evidently alive).
                self.notice(Notice::LateHeartbeatDead(name.clone(), gap.as_millis()));
            } else if gap > t.warntime {
                self.notice(Notice::LateHeartbeat(name.clone(), gap.as_millis()));
            }
        }
        let st = if *st == NodeStatus::Dead {
            NodeStatus::Up
        } else {
            *st
        };
        if was != st {
            self.mem.nodes[i].status = st;
            self.notice(Notice::StatusUpdate(name, st));
        } else if st == NodeStatus::Active {
            self.rm_legacy_peer_active(i);
        }
    }

    /// NS_* messages addressed to us.
    fn on_control(&mut self, i: usize, p: &Packet) {
        match &p.msg {
            Msg::Rexmit { first, last } => {
                let hi = self.mem.seq;
                let lo = self.mem.history.front().map(|(s, _)| *s).unwrap_or(hi + 1);
                let end = (*last).min(first.saturating_add(MAX_REXMIT_BATCH - 1));
                for k in *first..=end {
                    if k > hi {
                        continue;
                    }
                    if k < lo {
                        self.send_msg(
                            Some(p.src.clone()),
                            Msg::NakRexmit {
                                seq: k,
                                info: "seqno too low".into(),
                            },
                        );
                        continue;
                    }
                    match self.mem.history.iter().find(|(s, _)| *s == k) {
                        Some((_, b)) => {
                            // Stored signed with the keys of its first sending; re-sign
                            // with today's (a SIGHUP may have changed them since).
                            let b = codec::resign(b, &self.cfg.auth);
                            for medium in 0..self.cfg.media.len() {
                                self.actions.push_back(Action::Send {
                                    medium,
                                    bytes: b.clone(),
                                });
                            }
                        }
                        None => self.send_msg(
                            Some(p.src.clone()),
                            Msg::NakRexmit {
                                seq: k,
                                info: "seqno not found".into(),
                            },
                        ),
                    }
                }
            }
            Msg::NakRexmit { seq, .. } if self.mem.nodes[i].missing.remove(seq).is_some() => {
                self.notice(Notice::Irretrievable(p.src.clone(), *seq));
            }
            _ => {}
        }
    }

    /// Membership messages (after the transport filter, and our own via loopback).
    pub(super) fn on_membership_msg(&mut self, p: &Packet) {
        match &p.msg {
            Msg::ReqNodes if p.src != self.me => {
                let nodes = self.cfg.nodes.clone();
                self.send_msg(Some(p.src.clone()), Msg::RepNodes { nodes });
            }
            Msg::RepNodes { .. } if p.src != self.me => {
                if let Some((t, _)) = self.mem.reqnodes
                    && self.mem.nodes[t].name == p.src
                {
                    self.comm_now_up();
                }
            }
            _ => {}
        }
    }

    pub(super) fn peer_alive(&self, i: usize) -> bool {
        matches!(
            self.mem.nodes[i].status,
            NodeStatus::Up | NodeStatus::Active
        )
    }

    pub(super) fn node_views(&self) -> Vec<NodeView> {
        self.mem
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeView {
                name: n.name.clone(),
                is_ping: matches!(n.kind, Kind::Ping { .. }),
                status: n.status,
                generation: n.generation,
                links: n
                    .links
                    .iter()
                    .enumerate()
                    .map(|(m, l)| (self.link_name(i, m), l.state))
                    .collect(),
            })
            .collect()
    }
}
