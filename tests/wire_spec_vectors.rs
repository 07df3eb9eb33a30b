//! The full-message samples of the wire spec (§14), produced there by heartbeat's own
//! library and plugins: we must produce and accept exactly these bytes.

use heartbeat_rs::config::{AuthKey, AuthKeys, AuthMethod, KeyIndex, Secret};
use heartbeat_rs::wire::{
    Message, decode_serial, decode_udp, decode_unsigned, encode_classic_unsigned, encode_serial,
    encode_udp,
};

/// Spec notation → bytes: `\n` is LF, `\xNN` a byte, everything else literal.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn keys(index: u8, key: AuthKey) -> AuthKeys {
    AuthKeys::single(KeyIndex::new(index).unwrap(), key)
}

fn sha1() -> AuthKeys {
    keys(1, AuthKey::Sha1(Secret::new("mysecret")))
}

const UUID1: [u8; 16] = [
    0x2f, 0x1b, 0x4c, 0x7e, 0x91, 0x02, 0x4d, 0x3a, 0x8b, 0x55, 0x6c, 0x0d, 0xe1, 0xf2, 0x33, 0x44,
];

/// The status message of §14.1 before signing.
fn status() -> Message {
    let mut m = Message::new();
    m.set_str("t", "status")
        .set_str("st", "active")
        .set_hex("dt", 30000)
        .set_dec("protocol", 1)
        .set_str("src", "node1")
        .set_binary("srcuuid", &UUID1)
        .set_hex("seq", 0x1a)
        .set_hex("hg", 0x65a1b2c4)
        .set_hex("ts", 0x65a1b2d0)
        .set_str("ld", "0.08 0.03 0.01 1/123 4567")
        .set_dec("ttl", 3);
    m
}

const STATUS_SHA1: &str = r"###\n11:(0)t=status,12:(0)st=active,10:(0)dt=7530,13:(0)protocol=1,12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,9:(0)seq=1a,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2d0,31:(0)ld=0.08 0.03 0.01 1/123 4567,8:(0)ttl=3,50:(0)auth=1 097b2fd2f8d60c8ce4c57ec563e0c3c3f7242bc3,%%%\n42:1 7aaa4e6d218bb503380dd5f37a0a421e6a37bf4a,";

#[test]
fn status_sha1_14_1() {
    let bytes = encode_udp(&status(), &sha1()).unwrap();
    assert_eq!(bytes.len(), 311);
    assert_eq!(bytes, unescape(STATUS_SHA1));
    let m = decode_udp(&bytes, &sha1()).unwrap();
    assert_eq!(
        m.get_str("auth"),
        Some("1 097b2fd2f8d60c8ce4c57ec563e0c3c3f7242bc3")
    );
    assert_eq!(m.get_hex("dt"), Some(30000));

    // The classic rendering (serial), without the NUL the C serialiser counts.
    let classic = unescape(
        r">>>\nt=status\nst=active\ndt=7530\nprotocol=1\nsrc=node1\n(1)srcuuid=LxtMfpECTTqLVWwN4fIzRA==\nseq=1a\nhg=65a1b2c4\nts=65a1b2d0\nld=0.08 0.03 0.01 1/123 4567\nttl=3\nauth=1 097b2fd2f8d60c8ce4c57ec563e0c3c3f7242bc3\n<<<\n",
    );
    assert_eq!(classic.len() + 1, 207);
    assert_eq!(encode_serial(&status(), &sha1()).unwrap(), classic);
    assert_eq!(encode_serial(&m, &sha1()).unwrap(), classic);
    let mut with_nul = classic.clone();
    with_nul.push(0);
    assert_eq!(
        decode_serial(&with_nul, &sha1()).unwrap().message(),
        m.message()
    );
    assert_eq!(
        decode_udp(&with_nul, &sha1()).unwrap().message(),
        m.message()
    );
}

#[test]
fn status_md5_and_crc_14_2() {
    let md5 = keys(1, AuthKey::Md5(Secret::new("mysecret")));
    let bytes = encode_udp(&status(), &md5).unwrap();
    assert_eq!(bytes.len(), 295);
    assert!(bytes.ends_with(b"42:(0)auth=1 e20dbcada45c6a7d1356f6bb65756b71,%%%\n34:1 8f550ac57fb55f0b85f51daa68785f81,"));
    let crc = keys(1, AuthKey::Crc);
    let bytes = encode_udp(&status(), &crc).unwrap();
    assert_eq!(bytes.len(), 247);
    assert!(bytes.ends_with(b"18:(0)auth=1 da2e45cd,%%%\n10:1 c2083393,"));
    assert_eq!(decode_udp(&bytes, &crc).unwrap().method(), AuthMethod::Crc);
}

