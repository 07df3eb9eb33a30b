//! Round trip: for generated valid configurations, parse → render → parse gives the same
//! model, and the model says what the generated text said.

use std::path::Path;

use heartbeat_rs::config::render;
use heartbeat_rs::config::resolve::{CheckOptions, Loaded, StaticHost, from_texts};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Gen {
    nodes: Vec<String>,
    keepalive_ms: u64,
    deadtime_extra_ms: u64,
    initdead_extra_ms: Option<u64>,
    time_style: u8,
    udpport: Option<u16>,
    media: Vec<(u8, u8, u8)>,
    bools: Vec<(usize, bool, u8)>,
    pings: Vec<(u8, u8)>,
    groups: Vec<(usize, Vec<(u8, u8)>)>,
    keys: Vec<(u8, u8, String)>,
    auth_pick: usize,
    sep: u8,
}

const BOOLS: &[&str] = &[
    "realtime",
    "log_badpack",
    "syslogmsgfmt",
    "coredumps",
    "traditional_compression",
    "use_apphbd",
    "record_config_changes",
];
const TRUE: &[&str] = &["true", "on", "yes", "y", "1", "ON", "Yes"];
const FALSE: &[&str] = &["false", "off", "no", "n", "0", "OFF", "No"];

fn configs() -> impl Strategy<Value = Gen> {
    (
        prop::collection::vec("[a-zA-Z][a-zA-Z0-9.-]{0,8}", 0..3),
        1u64..4000,
        1u64..60000,
        prop::option::of(0u64..60000),
        0u8..3,
        prop::option::of(1u16..),
        prop::collection::vec((0u8..4, 0u8..3, 0u8..5), 1..5),
        prop::collection::vec((0..BOOLS.len(), any::<bool>(), 0u8..7), 0..5),
        prop::collection::vec((0u8..2, 1u8..250), 0..3),
        (
            prop::collection::vec(
                (0usize..4, prop::collection::vec((0u8..4, 0u8..9), 1..4)),
                0..4,
            ),
            prop::collection::vec((0u8..16, 0u8..3, "[A-Za-z0-9!%+]{1,20}"), 1..4),
            0usize..4,
            0u8..3,
        ),
    )
        .prop_map(
            |(
                nodes,
                k,
                d,
                i,
                style,
                udpport,
                media,
                bools,
                pings,
                (groups, keys, auth_pick, sep),
            )| Gen {
                nodes,
                keepalive_ms: k,
                deadtime_extra_ms: d,
                initdead_extra_ms: i,
                time_style: style,
                udpport,
                media,
                bools,
                pings,
                groups,
                keys,
                auth_pick,
                sep,
            },
        )
}

fn time(ms: u64, style: u8) -> String {
    match style {
        0 => format!("{ms}ms"),
        1 if ms.is_multiple_of(1000) => format!("{}", ms / 1000),
        1 => format!("{}.{:03}", ms / 1000, ms % 1000),
        _ => format!("{}us", ms * 1000),
    }
}

struct Texts {
    ha_cf: String,
    haresources: String,
    authkeys: String,
    nodes: Vec<String>,
}

