//! How fast the configuration parsers are on big and hostile files (the issue's "100 000
//! lines fast"). `cargo bench --bench config_parse` prints the figures.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_rs::config::resolve::{CheckOptions, StaticHost, from_texts};
use heartbeat_rs::config::{authkeys, ha_cf, haresources};

fn ha_cf_100k() -> String {
    let mut t = String::from("node node1 node2\nbcast eth0\nauto_failback on\nlogfile /x\n");
    for i in 0..100_000 {
        t.push_str(&format!("keepalive {}ms # line {i}\n", 1 + i % 900));
    }
    t
}

fn bench(c: &mut Criterion) {
    let p = Path::new("f");
    let cf = ha_cf_100k();
    let hr = (0..100_000)
        .map(|i| {
            format!(
                "node1 10.{}.{}.{}/24/eth0 svc{i}\n",
                i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect::<String>();
    let ak = format!("auth 1\n{}", "1 sha1 some-key-material\n".repeat(100_000));
    // Valid tokens (no error cap cuts this short): 1.2 million `env` values, lines just under the 5119-byte limit.
    let long = format!("env {}\n", "A=1,".repeat(1200)).repeat(1000);

    let mut g = c.benchmark_group("config");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(cf.len() as u64));
    g.bench_function("ha_cf 100k lines", |b| {
        b.iter(|| ha_cf::parse(black_box(&cf), p))
    });
    g.throughput(Throughput::Bytes(hr.len() as u64));
    g.bench_function("haresources 100k groups", |b| {
        b.iter(|| haresources::parse(black_box(&hr), p))
    });
    g.throughput(Throughput::Bytes(ak.len() as u64));
    g.bench_function("authkeys 100k keys", |b| {
        b.iter(|| authkeys::parse(black_box(&ak), p))
    });
    g.throughput(Throughput::Bytes(long.len() as u64));
    g.bench_function("ha_cf 1000 lines x 1200 env tokens", |b| {
        b.iter(|| ha_cf::parse(black_box(&long), p))
    });
    g.throughput(Throughput::Bytes((cf.len() + hr.len() + ak.len()) as u64));
    let facts = StaticHost::named("node1");
    g.bench_function("whole check, 100k lines each", |b| {
        b.iter(|| {
            from_texts(
                Path::new("/d"),
                &cf,
                &hr,
                &ak,
                &facts,
                &CheckOptions::default(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
