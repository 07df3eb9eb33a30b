//! Native IP takeover (sys::netaddr + sys::arp, and the send_arp command) in a private
//! network namespace: a veth pair d0 (ours, 10.9.0.1/24) / d1 (a "client", 10.9.0.2/24,
//! arp_accept=1 so a gratuitous ARP creates its neighbour entry). Root only; nothing
//! outside the namespace is touched.
#![allow(clippy::disallowed_methods)] // tests drive `ip`/`sysctl`

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use heartbeat_rs::sys::arp::iface_mac;
use heartbeat_rs::sys::netaddr::{IpSpec, add_ipv4, del_ipv4, has_ipv4};
use heartbeat_rs::sys::send_arp::{Announcer, announce};

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().expect("sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a thread of its own in a fresh network namespace (namespaces are per
/// thread, so the rest of the test process is unaffected).
fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP: needs root (a private network namespace)");
        return None;
    }
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        sh(
            "ip link set lo up; ip link add d0 type veth peer name d1; ip link set d0 up; \
            ip link set d1 up; ip addr add 10.9.0.1/24 dev d0; ip addr add 10.9.0.2/24 dev d1; \
            sysctl -qw net.ipv4.conf.d1.arp_accept=1",
        );
        f()
    })
    .join()
    .ok()
}

/// Bounded wait for the kernel to process frames already sent over the veth.
fn neigh_of(ip: &str) -> String {
    for _ in 0..200 {
        let n = sh(&format!("ip neigh show dev d1 to {ip}"));
        if n.contains("lladdr") {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    String::new()
}

#[test]
fn add_announce_and_remove_natively() {
    let Some(()) = in_netns(|| {
        let spec = IpSpec::parse("10.9.0.100").expect("spec");
        let added = add_ipv4(&spec).expect("add");
        assert_eq!(
            (added.iface.as_str(), added.prefix, added.changed),
            ("d0", 24, true)
        );
        let again = add_ipv4(&spec).expect("add again");
        assert!(!again.changed, "idempotent");
        assert_eq!(has_ipv4(spec.ip).expect("has"), Some(("d0".into(), 24)));
        let shown = sh("ip -o -4 addr show dev d0");
        assert!(
            shown.contains("inet 10.9.0.100/24 brd 10.9.0.255 "),
            "{shown}"
        );

        let mac = iface_mac("d0").expect("mac");
        announce("d0", Announcer::new(spec.ip, 2, Duration::from_millis(20))).expect("announce");
        let n = neigh_of("10.9.0.100");
        let want = mac.map(|b| format!("{b:02x}")).join(":");
        assert!(
            n.contains(&format!("lladdr {want}")),
            "neighbour entry: {n:?}"
        );

        assert!(del_ipv4(spec.ip).expect("del"));
        assert!(!del_ipv4(spec.ip).expect("del again"), "stop when stopped");
        assert_eq!(has_ipv4(spec.ip).expect("has"), None);

        // explicit prefix, label and broadcast
        let s = IpSpec::parse("10.9.0.101/25/d0:web/10.9.0.127").expect("spec");
        add_ipv4(&s).expect("add labelled");
        let shown = sh("ip -o -4 addr show dev d0");
        assert!(
            shown.contains("inet 10.9.0.101/25 brd 10.9.0.127 scope global d0:web"),
            "{shown}"
        );
        assert!(del_ipv4(s.ip).expect("del"));

        // no connected network covers it
        let far = IpSpec::parse("10.8.0.1").expect("spec");
        assert!(add_ipv4(&far).is_err());
        assert_eq!(has_ipv4(Ipv4Addr::new(10, 8, 0, 1)).expect("has"), None);
    }) else {
        return;
    };
}

#[test]
fn send_arp_command_updates_a_neighbour() {
    let Some(()) = in_netns(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_send_arp"))
            .args(["-i", "20", "-r", "2", "d0", "10.9.0.1", "auto", "x", "y"])
            .output()
            .expect("send_arp");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n = neigh_of("10.9.0.1");
        let mac = iface_mac("d0").expect("mac");
        let want = mac.map(|b| format!("{b:02x}")).join(":");
        assert!(n.contains(&want), "{n:?}");
        let bad = Command::new(env!("CARGO_BIN_EXE_send_arp"))
            .args(["nosuch0", "10.9.0.1", "auto", "x", "y"])
            .output()
            .expect("send_arp");
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("nosuch0"));
    }) else {
        return;
    };
}

