//! The ONE place where typed [`Packet`]s become bytes and back, on top of `crate::wire`:
//! outgoing packets are netstring datagrams signed twice (inner `auth` + trailer) exactly as
//! heartbeat 3.0.6 sends them; incoming datagrams (netstring or classic) must pass
//! `wire::decode_udp`, whose `Authenticated<Message>` is the only input this module turns
//! into a [`Packet`]. The rest of the core sees [`Packet`] and [`DropReason`] only.

use super::msg::{Hold, Msg, NodeStatus, Packet, Phase, StonithResult};
use crate::config::{AuthKeys, NodeName};
use crate::wire::{self, Message, Value};

/// Why a datagram was not acted on. Doubles as the dropped-packet counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    Malformed,
    Oversized,
    UnknownKeyIndex,
    BadAuth,
    UnknownNode,
    FromSelf,
    OldGeneration,
    /// A sequence number already seen (duplicate over a second medium, or a replay).
    Replayed,
    /// Addressed to another node.
    NotForUs,
}

impl DropReason {
    pub const ALL: [DropReason; 9] = [
        DropReason::Malformed,
        DropReason::Oversized,
        DropReason::UnknownKeyIndex,
        DropReason::BadAuth,
        DropReason::UnknownNode,
        DropReason::FromSelf,
        DropReason::OldGeneration,
        DropReason::Replayed,
        DropReason::NotForUs,
    ];
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why authentication refused a datagram, for the log line heartbeat writes (wire spec
/// §4.3, "Receiver failure behaviour").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// The digest does not match our key of that index; `digest` as received.
    Mismatch { digest: String },
    /// The token names a key index we do not have.
    UnknownIndex(u32),
    /// No token, or not `"<index> <digest>"`.
    BadToken,
}

/// Heartbeat's `MAXMSG`.
pub const MAX_DATAGRAM: usize = 256 * 1024;

/// Heartbeat's "UUID not known yet" (wire spec §5 step 1): a peer receiving it falls back
/// to the `dest` name.
pub const NULL_UUID: [u8; 16] = [0; 16];

/// The control fields of an outgoing message that are not part of [`Packet`] (wire spec §5):
/// decided by the sender's state, not by the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp<'a> {
    /// Our node UUID (`hb_uuid`), sent as `srcuuid`.
    pub src_uuid: &'a [u8; 16],
    /// `destuuid` for a message with `dest`: the destination's UUID as learned from its
    /// `srcuuid`; `None` sends [`NULL_UUID`], as heartbeat does before it knows it.
    pub dest_uuid: Option<[u8; 16]>,
    /// `ld`: the first line of the sender's `/proc/loadavg`; `None` sends heartbeat's `n/a`.
    /// Only numbered (non-`NS_`) messages carry it.
    pub load: Option<&'a str>,
}

/// What a received datagram says beyond its [`Packet`]: the UUIDs, if they are well-formed
/// 16-byte binary fields (anything else is ignored, as heartbeat processes such a message
/// without UUID). `ld` is accepted and not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub packet: Packet,
    pub src_uuid: Option<[u8; 16]>,
    pub dest_uuid: Option<[u8; 16]>,
}