/// §14.3–14.9: each sample decodes, verifies with its key, and re-encodes to itself.
#[test]
fn samples_14_3_to_14_9_round_trip() {
    let crc2 = keys(2, AuthKey::Crc);
    let crc1 = keys(1, AuthKey::Crc);
    let md5_3 = keys(3, AuthKey::Md5(Secret::new("Hello!")));
    let samples: [(&str, &AuthKeys, &str); 7] = [
        (
            "14.3",
            &crc2,
            r"###\n11:(0)t=status,8:(0)st=up,10:(0)dt=7d00,13:(0)protocol=1,12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,8:(0)seq=1,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2d0,30:(0)ld=0.00 0.01 0.05 1/98 1234,8:(0)ttl=3,18:(0)auth=2 b84c1bb5,%%%\n10:2 78b28c80,",
        ),
        (
            "14.4",
            &sha1(),
            r"###\n14:(0)t=NS_ackmsg,13:(0)dest=node2,12:(0)ackseq=1e,28:(1)destuuid=\x90\xb8\xdew\x08\xc8zl\xfe\xf1\x99:C\x05\x1d\xba,12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2d5,8:(0)ttl=3,50:(0)auth=1 3640df41cfff648dff6e033691a33141c62c8a2c,%%%\n42:1 fefc86c49a6f6c2d68cbc9fc3837033b7ea167bf,",
        ),
        (
            "14.5",
            &sha1(),
            r"###\n14:(0)t=NS_rexmit,13:(0)dest=node2,14:(0)firstseq=42,13:(0)lastseq=42,28:(1)destuuid=\x90\xb8\xdew\x08\xc8zl\xfe\xf1\x99:C\x05\x1d\xba,12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2d5,8:(0)ttl=3,50:(0)auth=1 dc02ea2363481d82ecfbdeb3f638c0b57fe6de37,%%%\n42:1 61fcd4ef936e325bca91009b531edbe819eab263,",
        ),
        (
            "14.6",
            &md5_3,
            r"###\n13:(0)dest=node2,13:(0)t=repnodes,24:(0)nodelist=node1 node2 ,16:(0)delnodelist= ,28:(1)destuuid=\x90\xb8\xdew\x08\xc8zl\xfe\xf1\x99:C\x05\x1d\xba,12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,9:(0)seq=2b,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2e0,30:(0)ld=0.00 0.01 0.05 1/98 1234,8:(0)ttl=3,42:(0)auth=3 8d8c0e4039ee6c9d9d5396652b9bcfb2,%%%\n34:3 0695c7c6e9e602d84911d5c70d78c442,",
        ),
        (
            "14.7",
            &sha1(),
            r"###\n13:(0)t=resource,17:(0)rsc_hold=local,13:(0)rtype=full,13:(0)isstable=1,27:(0)info=req_our_resources(),12:(0)src=node1,27:(1)srcuuid=/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D,9:(0)seq=31,14:(0)hg=65a1b2c4,14:(0)ts=65a1b2f0,30:(0)ld=0.00 0.01 0.05 1/98 1234,8:(0)ttl=3,50:(0)auth=1 1c57339774423e4da8c0050f58c425b40d37733c,%%%\n42:1 fe8ce62a576c20d875cca99d696b360dd1397f9a,",
        ),
        (
            "14.8",
            &crc1,
            r"###\n9:(0)t=test,11:(0)info=a\nb,12:(0)src=node1,8:(0)seq=5,7:(0)hg=1,7:(0)ts=2,8:(0)ttl=3,18:(0)auth=1 5ce0fcc1,%%%\n10:1 bfd59dc2,",
        ),
        (
            "14.9",
            &sha1(),
            r"###\n10:(0)t=NS_st,10:(0)st=ping,12:(0)info=ping,17:(0)src=10.0.0.254,14:(0)ts=65a1b2d0,50:(0)auth=1 bb4f0e96ea448f5fba90d2b31fce5afc2a5bc4f4,%%%\n42:1 ef2f2db300e0d5c5e6df503a88c0ac2d36fa1313,",
        ),
    ];
    for (name, k, text) in samples {
        let bytes = unescape(text);
        let m = decode_udp(&bytes, k).unwrap_or_else(|e| panic!("§{name}: {e}"));
        assert_eq!(encode_udp(&m, k).unwrap(), bytes, "§{name}");
    }
}

#[test]
fn value_with_lf_classic_form_14_8() {
    let classic = unescape(
        r">>>\nt=test\ninfo=a\x13b\nsrc=node1\nseq=5\nhg=1\nts=2\nttl=3\nauth=1 5ce0fcc1\n<<<\n",
    );
    let crc1 = keys(1, AuthKey::Crc);
    let m = decode_serial(&classic, &crc1).unwrap();
    assert_eq!(m.get_bytes("info"), Some(&b"a\nb"[..]));
    assert_eq!(encode_serial(&m, &crc1).unwrap(), classic);
}

#[test]
fn fifo_text_of_hb_standby() {
    let text = unescape(r">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n");
    let m = decode_unsigned(&text).unwrap();
    assert_eq!(m.get_str("info"), Some("me"));
    assert_eq!(encode_classic_unsigned(&m).unwrap(), text);
}
