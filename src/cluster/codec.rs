//! The ONE place where typed [`Packet`]s become bytes and back.
//!
//! Interim: the wire branch (`src/wire`) had no committed codec when the core was written,
//! so this module renders heartbeat's classic format (`>>>` … `<<<`, `name=value` lines,
//! an `auth=IDX HEX` field over the other lines) with the authkeys methods. Swapping in the
//! real `wire` codecs only touches this file; the rest of the core sees [`Packet`] and
//! [`DropReason`].

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;

use super::msg::{Hold, Msg, NodeStatus, Packet, Phase, StonithResult};
use crate::config::{AuthKey, AuthKeys, KeyIndex, NodeName};

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

/// Heartbeat's `MAXMSG`.
pub const MAX_DATAGRAM: usize = 256 * 1024;

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// CRC-32/CKSUM (poly 0x04C11DB7, MSB first, init 0, xorout !0), heartbeat's `crc`.
fn crc_cksum(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    !crc
}

fn digest(key: &AuthKey, text: &[u8]) -> String {
    match key {
        AuthKey::Crc => format!("{:x}", crc_cksum(text)),
        AuthKey::Md5(s) => match <Hmac<Md5> as KeyInit>::new_from_slice(s.expose()) {
            Ok(mut m) => {
                m.update(text);
                hex(&m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        },
        AuthKey::Sha1(s) => match <Hmac<Sha1> as KeyInit>::new_from_slice(s.expose()) {
            Ok(mut m) => {
                m.update(text);
                hex(&m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        },
    }
}

/// Constant-time comparison of two hex digests.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn fields(p: &Packet) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = vec![("t", p.msg.type_name().to_string())];
    if let Some(d) = &p.dest {
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
        Msg::Starting | Msg::ReqNodes | Msg::Other { .. } => {}
    }
    f.push(("src", p.src.to_string()));
    if let Some(s) = p.seq {
        f.push(("seq", format!("{s:x}")));
    }
    f.push(("hg", format!("{:x}", p.generation)));
    f.push(("ts", format!("{:x}", p.ts)));
    f.push(("ttl", p.ttl.to_string()));
    f
}

/// Renders and signs `p` with the send key.
pub fn encode(p: &Packet, auth: &AuthKeys) -> Vec<u8> {
    let mut body = String::new();
    for (k, v) in fields(p) {
        body.push_str(k);
        body.push('=');
        body.push_str(&v);
        body.push('\n');
    }
    let d = digest(auth.send_key(), body.as_bytes());
    format!(">>>\n{body}auth={} {d}\n<<<\n", auth.send_index()).into_bytes()
}

fn hexnum(s: &str) -> Result<u64, DropReason> {
    u64::from_str_radix(s, 16).map_err(|_| DropReason::Malformed)
}

fn decnum(s: &str) -> Result<u64, DropReason> {
    s.parse::<u64>().map_err(|_| DropReason::Malformed)
}

/// Verifies and parses one datagram.
pub fn decode(bytes: &[u8], auth: &AuthKeys) -> Result<Packet, DropReason> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(DropReason::Oversized);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DropReason::Malformed)?;
    let inner = text
        .strip_prefix(">>>\n")
        .and_then(|t| t.strip_suffix("<<<\n"))
        .ok_or(DropReason::Malformed)?;
    // The auth line is the last line of the body; everything before it is signed.
    let (signed, auth_line) = match inner.rfind("auth=") {
        Some(i) if i == 0 || inner.as_bytes().get(i - 1) == Some(&b'\n') => inner.split_at(i),
        _ => return Err(DropReason::Malformed),
    };
    let auth_val = auth_line
        .strip_prefix("auth=")
        .and_then(|a| a.strip_suffix('\n'))
        .ok_or(DropReason::Malformed)?;
    let (idx, given) = auth_val.split_once(' ').ok_or(DropReason::Malformed)?;
    let idx = idx
        .parse::<u8>()
        .ok()
        .and_then(KeyIndex::new)
        .ok_or(DropReason::Malformed)?;
    let key = auth.get(idx).ok_or(DropReason::UnknownKeyIndex)?;
    if !same(&digest(key, signed.as_bytes()), given) {
        return Err(DropReason::BadAuth);
    }
    let mut kv: Vec<(&str, &str)> = Vec::new();
    for line in signed.lines() {
        kv.push(line.split_once('=').ok_or(DropReason::Malformed)?);
    }
    let get = |k: &str| kv.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
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
    use crate::config::Secret;

    fn keys() -> AuthKeys {
        AuthKeys::single(
            KeyIndex::new(1).unwrap_or_else(|| unreachable!()),
            AuthKey::Sha1(Secret::new("k")),
        )
    }

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

    #[test]
    fn crc_is_cksum_not_ieee() {
        // wire spec §0 item 4: check value of "123456789" is 765e7680
        assert_eq!(crc_cksum(b"123456789"), 0x765e_7680);
    }

    #[test]
    fn round_trip_and_hex_fields() {
        let p = status();
        let b = encode(&p, &keys());
        let text = String::from_utf8(b.clone()).unwrap_or_default();
        assert!(text.contains("dt=7530\n"), "dt is hex (wire §0 item 6)");
        assert!(text.contains("seq=1a\n"));
        assert_eq!(decode(&b, &keys()), Ok(p));
    }

    #[test]
    fn tampering_and_wrong_keys_are_rejected() {
        let b = encode(&status(), &keys());
        let mut t = b.clone();
        if let Some(i) = t.iter().position(|&c| c == b'a') {
            t[i] = b'b';
        }
        assert_eq!(decode(&t, &keys()), Err(DropReason::BadAuth));
        let other = AuthKeys::single(
            KeyIndex::new(1).unwrap_or_else(|| unreachable!()),
            AuthKey::Sha1(Secret::new("x")),
        );
        assert_eq!(decode(&b, &other), Err(DropReason::BadAuth));
        let idx2 = AuthKeys::single(
            KeyIndex::new(2).unwrap_or_else(|| unreachable!()),
            AuthKey::Crc,
        );
        assert_eq!(decode(&b, &idx2), Err(DropReason::UnknownKeyIndex));
        assert_eq!(decode(b"garbage", &keys()), Err(DropReason::Malformed));
    }
}
