//! Our encoder against heartbeat 3.0.6's own datagrams (fixtures/heartbeat-3.0.6/wire):
//! every captured message of a type the core sends is decoded into a typed packet and
//! re-encoded by `cluster::codec` with the sender's UUID. The result must be the captured
//! datagram byte for byte, except for the documented differences (wire spec §5,
//! docs/differences-from-heartbeat.md): no `ld` field, `destuuid` is the null UUID for a
//! peer (we do not track peers' UUIDs; heartbeat itself sends it before it knows one), and
//! `repnodes` has `t` before `dest`.

mod common;
#[path = "common/pcap.rs"]
mod pcap;

use std::fs;

use heartbeat_rs::cluster::codec;
use heartbeat_rs::config::authkeys;
use heartbeat_rs::wire::{self, Value};

const CAPTURES: [&str; 9] = [
    "bcast-crc",
    "bcast-md5",
    "bcast-sha1",
    "ucast-crc",
    "ucast-md5",
    "ucast-sha1",
    "mcast-crc",
    "mcast-md5",
    "mcast-sha1",
];

/// The MCP-generated types found in the captures (script messages come in through the
/// FIFO, not from the core's encoder).
const MODELLED: [&str; 7] = [
    "status",
    "NS_ackmsg",
    "reqnodes",
    "starting",
    "NS_rexmit",
    "repnodes",
    "resource",
];

#[test]
fn our_encoding_of_captured_messages_matches_heartbeat_but_for_ld_and_peer_uuid() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for capture in CAPTURES {
        let dir = common::fixtures_dir().join("wire");
        let path = dir.join(capture).join("node1/authkeys");
        let text = fs::read_to_string(&path).unwrap();
        let keys = authkeys::parse(&text, &path).unwrap();
        let pcap = fs::read(dir.join(format!("{capture}.pcap"))).unwrap();
        for p in pcap::payloads(&pcap).iter().filter(|p| p.proto == "UDP") {
            let what = format!("{capture} frame {}", p.frame);
            let msg = wire::decode_udp(&p.bytes, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
            let t = msg.get_str("t").unwrap_or_default().to_string();
            if !MODELLED.contains(&t.as_str()) {
                continue;
            }
            let uuid = msg.get_uuid("srcuuid").expect("heartbeat sends srcuuid");
            // What we would send: heartbeat's message without `ld`, the peer's UUID nulled.
            let mut want = msg.message().clone();
            want.remove("ld").remove("auth");
            if want.get_str("dest") != want.get_str("src") && want.get("destuuid").is_some() {
                want.set("destuuid", Value::Binary(vec![0; 16]));
            }
            if t == "repnodes" {
                // heartbeat puts `dest` first here; we keep `t` first (order is not checked
                // by any receiver; only the signatures cover it).
                let mut fields = want.into_fields();
                if let Some(d) = fields.iter().position(|f| f.is("dest")) {
                    let dest = fields.remove(d);
                    fields.insert(1, dest);
                }
                want = wire::Message::from_fields(fields);
            }
            let want = wire::encode_udp(&want, &keys).unwrap();
            let packet = codec::decode(&p.bytes, &keys).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let ours = codec::encode(&packet, &uuid, &keys);
            assert!(
                ours == want,
                "{what}: ours\n{}\nheartbeat (adjusted)\n{}",
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&want)
            );
            *checked.entry(t).or_default() += 1;
        }
    }
    eprintln!("checked: {checked:?}");
    for t in [
        "status",
        "NS_ackmsg",
        "reqnodes",
        "repnodes",
        "starting",
        "resource",
    ] {
        assert!(
            checked.get(t).copied().unwrap_or(0) > 0,
            "no {t} in the captures"
        );
    }
}
