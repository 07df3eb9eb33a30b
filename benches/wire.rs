//! Codec throughput: decode+verify and sign+encode of a typical `t=status` datagram with
//! each auth method. Criterion's `thrpt` line is messages per second (one element = one
//! message). Target: ≥ 500 000 sha1 decode+verify per second on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_rs::config::{AuthKey, AuthKeys, KeyIndex, Secret};
use heartbeat_rs::wire::{Message, auth, decode_udp, encode_udp, parse};

/// The status message of the wire spec §14.1 (311 bytes on the wire with sha1).
fn status() -> Message {
    let mut m = Message::new();
    m.set_str("t", "status")
        .set_str("st", "active")
        .set_hex("dt", 30000)
        .set_dec("protocol", 1)
        .set_str("src", "node1")
        .set_binary(
            "srcuuid",
            &[
                0x2f, 0x1b, 0x4c, 0x7e, 0x91, 0x02, 0x4d, 0x3a, 0x8b, 0x55, 0x6c, 0x0d, 0xe1, 0xf2,
                0x33, 0x44,
            ],
        )
        .set_hex("seq", 0x1a)
        .set_hex("hg", 0x65a1b2c4)
        .set_hex("ts", 0x65a1b2d0)
        .set_str("ld", "0.08 0.03 0.01 1/123 4567")
        .set_dec("ttl", 3);
    m
}

fn methods() -> Vec<(&'static str, AuthKeys)> {
    let i = KeyIndex::new(1).expect("1 is a valid index");
    vec![
        ("crc", AuthKeys::single(i, AuthKey::Crc)),
        (
            "md5",
            AuthKeys::single(i, AuthKey::Md5(Secret::new("mysecret"))),
        ),
        (
            "sha1",
            AuthKeys::single(i, AuthKey::Sha1(Secret::new("mysecret"))),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let msg = status();
    let mut g = c.benchmark_group("status messages");
    g.throughput(Throughput::Elements(1));
    for (name, keys) in methods() {
        let bytes = encode_udp(&msg, &keys).expect("encodes");
        assert!(decode_udp(&bytes, &keys).is_ok());
        g.bench_function(format!("decode+verify {name}"), |b| {
            b.iter(|| decode_udp(black_box(&bytes), black_box(&keys)))
        });
        g.bench_function(format!("sign+encode {name}"), |b| {
            b.iter(|| encode_udp(black_box(&msg), black_box(&keys)))
        });
    }
    g.finish();

    // Where the time goes: parsing alone, and the sha1 digest alone.
    let (_, sha1) = methods().remove(2);
    let bytes = encode_udp(&msg, &sha1).expect("encodes");
    let mut g = c.benchmark_group("parts");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse only", |b| {
        b.iter(|| parse(black_box(&bytes)).is_ok())
    });
    g.bench_function("hmac-sha1 of the datagram", |b| {
        b.iter(|| auth::digest(black_box(sha1.send_key()), black_box(&bytes)).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