#[test]
fn native_ipaddr_resource_matches_the_script() {
    use heartbeat_rs::sys::native_ip::run;
    use heartbeat_rs::sys::script::{Exit, Op};
    let Some(()) = in_netns(|| {
        let st = run("IPaddr2", "10.9.0.100", Op::Status, None);
        assert_eq!(st.outcome.output, b"INFO:  Resource is stopped\n");
        let s = run("IPaddr2", "10.9.0.100", Op::Start, None);
        assert_eq!(s.outcome.exit, Exit::Code(0));
        assert_eq!(s.outcome.output, b"INFO:  Success\n");
        let (iface, mut ann) = s.announce.expect("announce after a real add");
        assert_eq!(iface, "d0");
        let sender = heartbeat_rs::sys::arp::ArpSender::open(&iface).expect("sender");
        let mut frames = 1;
        while let Some(gap) = ann.fire(&sender).expect("send") {
            assert_eq!(gap, Duration::from_millis(100));
            frames += 1;
        }
        assert_eq!(frames, 10, "5 request/reply pairs");
        assert!(neigh_of("10.9.0.100").contains("lladdr"));
        let again = run("IPaddr2", "10.9.0.100", Op::Start, None);
        assert!(
            again.outcome.ok() && again.announce.is_none(),
            "idempotent start"
        );
        assert!(run("IPaddr2", "10.9.0.100", Op::Status, None).outcome.ok());
        assert!(run("IPaddr2", "10.9.0.100", Op::Stop, None).outcome.ok());
        assert!(run("IPaddr2", "10.9.0.100", Op::Stop, None).outcome.ok());
        assert!(!run("IPaddr2", "10.9.0.100", Op::Status, None).outcome.ok());
        let far = run("IPaddr2", "10.8.0.1", Op::Start, None);
        assert_eq!(far.outcome.exit, Exit::Code(6));
    }) else {
        return;
    };
}

#[test]
fn unsolicited_neighbour_advertisement_reaches_the_peer() {
    let Some(()) = in_netns(|| {
        sh(
            "sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.d0.disable_ipv6=0 \
            net.ipv6.conf.d1.disable_ipv6=0 net.ipv6.conf.d1.accept_untracked_na=1; \
            ip -6 addr add 2001:db8::1/64 dev d1 nodad; \
            ip -6 addr add 2001:db8::100/64 dev d0 nodad",
        );
        let addr: std::net::Ipv6Addr = "2001:db8::100".parse().expect("addr");
        let na = heartbeat_rs::sys::ndp::NaSender::open("d0", addr).expect("open");
        na.send().expect("send");
        let mac = iface_mac("d0").expect("mac");
        let want = mac.map(|b| format!("{b:02x}")).join(":");
        let mut seen = String::new();
        for _ in 0..200 {
            seen = sh("ip -6 neigh show dev d1 to 2001:db8::100");
            if seen.contains("lladdr") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(seen.contains(&format!("lladdr {want}")), "{seen:?}");

        // The same through the send_arp binary called as send_ua (IPv6addr's command).
        sh("ip -6 neigh flush dev d1");
        let dir = tempfile::tempdir().expect("tempdir");
        let ua = dir.path().join("send_ua");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_send_arp"), &ua).expect("link");
        let out = Command::new(&ua)
            .args(["-i", "10", "-c", "2", "2001:db8::100", "64", "d0"])
            .output()
            .expect("send_ua");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut seen = String::new();
        for _ in 0..200 {
            seen = sh("ip -6 neigh show dev d1 to 2001:db8::100");
            if seen.contains("lladdr") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(seen.contains(&format!("lladdr {want}")), "{seen:?}");
    }) else {
        return;
    };
}

/// heartbeat's own resource.d wrappers (Debian heartbeat + resource-agents), unmodified,
/// run through sys::script.
#[test]
fn heartbeats_own_ipaddr2_wrapper_runs_unmodified() {
    use heartbeat_rs::sys::script::{Context, Op, Request, ScriptDirs, run_blocking};
    if !std::path::Path::new("/etc/ha.d/resource.d/IPaddr2").exists()
        || !std::path::Path::new("/usr/lib/ocf/resource.d/heartbeat/IPaddr2").exists()
    {
        eprintln!("SKIP: heartbeat/resource-agents not installed");
        return;
    }
    let Some(()) = in_netns(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ctx = Context {
            dirs: ScriptDirs::default(),
            env: [
                ("HA_CURHOST", "node1"),
                ("HA_DIR", "/etc/ha.d"),
                ("HA_FUNCS", "/etc/ha.d/shellfuncs"),
                ("HA_DATEFMT", "%Y/%m/%d_%T\t"),
                ("HA_LOGFILE", ""),
                ("HA_DEBUGLOG", ""),
                ("HA_LOGD", "no"),
                ("OCF_ROOT", "/usr/lib/ocf"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            debuglog: Some(tmp.path().join("ha-debug")),
            capture_dir: tmp.path().to_path_buf(),
        };
        let req = |op| Request {
            script: "IPaddr2".into(),
            args: vec!["10.9.0.100/24/d0".into()],
            op,
            timeout: Some(Duration::from_secs(60)),
        };
        let st = run_blocking(&ctx, &req(Op::Status)).expect("status");
        assert_eq!(
            String::from_utf8_lossy(&st.output),
            "INFO:  Resource is stopped\n"
        );
        assert!(!st.ok());
        assert!(run_blocking(&ctx, &req(Op::Start)).expect("start").ok());
        assert!(run_blocking(&ctx, &req(Op::Status)).expect("status").ok());
        assert!(sh("ip -o -4 addr show dev d0").contains(" 10.9.0.100/24 "));
        assert!(run_blocking(&ctx, &req(Op::Stop)).expect("stop").ok());
        assert!(!sh("ip -o -4 addr show dev d0").contains(" 10.9.0.100/"));
        let dbg = std::fs::read_to_string(tmp.path().join("ha-debug")).unwrap_or_default();
        assert!(dbg.contains("INFO:  Success"), "{dbg}");
    }) else {
        return;
    };
}
