//! Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay test, so CI
//! exercises exactly what the fuzzer ran. They assert the codec invariants; any panic here
//! is a bug found.

use std::collections::BTreeMap;

use super::{Value, WireFormat, classic, decode_serial, decode_udp, encode_udp, netstring, parse};
use crate::config::{AuthKey, AuthKeys, KeyIndex, Secret};

/// The keys of the fixture captures (`1 crc`, `1 md5 testkey`, `1 sha1 testkey`), plus a
/// rollover set holding all three methods under different indices.
pub fn fixture_keysets() -> Vec<AuthKeys> {
    let one = |k| KeyIndex::new(1).map(|i| AuthKeys::single(i, k));
    let mut sets: Vec<AuthKeys> = [
        AuthKey::Crc,
        AuthKey::Md5(Secret::new("testkey")),
        AuthKey::Sha1(Secret::new("testkey")),
    ]
    .into_iter()
    .filter_map(one)
    .collect();
    let mut map = BTreeMap::new();
    for (i, k) in [
        (2, AuthKey::Crc),
        (1, AuthKey::Sha1(Secret::new("testkey"))),
        (15, AuthKey::Md5(Secret::new("testkey"))),
    ] {
        if let Some(i) = KeyIndex::new(i) {
            map.insert(i, k);
        }
    }
    if let Some(set) = KeyIndex::new(2).and_then(|i| AuthKeys::new(i, map)) {
        sets.push(set);
    }
    sets
}

/// Decoding: any input either decodes or is rejected with a reason; a decoded message
/// re-encodes in its own format to text that decodes to the same message.
pub fn decode(data: &[u8]) {
    if let Ok(r) = parse(data) {
        let m = r.message();
        let mut again = Vec::new();
        match r.format() {
            WireFormat::Netstring => {
                assert!(netstring::encode_into(m, &mut again).is_ok());
                let (back, used) = netstring::decode_prefix(&again).expect("re-decodes");
                assert_eq!(used, again.len());
                assert_eq!(&back, m);
            }
            WireFormat::Classic => {
                assert!(classic::encode_into(m, &mut again).is_ok());
                assert_eq!(&classic::decode(&again).expect("re-decodes"), m);
            }
        }
    }
    for keys in fixture_keysets() {
        let _ = decode_serial(data, &keys);
    }
}

/// Verification: with each fixture key set, an authentic datagram's message, re-signed and
/// re-encoded, is authentic again and unchanged apart from its inner `auth` value.
pub fn verify(data: &[u8]) {
    for keys in fixture_keysets() {
        let Ok(msg) = decode_udp(data, &keys) else {
            continue;
        };
        let mut m = msg.into_message();
        let Ok(bytes) = encode_udp(&m, &keys) else {
            continue; // oversized for UDP after adding the inner auth
        };
        let back = decode_udp(&bytes, &keys).expect("our own datagram verifies");
        assert_eq!(back.key_index(), keys.send_index());
        assert!(super::sign_inner(&mut m, &keys).is_ok());
        assert_eq!(back.message(), &m);
        assert!(matches!(m.get("auth"), Some(Value::String(_))));
    }
}
