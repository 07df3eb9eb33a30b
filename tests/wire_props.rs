//! Property tests of the codecs and of authentication.

use heartbeat_rs::config::{AuthKey, AuthKeys, KeyIndex, Secret};
use heartbeat_rs::wire::{
    Field, Message, Value, classic, decode_serial, decode_udp, encode_serial, encode_udp,
    netstring, sign_inner,
};
use proptest::prelude::*;

/// Field names; `auth` is left out because a second `auth` field would (as in heartbeat)
/// shadow the signature the sender sets on the first one.
fn name() -> impl Strategy<Value = Vec<u8>> {
    "[a-z_][a-z0-9_]{0,7}"
        .prop_filter("auth is the signature", |n| n != "auth")
        .prop_map(String::into_bytes)
}

/// String values as heartbeat can carry them in both formats: no NUL, no 0x13 (classic's LF
/// escape) and none of the control bytes that stand for LF in nested classic text.
fn text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(b'\n'), 0x20u8..=0x7e, 0x80u8..=0xff],
        0..24,
    )
}

fn list_item() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff], 0..8)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => text().prop_map(Value::String),
        2 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Value::Binary),
        1 => prop::collection::vec(list_item(), 0..4).prop_map(Value::List),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Compressed),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec((name(), inner), 0..4).prop_map(|fields| {
            Value::Struct(Message::from_fields(
                fields
                    .into_iter()
                    .map(|(name, value)| Field::new(name, value))
                    .collect(),
            ))
        })
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop::collection::vec((name(), value()), 0..10).prop_map(|fields| {
        Message::from_fields(
            fields
                .into_iter()
                .map(|(name, value)| Field::new(name, value))
                .collect(),
        )
    })
}

fn keys() -> impl Strategy<Value = AuthKeys> {
    (0u8..=15, 0usize..3, "[!-~]{1,80}").prop_map(|(i, m, secret)| {
        let key = match m {
            0 => AuthKey::Crc,
            1 => AuthKey::Md5(Secret::new(secret)),
            _ => AuthKey::Sha1(Secret::new(secret)),
        };
        AuthKeys::single(KeyIndex::new(i).unwrap(), key)
    })
}

proptest! {
    #[test]
    fn netstring_round_trips(m in message()) {
        let mut bytes = Vec::new();
        netstring::encode_into(&m, &mut bytes).unwrap();
        let (back, used) = netstring::decode_prefix(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, m);
    }

    #[test]
    fn classic_round_trips(m in message()) {
        let mut bytes = Vec::new();
        classic::encode_into(&m, &mut bytes).unwrap();
        prop_assert_eq!(classic::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn signed_udp_verifies_and_single_byte_changes_do_not(
        m in message(),
        k in keys(),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let bytes = encode_udp(&m, &k).unwrap();
        let got = decode_udp(&bytes, &k).unwrap();
        prop_assert_eq!(got.key_index(), k.send_index());
        let mut signed = m.clone();
        sign_inner(&mut signed, &k).unwrap();
        prop_assert_eq!(got.message(), &signed);
        // Re-encoding what we received gives the same datagram (retransmission).
        prop_assert_eq!(encode_udp(got.message(), &k).unwrap(), bytes.clone());

        let mut bad = bytes.clone();
        let i = pos.index(bad.len());
        bad[i] ^= flip;
        prop_assert!(decode_udp(&bad, &k).is_err(), "byte {} ^ {:#x} still verifies", i, flip);
    }

    #[test]
    fn signed_serial_verifies_and_single_byte_changes_do_not(
        m in message(),
        k in keys(),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let bytes = encode_serial(&m, &k).unwrap();
        let got = decode_serial(&bytes, &k).unwrap();
        let mut signed = m.clone();
        sign_inner(&mut signed, &k).unwrap();
        prop_assert_eq!(got.message(), &signed);

        let mut bad = bytes.clone();
        let i = pos.index(bad.len());
        bad[i] ^= flip;
        prop_assert!(decode_serial(&bad, &k).is_err(), "byte {} ^ {:#x} still verifies", i, flip);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300), k in keys()) {
        let _ = decode_udp(&data, &k);
        let _ = decode_serial(&data, &k);
    }
}