fn fields(p: &Packet, stamp: &Stamp<'_>) -> Vec<(&'static str, Value)> {
    let s = |v: String| Value::String(v.into_bytes());
    let mut f: Vec<(&'static str, String)> = vec![("t", p.msg.type_name().to_string())];
    if let Some(d) = &p.dest {
        // heartbeat's repnodes has `dest` before `t`; receivers do not care about order,
        // and the simulator's golden traces are written in this one.
        f.push(("dest", d.to_string()));
    }
    match &p.msg {
        Msg::Status {
            st,
            dt_ms,
            protocol,
        } => {
            f.push(("st", st.name().into()));
            if let Some(dt) = dt_ms {
                f.push(("dt", format!("{dt:x}")));
            }
            if *protocol {
                f.push(("protocol", "1".into()));
            }
        }
        Msg::Resource {
            hold,
            full,
            stable,
            info,
        } => {
            f.push(("rsc_hold", hold.name().into()));
            if *full {
                f.push(("rtype", "full".into()));
            }
            if let Some(s) = stable {
                f.push(("isstable", if *s { "1" } else { "0" }.into()));
            }
            if let Some(i) = info {
                f.push(("info", i.clone()));
            }
        }
        Msg::AskResources { set, phase } => {
            f.push(("rsc_hold", set.name().into()));
            f.push(("info", phase.name().into()));
        }
        Msg::IpRequest { key } => f.push(("ipaddr", key.clone())),
        Msg::IpRequestResp { key, weown } => {
            f.push(("ipaddr", key.clone()));
            f.push(("weown", if *weown { "yes" } else { "no" }.into()));
            f.push(("ok", "OK".into()));
        }
        Msg::HbTakeover { set } => f.push(("rsc_hold", set.clone())),
        Msg::Shutdone => f.push(("st", "dead".into())),
        Msg::Stonith { node, result } => {
            f.push(("node", node.to_string()));
            f.push(("result", result.name().into()));
        }
        Msg::RepNodes { nodes } => {
            let mut l = String::new();
            for n in nodes {
                l.push_str(n.as_str());
                l.push(' ');
            }
            f.push(("nodelist", l));
            f.push(("delnodelist", " ".into()));
        }
        Msg::Ack { ackseq } => f.push(("ackseq", format!("{ackseq:x}"))),
        Msg::Rexmit { first, last } => {
            f.push(("firstseq", first.to_string()));
            f.push(("lastseq", last.to_string()));
        }
        Msg::NakRexmit { seq, info } => {
            f.push(("firstseq", format!("{seq:x}")));
            f.push(("info", info.clone()));
        }
        Msg::NumPingNodes { count } => f.push(("num_ping", count.to_string())),
        Msg::Starting | Msg::ReqNodes | Msg::Other { .. } => {}
    }
    let mut f: Vec<(&'static str, Value)> = f.into_iter().map(|(k, v)| (k, s(v))).collect();
    // Control fields in heartbeat's order (wire spec §5): `destuuid` after the type's own
    // fields, then src, srcuuid, seq, hg, ts, ld, ttl.
    if p.dest.is_some() {
        let du = stamp.dest_uuid.unwrap_or(NULL_UUID);
        f.push(("destuuid", Value::Binary(du.to_vec())));
    }
    f.push(("src", s(p.src.to_string())));
    f.push(("srcuuid", Value::Binary(stamp.src_uuid.to_vec())));
    if let Some(q) = p.seq {
        f.push(("seq", s(format!("{q:x}"))));
    }
    f.push(("hg", s(format!("{:x}", p.generation))));
    f.push(("ts", s(format!("{:x}", p.ts))));
    if p.msg.is_sequenced() {
        f.push(("ld", s(stamp.load.unwrap_or("n/a").to_string())));
    }
    f.push(("ttl", s(p.ttl.to_string())));
    f
}

/// Renders and signs `p` with the send key, as a UDP datagram from the node whose UUID is
/// `uuid` (`hb_uuid`, sent as `srcuuid`), with no learned `destuuid` and `ld` `n/a` (tests,
/// tools). Empty only if the packet could not be rendered within heartbeat's size limit
/// (never for the core's messages).
pub fn encode(p: &Packet, uuid: &[u8; 16], auth: &AuthKeys) -> Vec<u8> {
    let stamp = Stamp {
        src_uuid: uuid,
        dest_uuid: (p.dest.as_ref() == Some(&p.src)).then_some(*uuid),
        load: None,
    };
    encode_stamped(p, &stamp, auth)
}

/// [`encode`] with every control field chosen by the sender.
pub fn encode_stamped(p: &Packet, stamp: &Stamp<'_>, auth: &AuthKeys) -> Vec<u8> {
    let mut m = Message::new();
    for (k, v) in fields(p, stamp) {
        m.push(k, v);
    }
    wire::encode_udp(&m, auth).unwrap_or_default()
}

/// A datagram of our send history, re-signed for retransmission: its fields as sent, the
/// trailer with the keys in use now (wire §8.1: heartbeat re-serialises the stored message),
/// so a SIGHUP that changed `authkeys` also covers what is resent afterwards.
pub fn resign(bytes: &[u8], auth: &AuthKeys) -> Vec<u8> {
    // The history holds only what `encode` produced, which always re-parses.
    wire::resign_udp(bytes, auth).unwrap_or_else(|_| bytes.to_vec())
}

fn hexnum(s: &str) -> Result<u64, DropReason> {
    u64::from_str_radix(s, 16).map_err(|_| DropReason::Malformed)
}

fn decnum(s: &str) -> Result<u64, DropReason> {
    s.parse::<u64>().map_err(|_| DropReason::Malformed)
}

fn map_drop(r: wire::DropReason) -> DropReason {
    use wire::DropReason as W;
    match r {
        W::Oversized { .. } => DropReason::Oversized,
        W::UnknownKeyIndex { .. } => DropReason::UnknownKeyIndex,
        W::MissingAuth | W::BadAuthToken | W::BadDigest { .. } => DropReason::BadAuth,
        W::Truncated | W::Malformed { .. } | W::MissingTypePrefix { .. } | W::TooDeep => {
            DropReason::Malformed
        }
    }
}

/// Verifies and parses one datagram.
pub fn decode(bytes: &[u8], auth: &AuthKeys) -> Result<Packet, DropReason> {
    decode_received(bytes, auth).map(|r| r.packet)
}

/// [`decode`], keeping the sender's and destination's UUIDs.
pub fn decode_received(bytes: &[u8], auth: &AuthKeys) -> Result<Received, DropReason> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(DropReason::Oversized);
    }
    let m = wire::decode_udp(bytes, auth).map_err(map_drop)?;
    let m = m.message();
    Ok(Received {
        packet: from_message(m)?,
        src_uuid: m.get_uuid("srcuuid"),
        dest_uuid: m.get_uuid("destuuid"),
    })
}

