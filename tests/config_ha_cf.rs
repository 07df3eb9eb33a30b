//! ha.cf: one valid and one invalid case per directive of the table, the lexical rules of
//! §1.1 and the post-parse checks of §1.5, with the error texts pinned.

use std::path::Path;

use heartbeat_rs::config::directives::DIRECTIVES;
use heartbeat_rs::config::resolve::{CheckOptions, Loaded, StaticHost, from_texts};
use heartbeat_rs::config::{AutoFailback, Baud, Config, Diagnostic, Medium};
use heartbeat_rs::time::Duration;

const BASE: &str =
    "node node1 node2\nbcast eth0\nauto_failback on\nlogfile /var/log/ha-log\nuse_logd no\n";
const HARES: &str = "node1 10.0.0.1\n";
const KEYS: &str = "auth 1\n1 crc\n";

fn run_with(ha_cf: &str, hares: &str, facts: &StaticHost) -> Result<Loaded, Vec<Diagnostic>> {
    from_texts(
        Path::new("/etc/ha.d"),
        ha_cf,
        hares,
        KEYS,
        facts,
        &CheckOptions::default(),
    )
}

fn run(ha_cf: &str) -> Result<Loaded, Vec<Diagnostic>> {
    run_with(ha_cf, HARES, &StaticHost::named("node1"))
}

/// BASE + `extra` must be accepted.
fn ok(extra: &str) -> Loaded {
    match run(&format!("{BASE}{extra}")) {
        Ok(l) => l,
        Err(d) => panic!("{extra:?} refused:\n{}", render(&d)),
    }
}

fn cfg(extra: &str) -> Config {
    ok(extra).config
}

fn render(d: &[Diagnostic]) -> String {
    d.iter().map(|d| format!("{d}\n")).collect()
}

/// BASE + `extra` must be refused; the first error, rendered.
fn err(extra: &str) -> String {
    let d = run(&format!("{BASE}{extra}")).expect_err(extra);
    d.iter()
        .find(|d| d.is_error())
        .expect("an error")
        .to_string()
}

/// The warnings of BASE + `extra` (which must be accepted), rendered.
fn warnings(extra: &str) -> String {
    render(&ok(extra).warnings)
}

