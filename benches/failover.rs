//! Simulated failovers per second: a two-node cluster in the deterministic simulator
//! starts, loses node1 (takeover by node2) and gets it back (auto-failback), all in
//! virtual time. Prints the figure besides criterion's per-iteration time.

use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code)]
#[path = "../tests/sim/world.rs"]
mod world;

use heartbeat_rs::config::AutoFailback;
use heartbeat_rs::time::Instant;
use world::{Shape, World};

fn s(x: u64) -> Instant {
    Instant::from_micros(x * 1_000_000)
}

/// One crash → takeover → restart → failback story; returns the takeovers seen.
fn story(seed: u64) -> u64 {
    let mut w = World::new(seed, Shape::pair(AutoFailback::On));
    w.keep_trace = false;
    w.start_at(s(0), 0);
    w.start_at(s(1), 1);
    w.crash_at(s(40), 0);
    w.start_at(s(60), 0);
    w.run_until(s(90));
    assert!(w.violations.is_empty());
    w.takeovers
}

#[allow(clippy::disallowed_methods)] // wall-clock timing is the point of a bench
fn report() {
    let t = std::time::Instant::now();
    let mut failovers = 0;
    let mut seed = 0;
    while t.elapsed().as_secs_f64() < 2.0 {
        failovers += story(seed);
        seed += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "simulated failovers per second: {:.0} ({failovers} takeovers in {seed} stories, {secs:.2} s)",
        failovers as f64 / secs
    );
}

fn bench(c: &mut Criterion) {
    report();
    c.bench_function("crash_takeover_failback_story", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            story(seed)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