/// Every string field of an authentic datagram, in wire order (the environment of an rc.d
/// notification); empty if it does not verify. Only called for the rare message that has a
/// notification script, so it parses again rather than burdening every decode.
pub fn string_fields(bytes: &[u8], auth: &AuthKeys) -> Vec<(String, String)> {
    let Ok(m) = wire::decode_udp(bytes, auth) else {
        return Vec::new();
    };
    m.message()
        .fields()
        .iter()
        .filter_map(|f| match &f.value {
            Value::String(v) => Some((
                String::from_utf8_lossy(&f.name).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// What was wrong with the signature of a datagram [`decode`] refused as `BadAuth` or
/// `UnknownKeyIndex`; `None` for any other verdict. Only called on that (rare) path, so it
/// parses again rather than burdening every decode.
pub fn auth_failure(bytes: &[u8], auth: &AuthKeys) -> Option<AuthFailure> {
    use wire::DropReason as W;
    match wire::decode_udp(bytes, auth) {
        Err(W::BadDigest { .. }) => {
            let received = wire::parse(bytes).ok()?;
            let token = match received.trailer() {
                Some(t) => t.to_vec(),
                // Classic: the last inner `auth` field is the one checked.
                None => received
                    .message()
                    .fields()
                    .iter()
                    .rev()
                    .find(|f| f.is("auth"))
                    .and_then(|f| match &f.value {
                        Value::String(v) => Some(v.clone()),
                        _ => None,
                    })?,
            };
            // heartbeat logs the digest part of `<index> <digest>`.
            let digest = match token.iter().position(|&b| b == b' ') {
                Some(sp) => &token[sp + 1..],
                None => &token[..],
            };
            Some(AuthFailure::Mismatch {
                digest: String::from_utf8_lossy(digest).into_owned(),
            })
        }
        Err(W::UnknownKeyIndex { index }) => Some(AuthFailure::UnknownIndex(index)),
        Err(W::MissingAuth | W::BadAuthToken) => Some(AuthFailure::BadToken),
        _ => None,
    }
}

/// The typed view of an authenticated message.
fn from_message(m: &Message) -> Result<Packet, DropReason> {
    let get = |k: &str| m.get_str(k);
    let req = |k: &str| get(k).ok_or(DropReason::Malformed);
    let t = req("t")?;
    let src = NodeName::new(req("src")?);
    let dest = get("dest").map(NodeName::new);
    let generation = get("hg").map(hexnum).transpose()?.unwrap_or(0);
    let ts = hexnum(req("ts")?)?;
    let ttl = get("ttl")
        .map(|v| v.parse::<u8>().map_err(|_| DropReason::Malformed))
        .transpose()?
        .unwrap_or(0);
    let msg = match t {
        "status" => Msg::Status {
            st: NodeStatus::parse(req("st")?).ok_or(DropReason::Malformed)?,
            dt_ms: get("dt").map(hexnum).transpose()?,
            protocol: get("protocol").is_some(),
        },
        "starting" => Msg::Starting,
        "resource" => Msg::Resource {
            hold: Hold::parse(req("rsc_hold")?).ok_or(DropReason::Malformed)?,
            full: get("rtype") == Some("full"),
            stable: get("isstable").map(|v| v == "1"),
            info: get("info").map(str::to_string),
        },
        "ask_resources" => Msg::AskResources {
            set: match get("rsc_hold") {
                Some(h) => Hold::parse(h).ok_or(DropReason::Malformed)?,
                None => Hold::ALL,
            },
            phase: match req("info")? {
                "me" => Phase::Me,
                "other" => Phase::Other,
                "done" => Phase::Done,
                _ => return Err(DropReason::Malformed),
            },
        },
        "ip-request" => Msg::IpRequest {
            key: req("ipaddr")?.to_string(),
        },
        "ip-request-resp" => Msg::IpRequestResp {
            key: req("ipaddr")?.to_string(),
            weown: get("weown") == Some("yes"),
        },
        "hb_takeover" => Msg::HbTakeover {
            set: get("rsc_hold").unwrap_or("all").to_string(),
        },
        "shutdone" => Msg::Shutdone,
        "stonith" => Msg::Stonith {
            node: NodeName::new(req("node")?),
            result: match req("result")? {
                "OK" => StonithResult::Ok,
                "n_stnth" => StonithResult::NoDevice,
                "unneeded" => StonithResult::Unneeded,
                _ => StonithResult::Bad,
            },
        },
        "reqnodes" => Msg::ReqNodes,
        "repnodes" => Msg::RepNodes {
            nodes: req("nodelist")?
                .split_whitespace()
                .map(NodeName::new)
                .collect(),
        },
        "NS_ackmsg" => Msg::Ack {
            ackseq: hexnum(req("ackseq")?)?,
        },
        "NS_rexmit" => Msg::Rexmit {
            first: decnum(req("firstseq")?)?,
            last: decnum(req("lastseq")?)?,
        },
        "NS_nak_rexmit" => Msg::NakRexmit {
            seq: hexnum(req("firstseq")?)?,
            info: get("info").unwrap_or("").to_string(),
        },
        "num_ping_nodes" => Msg::NumPingNodes {
            count: decnum(req("num_ping")?)?,
        },
        other => Msg::Other {
            t: other.to_string(),
        },
    };
    let seq = if msg.is_sequenced() {
        let s = hexnum(req("seq")?)?;
        if s == 0 {
            return Err(DropReason::Malformed);
        }
        Some(s)
    } else {
        None
    };
    Ok(Packet {
        src,
        dest,
        seq,
        generation,
        ts,
        ttl,
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthKey, KeyIndex, Secret};

    fn idx(n: u8) -> KeyIndex {
        KeyIndex::new(n).unwrap_or_else(|| unreachable!())
    }

    fn keys() -> AuthKeys {
        AuthKeys::single(idx(1), AuthKey::Sha1(Secret::new("k")))
    }

    const UUID: [u8; 16] = *b"0123456789abcdef";

    fn status() -> Packet {
        Packet {
            src: NodeName::new("node1"),
            dest: None,
            seq: Some(0x1a),
            generation: 5,
            ts: 9,
            ttl: 3,
            msg: Msg::Status {
                st: NodeStatus::Active,
                dt_ms: Some(30000),
                protocol: true,
            },
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn round_trip_as_a_signed_netstring_datagram() {
        // wire spec §0: netstring on UDP, typed fields, hex dt/seq, a trailer.
        let p = status();
        let b = encode(&p, &UUID, &keys());
        assert!(b.starts_with(b"###\n"));
        assert!(contains(&b, b"(0)dt=7530,"), "dt is hex (wire §0 item 6)");
        assert!(contains(&b, b"(0)seq=1a,"));
        assert!(contains(&b, b"%%%\n"), "trailer follows");
        assert_eq!(decode(&b, &keys()), Ok(p.clone()));
        // ld between ts and ttl (wire §5), n/a when the sender does not know its load.
        assert!(contains(&b, b"(0)ts=9,9:(0)ld=n/a,8:(0)ttl=3,"));
        let stamp = Stamp {
            src_uuid: &UUID,
            dest_uuid: Some([7; 16]),
            load: Some("0.08 0.03 0.01 1/123 4567"),
        };
        let b = encode_stamped(&p, &stamp, &keys());
        assert!(contains(
            &b,
            b"(0)ts=9,31:(0)ld=0.08 0.03 0.01 1/123 4567,8:(0)ttl=3,"
        ));
        assert!(!contains(&b, b"destuuid"), "no dest, no destuuid");
        let to2 = Packet {
            dest: Some(NodeName::new("node2")),
            ..p
        };
        let r = decode_received(&encode_stamped(&to2, &stamp, &keys()), &keys());
        assert_eq!(r.as_ref().map(|r| r.dest_uuid), Ok(Some([7; 16])));
        assert_eq!(r.map(|r| r.src_uuid), Ok(Some(UUID)));
    }

    #[test]
    fn every_message_type_round_trips() {
        let n = NodeName::new("node2");
        for msg in [
            Msg::Starting,
            Msg::Resource {
                hold: Hold::FOREIGN,
                full: false,
                stable: None,
                info: Some("mach_down".into()),
            },
            Msg::Resource {
                hold: Hold::ALL,
                full: true,
                stable: Some(true),
                info: None,
            },
            Msg::AskResources {
                set: Hold::LOCAL,
                phase: Phase::Other,
            },
            Msg::IpRequest {
                key: "10.0.0.1".into(),
            },
            Msg::IpRequestResp {
                key: "10.0.0.1".into(),
                weown: true,
            },
            Msg::HbTakeover {
                set: "failback".into(),
            },
            Msg::Shutdone,
            Msg::Stonith {
                node: n.clone(),
                result: StonithResult::Unneeded,
            },
            Msg::ReqNodes,
            Msg::RepNodes {
                nodes: vec![NodeName::new("node1"), n.clone()],
            },
        ] {
            let p = Packet {
                msg,
                dest: Some(n.clone()),
                ..status()
            };
            assert_eq!(decode(&encode(&p, &UUID, &keys()), &keys()), Ok(p));
        }
        for msg in [
            Msg::Ack { ackseq: 0x1e },
            Msg::Rexmit {
                first: 42,
                last: 42,
            },
            Msg::NakRexmit {
                seq: 7,
                info: "seqno too low".into(),
            },
        ] {
            let p = Packet {
                msg,
                seq: None,
                dest: Some(n.clone()),
                ..status()
            };
            assert_eq!(decode(&encode(&p, &UUID, &keys()), &keys()), Ok(p));
        }
    }

    #[test]
    fn tampering_and_wrong_keys_are_rejected() {
        let b = encode(&status(), &UUID, &keys());
        let mut t = b.clone();
        if let Some(i) = t.windows(6).position(|w| w == b"active") {
            t[i] = b'A';
        }
        assert_eq!(decode(&t, &keys()), Err(DropReason::BadAuth));
        let other = AuthKeys::single(idx(1), AuthKey::Sha1(Secret::new("x")));
        assert_eq!(decode(&b, &other), Err(DropReason::BadAuth));
        let idx2 = AuthKeys::single(idx(2), AuthKey::Crc);
        assert_eq!(decode(&b, &idx2), Err(DropReason::UnknownKeyIndex));
        assert_eq!(decode(b"garbage", &keys()), Err(DropReason::Malformed));
    }

    #[test]
    fn auth_failures_are_described_like_heartbeat_logs_them() {
        let b = encode(&status(), &UUID, &keys());
        let other = AuthKeys::single(idx(1), AuthKey::Sha1(Secret::new("x")));
        // The trailer's digest as received (what heartbeat logs as authtoken).
        let Some(AuthFailure::Mismatch { digest }) = auth_failure(&b, &other) else {
            panic!("not a mismatch: {:?}", auth_failure(&b, &other));
        };
        assert!(
            digest.len() == 40 && b.ends_with(format!(" {digest},").as_bytes()),
            "{digest}"
        );
        let idx2 = AuthKeys::single(idx(2), AuthKey::Crc);
        assert_eq!(auth_failure(&b, &idx2), Some(AuthFailure::UnknownIndex(1)));
        let cut = b.len() - 20;
        assert_eq!(
            auth_failure(&b[..cut], &keys()),
            None,
            "malformed, not auth"
        );
        assert_eq!(auth_failure(&b, &keys()), None, "authentic");
        let mut unsigned = b.clone();
        let end = unsigned
            .windows(4)
            .rposition(|w| w == b"%%%\n")
            .unwrap_or(0)
            + 4;
        unsigned.truncate(end);
        assert_eq!(
            auth_failure(&unsigned, &keys()),
            Some(AuthFailure::BadToken)
        );
    }
}