/// (directive, valid line, invalid line, expected text of the first error)
const CASES: &[(&str, &str, &str, &str)] = &[
    ("cluster", "cluster prod", "cluster", ""),
    (
        "hopfudge",
        "hopfudge 3",
        "hopfudge 256",
        "/etc/ha.d/ha.cf:6:10: error: expected an integer from 0 to 255 for `hopfudge`, found `256`",
    ),
    (
        "keepalive",
        "keepalive 2",
        "keepalive 0",
        "/etc/ha.d/ha.cf:6:11: error: expected a time greater than 0 for `keepalive`, found `0`",
    ),
    (
        "deadtime",
        "deadtime 40",
        "deadtime 40x",
        "/etc/ha.d/ha.cf:6:10: error: expected a time (e.g. 2, 1.5, 500ms, 100us) for `deadtime`, found `40x`",
    ),
    (
        "deadping",
        "deadping 40",
        "deadping 1",
        "/etc/ha.d/ha.cf:6:10: error: expected deadping greater than 2 x keepalive (2000 ms), found 1000 ms",
    ),
    (
        "warntime",
        "warntime 10",
        "warntime 0ms",
        "/etc/ha.d/ha.cf:6:10: error: expected a time greater than 0 for `warntime`, found `0ms`",
    ),
    (
        "initdead",
        "initdead 60",
        "initdead 20",
        "/etc/ha.d/ha.cf:6:10: error: expected initdead of at least deadtime (30000 ms), found 20000 ms",
    ),
    (
        "watchdog",
        "watchdog /dev/watchdog",
        "watchdog /dev/a\nwatchdog /dev/b",
        "/etc/ha.d/ha.cf:7:10: error: expected one `watchdog` line, found a second one (first on line 6)",
    ),
    (
        "baud",
        "baud 115200",
        "baud 1200",
        "/etc/ha.d/ha.cf:6:6: error: expected one of `9600`, `19200`, `38400`, `57600`, `115200`, `230400`, `460800` for `baud`, found `1200`",
    ),
    (
        "udpport",
        "udpport 695",
        "udpport 0",
        "/etc/ha.d/ha.cf:6:9: error: expected an integer from 1 to 65535 for `udpport`, found `0`",
    ),
    (
        "auto_failback",
        "auto_failback off",
        "auto_failback maybe",
        "/etc/ha.d/ha.cf:6:15: error: expected one of `legacy`, `true`, `on`, `yes`, `y`, `1`, `false`, `off`, `no`, `n`, `0` (any case) for `auto_failback`, found `maybe`",
    ),
    (
        "hbgenmethod",
        "hbgenmethod time",
        "hbgenmethod Time",
        "/etc/ha.d/ha.cf:6:13: error: expected one of `file`, `time` for `hbgenmethod`, found `Time`",
    ),
    (
        "realtime",
        "realtime off",
        "realtime maybe",
        "/etc/ha.d/ha.cf:6:10: error: expected a boolean (on/off, yes/no, true/false, y/n, 1/0) for `realtime`, found `maybe`",
    ),
    (
        "msgfmt",
        "msgfmt netstring",
        "msgfmt xml",
        "/etc/ha.d/ha.cf:6:8: error: expected one of `classic`, `netstring` for `msgfmt`, found `xml`",
    ),
    (
        "conn_logd_time",
        "conn_logd_time 30",
        "conn_logd_time 0",
        "/etc/ha.d/ha.cf:6:16: error: expected a time greater than 0 for `conn_logd_time`, found `0`",
    ),
    (
        "log_badpack",
        "log_badpack false",
        "log_badpack 2",
        "found `2`",
    ),
    (
        "syslogmsgfmt",
        "syslogmsgfmt false",
        "syslogmsgfmt x",
        "found `x`",
    ),
    ("coredumps", "coredumps no", "coredumps x", "found `x`"),
    (
        "pacemaker",
        "pacemaker off",
        "pacemaker respawn",
        "/etc/ha.d/ha.cf:6:11: error: expected `pacemaker off` (heartbeat-rs implements v1 resource management only), found `respawn`",
    ),
    ("crm", "crm no", "crm yes", "expected `pacemaker off`"),
    (
        "autojoin",
        "autojoin none",
        "autojoin any",
        "/etc/ha.d/ha.cf:6:10: error: expected `autojoin none` (v1 resource management), found `any`",
    ),
    (
        "uuidfrom",
        "uuidfrom nodename",
        "uuidfrom host",
        "found `host`",
    ),
    (
        "compression",
        "compression bz2",
        "compression lzma",
        "found `lzma`",
    ),
    (
        "compression_threshold",
        "compression_threshold 4",
        "compression_threshold 0",
        "expected an integer from 1 to",
    ),
    (
        "traditional_compression",
        "traditional_compression yes",
        "traditional_compression maybe",
        "found `maybe`",
    ),
    (
        "max_rexmit_delay",
        "max_rexmit_delay 500",
        "max_rexmit_delay -1",
        "found `-1`",
    ),
    (
        "record_config_changes",
        "record_config_changes off",
        "record_config_changes x",
        "found `x`",
    ),
    (
        "record_pengine_inputs",
        "record_pengine_inputs off",
        "record_pengine_inputs x",
        "found `x`",
    ),
    (
        "enable_config_writes",
        "enable_config_writes off",
        "enable_config_writes x",
        "found `x`",
    ),
    (
        "memreserve",
        "memreserve 10000",
        "memreserve 0",
        "expected an integer from 1 to",
    ),
    ("node", "node node3", "node", ""),
    (
        "quorum_server",
        "quorum_server qs.example",
        "quorum_server",
        "",
    ),
    (
        "bcast",
        "bcast eth1",
        "bcast nosuch0",
        "/etc/ha.d/ha.cf:6:7: error: expected an existing network interface, found `nosuch0`",
    ),
    (
        "udp",
        "udp eth1",
        "udp nosuch0",
        "expected an existing network interface, found `nosuch0`",
    ),
    (
        "ucast",
        "ucast eth0 10.0.0.2",
        "ucast eth0",
        "/etc/ha.d/ha.cf:6:11: error: expected a peer address or host name after `eth0`, found end of line",
    ),
    (
        "mcast",
        "mcast eth0 225.0.0.1 694 1 0",
        "mcast eth0 225.0.0.1 694 5 0",
        "/etc/ha.d/ha.cf:6:26: error: expected a TTL from 0 to 4, found `5`",
    ),
    (
        "ucast6",
        "ucast6 eth0 fe80::2",
        "ucast6 eth0 10.0.0.2",
        "/etc/ha.d/ha.cf:6:13: error: expected an IPv6 address, found `10.0.0.2`",
    ),
    (
        "mcast6",
        "mcast6 eth0 ff02::1 694 1 0",
        "mcast6 eth0 ff02::1 694 1 2",
        "/etc/ha.d/ha.cf:6:27: error: expected a loop flag 0 or 1, found `2`",
    ),
    (
        "serial",
        "serial /dev/ttyS0",
        "serial /dev/ttyS9",
        "/etc/ha.d/ha.cf:6:8: error: expected an existing serial device, found `/dev/ttyS9`",
    ),
    (
        "ping",
        "ping 10.0.0.254",
        "ping unknown.invalid",
        "/etc/ha.d/ha.cf:6:6: error: expected a host name that resolves, found `unknown.invalid`",
    ),
    (
        "ping6",
        "ping6 fe80::1",
        "ping6 unknown.invalid",
        "expected a host name that resolves",
    ),
    (
        "ping_group",
        "ping_group routers 10.0.0.253 10.0.0.254",
        "ping_group routers",
        "/etc/ha.d/ha.cf:6:19: error: expected at least one host after `routers`, found end of line",
    ),
    (
        "nice_failback",
        "nice_failback on",
        "nice_failback maybe",
        "found `maybe`",
    ),
    (
        "stonith",
        "stonith external/ssh /etc/ha.d/stonith.cfg",
        "stonith meatware",
        "expected a STONITH configuration file after `meatware`",
    ),
    (
        "stonith_host",
        "stonith_host * meatware node1 node2",
        "stonith_host *",
        "expected a STONITH device type after `*`",
    ),
    (
        "fence_agent",
        "fence_agent node2 fence_virsh ipaddr=10.0.0.9 passwd=x",
        "fence_agent node2 virsh",
        "/etc/ha.d/ha.cf:6:19: error: expected a fence agent (an absolute path or fence_NAME), found `virsh`",
    ),
    (
        "fence_delay",
        "fence_delay 15",
        "fence_delay soon",
        "found `soon`",
    ),
    (
        "respawn",
        "respawn hacluster /usr/lib/heartbeat/ipfail",
        "respawn hacluster ipfail",
        "/etc/ha.d/ha.cf:6:19: error: expected a full path (starting with /) for the client command, found `ipfail`",
    ),
    (
        "failfast",
        "failfast hacluster /usr/lib/heartbeat/ipfail",
        "failfast hacluster",
        "expected a command (full path) after `hacluster`",
    ),
    (
        "apiauth",
        "apiauth ipfail uid=hacluster gid=haclient,root",
        "apiauth ipfail",
        "/etc/ha.d/ha.cf:6:15: error: expected uid=LIST and/or gid=LIST after `ipfail`, found end of line",
    ),
    (
        "env",
        "env FOO=bar",
        "env FOO",
        "/etc/ha.d/ha.cf:6:5: error: expected NAME=VALUE for `env`, found `FOO`",
    ),
    (
        "crm_daemon_dir",
        "crm_daemon_dir /usr/lib/pacemaker",
        "pacemaker off\ncrm_daemon_dir /x",
        "/etc/ha.d/ha.cf:7:16: error: expected `crm_daemon_dir` before the pacemaker directive, found it after",
    ),
    (
        "crmd_spawns_pengine",
        "crmd_spawns_pengine yes",
        "crmd_spawns_pengine x",
        "found `x`",
    ),
    (
        "logfacility",
        "logfacility local0",
        "logfacility local8",
        "found `local8`",
    ),
    ("logfile", "logfile /tmp/x", "logfile", ""),
    ("debugfile", "debugfile /tmp/x", "debugfile", ""),
    ("use_logd", "use_logd yes", "use_logd x", "found `x`"),
    (
        "debug",
        "debug 1",
        "debug 256",
        "expected an integer from 0 to 255 for `debug`, found `256`",
    ),
    (
        "rtprio",
        "rtprio 50",
        "rtprio 100",
        "expected an integer from 1 to 99 for `rtprio`, found `100`",
    ),
    (
        "coreroot",
        "coreroot /var/lib/heartbeat/cores",
        "coreroot /nonexistent",
        "expected an existing directory, found `/nonexistent`",
    ),
    ("use_apphbd", "use_apphbd no", "use_apphbd x", "found `x`"),
];

