//! Our encoder against heartbeat 3.0.6's own datagrams (fixtures/heartbeat-3.0.6/wire):
//! every captured message of a type the core sends is decoded into a typed packet and
//! re-encoded by `cluster::codec` with the sender's UUID, its `ld` and the destination's
//! UUID as learned from the `srcuuid` of the datagrams captured before it. The result must
//! be the captured datagram byte for byte, except for the one documented difference (wire
//! spec §5, docs/differences-from-heartbeat.md): `repnodes` has `t` before `dest`.

mod common;
#[path = "common/pcap.rs"]
mod pcap;

use std::fs;

use heartbeat_rs::cluster::codec;
use heartbeat_rs::config::authkeys;
use heartbeat_rs::wire;

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
fn our_encoding_of_captured_messages_matches_heartbeat() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut learned_destuuid = 0;
    for capture in CAPTURES {
        let dir = common::fixtures_dir().join("wire");
        let path = dir.join(capture).join("node1/authkeys");
        let text = fs::read_to_string(&path).unwrap();
        let keys = authkeys::parse(&text, &path).unwrap();
        let pcap = fs::read(dir.join(format!("{capture}.pcap"))).unwrap();
        // Node name -> UUID, from every srcuuid seen so far (what the peer has learned).
        let mut uuids = std::collections::BTreeMap::<String, [u8; 16]>::new();
        for p in pcap::payloads(&pcap).iter().filter(|p| p.proto == "UDP") {
            let what = format!("{capture} frame {}", p.frame);
            let msg = wire::decode_udp(&p.bytes, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
            let t = msg.get_str("t").unwrap_or_default().to_string();
            let uuid = msg.get_uuid("srcuuid").expect("heartbeat sends srcuuid");
            let src = msg.get_str("src").unwrap_or_default().to_string();
            // The sender knows its own UUID (a self-addressed ACK carries it).
            uuids.insert(src, uuid);
            let dest_uuid = msg.get_str("dest").and_then(|d| uuids.get(d).copied());
            if !MODELLED.contains(&t.as_str()) {
                continue;
            }
            let load = msg.get_str("ld").map(str::to_string);
            assert_eq!(
                load.is_some(),
                !t.starts_with("NS_"),
                "{what}: heartbeat sends ld exactly on numbered messages"
            );
            if msg
                .get_uuid("destuuid")
                .is_some_and(|u| u != [0; 16] && msg.get_str("dest") != msg.get_str("src"))
            {
                learned_destuuid += 1;
            }
            // What we would send: heartbeat's message, unsigned (encode_udp signs it again).
            let mut want = msg.message().clone();
            want.remove("auth");
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
            let stamp = codec::Stamp {
                src_uuid: &uuid,
                dest_uuid,
                load: load.as_deref(),
            };
            let ours = codec::encode_stamped(&packet, &stamp, &keys);
            assert!(
                ours == want,
                "{what}: ours\n{}\nheartbeat (adjusted)\n{}",
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&want)
            );
            *checked.entry(t).or_default() += 1;
        }
    }
    eprintln!("checked: {checked:?}, {learned_destuuid} with a peer's destuuid");
    assert!(
        learned_destuuid > 0,
        "no message carries a learned destuuid"
    );
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
