//! Cost of a resource operation: status interpretation (pure), and — as root, in a private
//! network namespace on a veth pair — an IPaddr2 start+stop natively (rtnetlink + first
//! gratuitous ARP frame) versus through our resource.d script (fork, sh, ip).
//!
//!     cargo bench --bench resource_ops
#![allow(clippy::disallowed_methods)] // a benchmark spawns and reads clocks

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use heartbeat_rs::sys::script::{
    Context, Op, Request, ScriptDirs, run_blocking, status_says_running,
};

fn status(c: &mut Criterion) {
    let lsb = b"httpd (pid 4711) is running...\n".to_vec();
    let long = [b"x".repeat(4000), b"\nhttpd is not running\n".to_vec()].concat();
    c.bench_function("status_says_running/lsb_line", |b| {
        b.iter(|| status_says_running(black_box(&lsb)))
    });
    c.bench_function("status_says_running/4k_not_running", |b| {
        b.iter(|| status_says_running(black_box(&long)))
    });
}

fn netns_ready() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP ip benches: need root");
        return false;
    }
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
        eprintln!("SKIP ip benches: unshare failed");
        return false;
    }
    Command::new("sh")
        .args([
            "-c",
            "ip link set lo up && ip link add d0 type veth peer name d1 && ip link set d0 up \
             && ip link set d1 up && ip addr add 10.9.0.1/24 dev d0",
        ])
        .status()
        .is_ok_and(|s| s.success())
}

fn takeover(c: &mut Criterion) {
    if !netns_ready() {
        return;
    }
    let mut g = c.benchmark_group("ipaddr2_start_stop");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let sender = heartbeat_rs::sys::arp::ArpSender::open("d0").expect("arp sender");
    g.bench_function("native", |b| {
        b.iter(|| {
            let s = heartbeat_rs::sys::native_ip::run("IPaddr2", "10.9.0.100", Op::Start, None);
            assert!(s.outcome.ok());
            if let Some((_, mut a)) = s.announce {
                a.fire(&sender).expect("first ARP");
            }
            assert!(
                heartbeat_rs::sys::native_ip::run("IPaddr2", "10.9.0.100", Op::Stop, None)
                    .outcome
                    .ok()
            );
        })
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let ctx = Context {
        dirs: ScriptDirs {
            resource_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("resource.d"),
            init_dir: tmp.path().join("none"),
        },
        env: vec![
            ("HA_RSCTMP".into(), tmp.path().display().to_string()),
            // no ARP process in the loop: measure the script itself
            ("HA_SEND_ARP".into(), "/bin/true".into()),
        ],
        debuglog: None,
        capture_dir: tmp.path().to_path_buf(),
    };
    let req = |op| Request {
        script: "IPaddr2".into(),
        args: vec!["10.9.0.100".into()],
        op,
        timeout: None,
    };
    g.bench_function("script", |b| {
        b.iter(|| {
            assert!(run_blocking(&ctx, &req(Op::Start)).expect("start").ok());
            assert!(run_blocking(&ctx, &req(Op::Stop)).expect("stop").ok());
        })
    });
    g.finish();
}

criterion_group!(benches, status, takeover);
criterion_main!(benches);