fn facts() -> StaticHost {
    StaticHost {
        node: "node1".into(),
        interfaces: Some(vec!["eth0".into(), "eth1".into()]),
        paths: Some(vec![
            "/dev/ttyS0".into(),
            "/etc/ha.d/stonith.cfg".into(),
            "/usr/lib/heartbeat/ipfail".into(),
            "/usr/sbin/fence_virsh".into(),
            "/var/lib/heartbeat/cores".into(),
        ]),
        hosts: Some(vec!["qs.example".into()]),
        services: vec![],
    }
}

#[test]
fn every_directive_has_a_case_and_every_case_behaves() {
    for d in DIRECTIVES {
        assert!(
            CASES.iter().any(|c| c.0 == d.name),
            "no test case for directive `{}`",
            d.name
        );
    }
    for (name, good, bad, expected) in CASES {
        let r = run_with(&format!("{BASE}{good}\n"), HARES, &facts());
        if let Err(d) = r {
            panic!("{name}: `{good}` refused:\n{}", render(&d));
        }
        let r = run_with(&format!("{BASE}{bad}\n"), HARES, &facts());
        if expected.is_empty() {
            // A directive with no value is silently ignored (§1.1 rule 10): accepted, warned.
            let l = r.unwrap_or_else(|d| panic!("{name}: `{bad}` refused:\n{}", render(&d)));
            assert!(
                render(&l.warnings).contains("has no value and is ignored"),
                "{name}"
            );
            continue;
        }
        let d = r.expect_err(name);
        let first = d.iter().find(|d| d.is_error()).unwrap().to_string();
        assert!(
            first.contains(expected),
            "{name}: `{bad}`\n  got: {first}\n  want: {expected}"
        );
    }
}

