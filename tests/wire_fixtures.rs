//! Every payload captured from real heartbeat 3.0.6 (fixtures/heartbeat-3.0.6/wire) parses,
//! verifies with its capture's key, and re-encodes byte-identically.

mod common;
#[path = "common/pcap.rs"]
mod pcap;

use std::fs;
use std::path::{Path, PathBuf};

use heartbeat_rs::config::{AuthKey, AuthKeys, AuthMethod, KeyIndex, Secret, authkeys};
use heartbeat_rs::sys::serial::FrameReader;
use heartbeat_rs::wire::{
    self, DropReason, Value, WireFormat, auth, classic, decode_serial, decode_udp, encode_serial,
    encode_udp,
};

fn wire_dir() -> PathBuf {
    common::fixtures_dir().join("wire")
}

/// Capture names (`bcast-sha1`, …) having a file with extension `ext`.
fn captures(ext: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(wire_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(ext).map(str::to_owned)
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(!names.is_empty(), "no *{ext} fixtures");
    names
}

fn index1() -> KeyIndex {
    KeyIndex::new(1).unwrap()
}

/// The key of a capture, read from the per-run authkeys files with the configuration
/// parser (`config::authkeys::parse`; the fixture files are not mode 600, so not through
/// `read_authkeys`, which refuses them as heartbeat would). Both nodes ran the same keys.
fn keys_for(capture: &str) -> AuthKeys {
    let read = |node: &str| {
        let path = wire_dir().join(capture).join(node).join("authkeys");
        let text = fs::read_to_string(&path).unwrap();
        authkeys::parse(&text, &path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    };
    let keys = read("node1");
    assert_eq!(keys, read("node2"), "{capture}: nodes disagree on keys");
    let want = if capture.contains("crc") {
        AuthMethod::Crc
    } else if capture.contains("md5") {
        AuthMethod::Md5
    } else {
        AuthMethod::Sha1
    };
    assert_eq!(keys.send_key().method(), want, "{capture}");
    keys
}

/// A key set that must refuse the capture: same index, same method, another secret
/// (for crc, whose digest has no secret, a sha1 key under the same index).
fn wrong_keys_for(capture: &str) -> AuthKeys {
    let key = if capture.contains("md5") {
        AuthKey::Md5(Secret::new("wrongkey"))
    } else {
        AuthKey::Sha1(Secret::new("wrongkey"))
    };
    AuthKeys::single(index1(), key)
}

/// Number of `=== #n` blocks in the capture's text dump.
fn txt_blocks(capture: &str) -> usize {
    let txt = fs::read(wire_dir().join(format!("{capture}.txt"))).unwrap();
    txt.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"=== #"))
        .count()
}

/// The inner `auth` field of a netstring datagram must be valid too (it is what a serial
/// write child or an old classic receiver checks).
fn check_inner_auth(m: &wire::Message, keys: &AuthKeys) -> (KeyIndex, AuthMethod) {
    let Some(Value::String(token)) = m
        .fields()
        .iter()
        .rev()
        .find(|f| f.is("auth"))
        .map(|f| &f.value)
    else {
        panic!("no inner auth in {m:?}");
    };
    let mut text = Vec::new();
    classic::signed_text_into(m, &mut text).unwrap();
    auth::check_token(keys, token, &text).unwrap()
}