fn write(g: &Gen) -> Texts {
    let mut nodes = vec!["node1".to_string()];
    nodes.extend(g.nodes.iter().cloned());
    let sep = [" ", ", ", "\t"][g.sep as usize % 3];
    let mut cf = String::from("# generated\nlogfile /var/log/ha-log\n");
    cf.push_str(&format!("node {}\n", nodes.join(sep)));
    let k = g.keepalive_ms;
    let d = 2 * k + g.deadtime_extra_ms;
    cf.push_str(&format!("keepalive {}\n", time(k, g.time_style)));
    cf.push_str(&format!("deadtime {}  # comment\n", time(d, g.time_style)));
    if let Some(extra) = g.initdead_extra_ms {
        cf.push_str(&format!("initdead {}\n", time(d + extra, g.time_style)));
    }
    if let Some(p) = g.udpport {
        cf.push_str(&format!("udpport {p}\n"));
    }
    for (kind, iface, n) in &g.media {
        let iface = format!("eth{iface}");
        cf.push_str(&match kind {
            0 => format!("bcast {iface}\n"),
            1 => format!("ucast {iface} 10.0.0.{n}\n"),
            2 => format!("mcast {iface} 225.0.0.{n} 694 {} {}\n", n % 5, n % 2),
            _ => format!("serial /dev/ttyS{n}\n"),
        });
    }
    for (i, v, spelling) in &g.bools {
        let words = if *v { TRUE } else { FALSE };
        cf.push_str(&format!(
            "{} {}\n",
            BOOLS[*i],
            words[*spelling as usize % words.len()]
        ));
    }
    for (kind, n) in &g.pings {
        if *kind == 0 {
            cf.push_str(&format!("ping 10.1.0.{n}\n"));
        } else {
            cf.push_str(&format!("ping_group gw{n} 10.2.0.{n} 10.3.0.{n}\n"));
        }
    }
    cf.push_str("auto_failback on\r\n");

    let mut hr = String::from("# groups\n");
    for (gi, (node, res)) in g.groups.iter().enumerate() {
        let node = &nodes[node % nodes.len()];
        hr.push_str(node);
        for (ri, (kind, n)) in res.iter().enumerate() {
            hr.push(' ');
            hr.push_str(&match kind {
                0 => format!("10.{gi}.{ri}.{n}/24/eth0"),
                1 => format!("Filesystem::/dev/sd{n}::/d{gi}{ri}::ext4"),
                2 => format!("svc{gi}x{ri}"),
                _ => format!("IPaddr2::10.9.{gi}.{ri}"),
            });
        }
        hr.push('\n');
    }

    let methods = ["crc", "md5", "sha1"];
    let pick = &g.keys[g.auth_pick % g.keys.len()];
    let mut ak = format!("auth {}\n", pick.0);
    for (i, m, key) in &g.keys {
        let method = methods[*m as usize];
        if method == "crc" {
            ak.push_str(&format!("{i} crc\n"));
        } else {
            ak.push_str(&format!("{i} {method} {key}\n"));
        }
    }
    Texts {
        ha_cf: cf,
        haresources: hr,
        authkeys: ak,
        nodes,
    }
}

fn check(ha_cf: &str, hr: &str, ak: &str) -> Loaded {
    let facts = StaticHost::named("node1");
    from_texts(
        Path::new("/etc/ha.d"),
        ha_cf,
        hr,
        ak,
        &facts,
        &CheckOptions::default(),
    )
    .unwrap_or_else(|d| {
        let text: String = d.iter().map(|d| format!("{d}\n")).collect();
        panic!("refused:\n{text}\n--- ha.cf\n{ha_cf}--- haresources\n{hr}--- authkeys\n{ak}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_render_parse_is_identity(g in configs()) {
        let t = write(&g);
        let a = check(&t.ha_cf, &t.haresources, &t.authkeys).config;
        // The model says what the text said.
        let names: Vec<String> = a.nodes.iter().map(|n| n.as_str().to_string()).collect();
        let want: Vec<String> = t.nodes.iter().map(|n| n.to_ascii_lowercase()).collect();
        prop_assert_eq!(names, want);
        prop_assert_eq!(a.timing.keepalive.as_millis(), g.keepalive_ms);
        prop_assert_eq!(a.media.len(), g.media.len());
        prop_assert_eq!(a.groups.len(), g.groups.len());
        prop_assert_eq!(a.ping_nodes.len(), g.pings.len());
        // Rendering and parsing again changes nothing.
        let b = check(&render::ha_cf(&a), &render::haresources(&a), &render::authkeys(&a)).config;
        prop_assert_eq!(&a, &b);
    }
}