#[test]
fn error_block_has_source_line_and_caret() {
    assert_eq!(
        err("keepalive 2x"),
        "/etc/ha.d/ha.cf:6:11: error: expected a time (e.g. 2, 1.5, 500ms, 100us) for `keepalive`, found `2x`\n6 | keepalive 2x\n  |           ^^"
    );
}

#[test]
fn names_are_case_sensitive_with_a_hint() {
    let e = err("Keepalive 2");
    assert!(
        e.starts_with("/etc/ha.d/ha.cf:6:1: error: expected a directive name, found `Keepalive`"),
        "{e}"
    );
    assert!(e.contains("heartbeat: Illegal directive [Keepalive] in ha.cf"));
    assert!(e.contains("did you mean `keepalive`?"));
    for gone in ["normalpoll 1", "hbaping eth0", "rds x", "tipc x"] {
        assert!(err(gone).contains("expected a directive name"), "{gone}");
    }
}

#[test]
fn comments_anywhere_crlf_and_leading_whitespace() {
    let c = cfg("  keepalive 2 # two seconds\r\n\tdeadtime 40#x\r\n# node node9\n");
    assert_eq!(c.timing.keepalive, Duration::from_secs(2));
    assert_eq!(c.timing.deadtime, Duration::from_secs(40));
    assert_eq!(c.nodes.len(), 2);
}

#[test]
fn values_split_on_commas_and_whitespace_last_wins() {
    let c =
        run("node a, b\tc,node1\nbcast eth0 eth1\nkeepalive 1 2\nauto_failback on\nlogfile /x\n")
            .unwrap()
            .config;
    let names: Vec<_> = c.nodes.iter().map(|n| n.as_str().to_string()).collect();
    assert_eq!(names, ["a", "b", "c", "node1"]);
    assert_eq!(c.media.len(), 2);
    assert_eq!(c.timing.keepalive, Duration::from_secs(2));
    assert_eq!(c.parameters["keepalive"], "2");
}

#[test]
fn trailing_backslash_is_not_a_continuation() {
    let e = err("keepalive 2 \\\n3");
    assert!(e.contains("found `\\`"), "{e}");
}

#[test]
fn time_units_and_rounding() {
    let c = cfg("keepalive 500ms\ndeadtime 1.5\ninitdead 12000000us\nwarntime 501us\n");
    assert_eq!(c.timing.warntime, Duration::from_millis(1));
    assert_eq!(c.timing.keepalive, Duration::from_millis(500));
    assert_eq!(c.timing.deadtime, Duration::from_millis(1500));
    assert_eq!(c.timing.initdead, Duration::from_secs(12));
    let e = err("keepalive 100 ms");
    assert!(e.contains("6:15: error: expected a time"), "{e}");
}