#[test]
fn every_udp_and_icmp_payload_verifies_and_reencodes_identically() {
    let mut total = 0;
    for capture in captures(".pcap") {
        let keys = keys_for(&capture);
        let wrong = wrong_keys_for(&capture);
        let method = keys.send_key().method();
        let bytes = fs::read(wire_dir().join(format!("{capture}.pcap"))).unwrap();
        let payloads = pcap::payloads(&bytes);
        assert_eq!(
            payloads.len(),
            txt_blocks(&capture),
            "{capture}: payload count"
        );
        for p in &payloads {
            let what = format!("{capture} frame {} ({})", p.frame, p.proto);
            let parsed = wire::parse(&p.bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(parsed.format(), WireFormat::Netstring, "{what}");
            assert!(parsed.trailer().is_some(), "{what}: no trailer");
            let msg = decode_udp(&p.bytes, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (msg.key_index(), msg.method()),
                (index1(), method),
                "{what}"
            );
            assert_eq!(check_inner_auth(&msg, &keys), (index1(), method), "{what}");
            assert!(msg.get_str("t").is_some(), "{what}: no t");
            let again = encode_udp(&msg, &keys).unwrap();
            assert!(again == p.bytes, "{what}: re-encoding differs");
            assert!(
                matches!(
                    decode_udp(&p.bytes, &wrong),
                    Err(DropReason::BadDigest { .. })
                ),
                "{what}: accepted with a wrong key"
            );
        }
        total += payloads.len();
    }
    // The README counts 1,531 UDP/ICMP messages over all captures.
    assert_eq!(total, 1531);
}

fn serial_streams() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for capture in captures(".node1-to-node2.raw") {
        for dir in ["node1-to-node2", "node2-to-node1"] {
            out.push((
                capture.clone(),
                wire_dir().join(format!("{capture}.{dir}.raw")),
            ));
        }
    }
    out
}

fn frames_of(path: &Path, chunk: usize) -> Vec<Vec<u8>> {
    let stream = fs::read(path).unwrap();
    // The daemon's own framer (serial links and the FIFO use it).
    let mut framer = FrameReader::new();
    let mut frames = Vec::new();
    for c in stream.chunks(chunk) {
        framer.push(c, &mut frames);
    }
    assert_eq!(framer.oversized, 0);
    frames
}

#[test]
fn every_serial_frame_verifies_and_reencodes_identically() {
    let mut total = 0;
    for capture in captures(".node1-to-node2.raw") {
        let mut in_capture = 0;
        let keys = keys_for(&capture);
        let wrong = wrong_keys_for(&capture);
        for (_, path) in serial_streams().iter().filter(|(c, _)| *c == capture) {
            let frames = frames_of(path, 512);
            // The stream is nothing but frames, back to back.
            assert_eq!(
                frames.concat(),
                fs::read(path).unwrap(),
                "{}",
                path.display()
            );
            assert_eq!(frames, frames_of(path, 7), "chunking must not matter");
            for (i, frame) in frames.iter().enumerate() {
                let what = format!("{} frame {}", path.display(), i + 1);
                let msg = decode_serial(frame, &keys).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(msg.key_index(), index1(), "{what}");
                assert!(
                    encode_serial(&msg, &keys).unwrap() == *frame,
                    "{what}: differs"
                );
                // The same frame is also acceptable as a (classic) UDP datagram.
                assert!(decode_udp(frame, &keys).is_ok(), "{what}");
                assert!(
                    matches!(
                        decode_serial(frame, &wrong),
                        Err(DropReason::BadDigest { .. })
                    ),
                    "{what}: accepted with a wrong key"
                );
            }
            in_capture += frames.len();
        }
        assert_eq!(in_capture, txt_blocks(&capture), "{capture}: frame count");
        total += in_capture;
    }
    // The README counts 371 serial messages.
    assert_eq!(total, 371);
}

#[test]
fn retransmissions_in_the_loss_capture_are_byte_identical_resends() {
    let bytes = fs::read(wire_dir().join("bcast-loss-sha1.pcap")).unwrap();
    let keys = keys_for("bcast-loss-sha1");
    let mut seen = std::collections::BTreeMap::new();
    let mut resent = 0;
    let mut rexmit_requests = 0;
    for p in pcap::payloads(&bytes) {
        let m = decode_udp(&p.bytes, &keys).unwrap();
        if m.get_str("t") == Some("NS_rexmit") {
            rexmit_requests += 1;
            // Decimal range, one packet at a time.
            assert_eq!(m.get_dec("firstseq"), m.get_dec("lastseq"));
        }
        let Some(seq) = m.get_hex("seq") else {
            continue;
        };
        let key = (m.get_str("src").unwrap().to_owned(), m.get_hex("hg"), seq);
        if let Some(first) = seen.insert(key, p.bytes.clone()) {
            assert_eq!(first, p.bytes, "same (src, hg, seq) with different bytes");
            resent += 1;
        }
    }
    assert!(
        rexmit_requests > 0 && resent > 0,
        "{rexmit_requests} requests, {resent} resends"
    );
}