#[test]
fn node_names_are_lower_cased_and_duplicates_warned() {
    let l =
        run("node NODE1 Node2\nnode node2\nbcast eth0\nauto_failback on\nlogfile /x\n").unwrap();
    assert_eq!(l.config.nodes[0].as_str(), "node1");
    let w = render(&l.warnings);
    assert!(
        w.contains("ha.cf:2:6: warning: node `node2` is already declared on line 1"),
        "{w}"
    );
}

#[test]
fn too_many_nodes() {
    let mut text = String::from("bcast eth0\nauto_failback on\nlogfile /x\nnode node1\n");
    for i in 0..100 {
        text.push_str(&format!("node n{i}\n"));
    }
    let e = run(&text).unwrap_err();
    assert!(
        render(&e).contains(
            "ha.cf:104:6: error: expected at most 100 nodes and ping nodes, found one more"
        )
    );
}

#[test]
fn too_many_media() {
    let ifs: Vec<String> = (0..65).map(|i| format!("e{i}")).collect();
    let e = err(&format!("bcast {}", ifs.join(" ")));
    assert!(
        e.contains("expected at most 64 media, found one more"),
        "{e}"
    );
}

#[test]
fn udp_alias_warns_and_means_bcast() {
    let l = ok("udp eth1");
    assert!(matches!(&l.config.media[1], Medium::Bcast { iface, .. } if iface == "eth1"));
    assert!(
        render(&l.warnings)
            .contains("ha.cf:6:1: warning: directive `udp` is obsolete; it means `bcast`")
    );
}

#[test]
fn udpport_is_latched_by_the_first_medium() {
    let c = run("udpport 700\nbcast eth0\nudpport 800\nucast eth0 10.0.0.2\nnode node1\nauto_failback on\nlogfile /x\n").unwrap();
    assert!(matches!(c.config.media[0], Medium::Bcast { port: 700, .. }));
    assert!(matches!(c.config.media[1], Medium::Ucast { port: 800, .. }));
    assert_eq!(c.config.udpport, 800);
    assert!(render(&c.warnings).contains("ha.cf:3:9: warning: `udpport` after a bcast/ucast line"));
    // Without udpport: /etc/services' ha-cluster, else 694.
    let mut f = StaticHost::named("node1");
    assert_eq!(run_with(BASE, HARES, &f).unwrap().config.udpport, 694);
    f.services.push(("ha-cluster".into(), 1694));
    let c = run_with(BASE, HARES, &f).unwrap().config;
    assert_eq!(c.udpport, 1694);
    assert!(matches!(c.media[0], Medium::Bcast { port: 1694, .. }));
}

#[test]
fn baud_applies_to_later_serial_lines_and_only_once() {
    let c = run("baud 9600\nserial /dev/ttyS0\nnode node1\nauto_failback on\nlogfile /x\n")
        .unwrap()
        .config;
    assert!(matches!(
        c.media[0],
        Medium::Serial {
            baud: Baud::B9600,
            ..
        }
    ));
    // The fixture's order: serial first, baud after (accepted with a warning).
    let l =
        run("serial /dev/ttyS0\nbaud 9600\nnode node1\nauto_failback on\nlogfile /x\n").unwrap();
    assert!(matches!(
        l.config.media[0],
        Medium::Serial {
            baud: Baud::B19200,
            ..
        }
    ));
    assert!(render(&l.warnings).contains("ha.cf:2:6: warning: `baud` after a medium"));
    assert!(err("baud 9600\nbaud 9600").contains(
        "ha.cf:7:6: error: expected one `baud` line, found a second one (first on line 6)"
    ));
}

#[test]
fn mcast_fields() {
    let c = cfg("mcast eth0 225.0.0.1 694 1 0");
    assert!(matches!(
        c.media[1],
        Medium::Mcast {
            ttl: 1,
            loop_back: false,
            port: 694,
            ..
        }
    ));
    assert!(
        err("mcast eth0")
            .contains("6:11: error: expected a multicast group after `eth0`, found end of line")
    );
    assert!(
        err("mcast eth0 225.0.0.x 694 1 0")
            .contains("expected an IPv4 multicast group, found `225.0.0.x`")
    );
    assert!(
        err("mcast eth0 225.0.0.1 0 1 0").contains("expected a port from 1 to 65535, found `0`")
    );
    assert!(err("mcast eth0 225.0.0.1 694 1").contains("expected a loop flag (0 or 1) after `1`"));
    // All errors of one line are reported.
    let e = run(&format!("{BASE}mcast eth0 x 0 9 7\n")).unwrap_err();
    assert_eq!(e.iter().filter(|d| d.is_error()).count(), 4);
}

#[test]
fn ucast_peer_extra_fields_ignored() {
    let c = cfg("ucast eth1 10.0.0.2 ignored");
    assert!(
        matches!(&c.media[1], Medium::Ucast { iface, peer, .. } if iface == "eth1" && peer == "10.0.0.2")
    );
}

#[test]
fn auto_failback_and_nice_failback_quirks() {
    let c = run("node node1\nbcast eth0\nlogfile /x\n").unwrap();
    assert_eq!(c.config.auto_failback, AutoFailback::Legacy);
    assert!(
        render(&c.warnings)
            .contains("/etc/ha.d/ha.cf: warning: no auto_failback line: deprecated `legacy` mode")
    );
    let c = run("node node1\nbcast eth0\nlogfile /x\nauto_failback LEGACY\n").unwrap();
    assert!(
        render(&c.warnings).contains("ha.cf:4:15: warning: deprecated `auto_failback legacy` mode")
    );
    // nice_failback after auto_failback on → off; the recorded parameter still says on.
    let c = cfg("nice_failback on");
    assert_eq!(c.auto_failback, AutoFailback::Off);
    assert_eq!(c.parameters["auto_failback"], "on");
    // nice_failback alone → legacy.
    let c = run("node node1\nbcast eth0\nlogfile /x\nnice_failback on\n")
        .unwrap()
        .config;
    assert_eq!(c.auto_failback, AutoFailback::Legacy);
}

#[test]
fn deadtime_must_exceed_twice_keepalive_and_points_at_deadtime() {
    let e = err("keepalive 2\ndeadtime 4");
    assert!(e.starts_with("/etc/ha.d/ha.cf:7:10: error: expected deadtime greater than 2 x keepalive (4000 ms), found 4000 ms"), "{e}");
    assert!(e.contains("heartbeat: Dead time [4000] is too small compared to keeplive [2000]"));
}

#[test]
fn initdead_default_and_small_warning() {
    assert_eq!(cfg("").timing.initdead, Duration::from_secs(30));
    assert_eq!(cfg("deadtime 5").timing.initdead, Duration::from_secs(12));
    assert_eq!(cfg("deadtime 8").timing.initdead, Duration::from_secs(16));
    assert_eq!(cfg("deadtime 10").timing.warntime, Duration::from_secs(5));
    let w = warnings("deadtime 3\ninitdead 5");
    assert!(
        w.contains("ha.cf:7:10: warning: initdead of 5000 ms may be too small"),
        "{w}"
    );
}

#[test]
fn media_nodes_and_local_node_are_required() {
    let e = run("node node1\nlogfile /x\n").unwrap_err();
    assert!(render(&e).contains("/etc/ha.d/ha.cf: error: expected at least one medium (bcast, ucast, mcast, serial...), found none"));
    let e = run("bcast eth0\nlogfile /x\n").unwrap_err();
    assert!(
        render(&e)
            .contains("/etc/ha.d/ha.cf: error: expected at least one `node` line, found none")
    );
    let e = run_with(BASE, HARES, &StaticHost::named("Other")).unwrap_err();
    let r = render(&e);
    assert!(r.contains("/etc/ha.d/ha.cf:1:6: error: expected this node (`other`) among the declared nodes, found only node1, node2"), "{r}");
    // --node overrides the machine's name; names are case-insensitive.
    let opts = CheckOptions {
        node: Some("NODE2".into()),
        skip_host_checks: false,
    };
    let l = from_texts(
        Path::new("/etc/ha.d"),
        BASE,
        HARES,
        KEYS,
        &StaticHost::named("other"),
        &opts,
    )
    .unwrap();
    assert_eq!(l.config.local_node.as_str(), "node2");
}

#[test]
fn host_checks_can_be_skipped() {
    let none = StaticHost {
        node: "node1".into(),
        interfaces: Some(vec![]),
        paths: Some(vec![]),
        hosts: Some(vec![]),
        services: vec![],
    };
    let text = format!("{BASE}serial /dev/ttyS0\nping gw.example\n");
    let e = run_with(&text, HARES, &none).unwrap_err();
    assert_eq!(
        e.iter().filter(|d| d.is_error()).count(),
        3,
        "{}",
        render(&e)
    );
    let opts = CheckOptions {
        node: None,
        skip_host_checks: true,
    };
    assert!(from_texts(Path::new("/etc/ha.d"), &text, HARES, KEYS, &none, &opts).is_ok());
}

#[test]
fn logging_rules() {
    let e = run("node node1\nbcast eth0\nauto_failback on\nuse_logd off\n").unwrap_err();
    assert!(render(&e).contains("ha.cf:4:10: error: expected a logfile, debugfile or logfacility line when use_logd is off, found none"));
    let c = run("node node1\nbcast eth0\nauto_failback on\n")
        .unwrap()
        .config;
    assert!(c.logging.use_logd, "implicitly on without log lines");
    let c = cfg("logfacility kern");
    assert_eq!(c.logging.facility, None, "kern disables syslog (quirk)");
    let c = cfg("logfacility daemon\nlogfile /dev/null");
    assert!(c.logging.facility.is_some());
    assert_eq!(c.logging.logfile, None);
    assert!(
        warnings("use_logd yes")
            .contains("warning: logd is enabled but logfile is still configured")
    );
}

#[test]
fn recorded_parameters() {
    let c = cfg("keepalive 2\ndeadtime 10");
    let p = &c.parameters;
    assert_eq!(p["keepalive"], "2");
    assert_eq!(p["deadtime"], "10");
    assert_eq!(p["warntime"], "5000ms");
    assert_eq!(p["initdead"], "20000ms");
    assert_eq!(p["deadping"], "10000ms");
    assert_eq!(p["udpport"], "694");
    assert_eq!(p["hopfudge"], "1");
    assert_eq!(p["pacemaker"], "false");
    assert_eq!(p["hbversion"], "3.0.6");
    assert!(!p.contains_key("node"));
    // quorum_server also replaces the cluster name (quirk).
    assert_eq!(cfg("cluster a\nquorum_server qs").cluster_name, "qs");
}

#[test]
fn whole_line_directives_keep_their_fields() {
    let c = cfg(
        "stonith_host NODE2 external/ipmi node2 10.0.0.9 admin secret lanplus\nrespawn hacluster /usr/lib/heartbeat/ipfail -x\napiauth ipfail gid=haclient uid=hacluster,root\nenv A=b=c\n",
    );
    assert_eq!(c.stonith.len(), 1);
    assert_eq!(c.clients[0].args, ["-x"]);
    assert_eq!(c.apiauth[0].uids, ["hacluster", "root"]);
    assert_eq!(c.env[0], ("A".to_string(), "b=c".to_string()));
    // stonith_host for another node does not apply here.
    assert!(c.active_stonith().is_none());
    let c = cfg("stonith_host * meatware node1 node2");
    assert!(c.active_stonith().is_some());
    assert!(
        err("apiauth a uid=x\napiauth a gid=y")
            .contains("expected one apiauth line for `a`, found a second one (first on line 6)")
    );
    assert!(err("apiauth a uid=x uid=y").contains("found a duplicate"));
    assert!(err("apiauth a user=x").contains("expected uid=LIST or gid=LIST, found `user=x`"));
    assert!(err("pacemaker off\npacemaker off").contains("found a second one"));
    let long = "u".repeat(64);
    assert!(
        err(&format!("respawn {long} /bin/true"))
            .contains("expected a user name of at most 63 characters")
    );
}

#[test]
fn all_errors_of_all_files_in_one_run() {
    let e = from_texts(
        Path::new("/etc/ha.d"),
        &format!("{BASE}keepalive x\nFoo bar\n"),
        "node9 httpd\n",
        "auth 1\n1 md5\n",
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    )
    .unwrap_err();
    let r = render(&e);
    assert!(r.contains("/etc/ha.d/ha.cf:6:11: error"), "{r}");
    assert!(r.contains("/etc/ha.d/ha.cf:7:1: error"), "{r}");
    assert!(r.contains("/etc/ha.d/authkeys:2:3: error"), "{r}");
    assert!(r.contains("/etc/ha.d/haresources:1:1: error: expected a node declared in ha.cf (node1, node2), found `node9`"), "{r}");
    assert!(
        r.contains("heartbeat: Bad nodename in /etc/ha.d/haresources [node9]"),
        "{r}"
    );
}
