//! [`Config`] → the three files' text, such that parsing the text again gives the same
//! `Config` (the round-trip property the tests check). The authkeys text contains the keys:
//! it is meant to be written to a mode-600 file, never printed.

use super::directives;
use super::model::{AuthKey, Config, Medium, StonithDirective};

/// Directives that must come before others (crm_* before pacemaker; udpport and baud come
/// before media anyway because parameters are written first).
const FIRST: &[&str] = &["crm_daemon_dir", "crmd_spawns_pengine"];

/// `ha.cf` text.
pub fn ha_cf(c: &Config) -> String {
    let mut out = String::new();
    let mut param = |name: &str| {
        if let Some(v) = c.parameters.get(name) {
            out.push_str(&format!("{name} {v}\n"));
        }
    };
    for name in FIRST {
        param(name);
    }
    for dir in directives::recorded() {
        // udpport is written around the media below: where it stands matters.
        if !FIRST.contains(&dir.name) && dir.name != "udpport" {
            param(dir.name);
        }
    }
    for n in &c.nodes {
        out.push_str(&format!("node {n}\n"));
    }
    for p in &c.ping_nodes {
        if p.is_group {
            out.push_str(&format!("ping_group {} {}\n", p.name, p.hosts.join(" ")));
        } else if p.name.contains(':') {
            out.push_str(&format!("ping6 {}\n", p.name));
        } else {
            out.push_str(&format!("ping {}\n", p.name));
        }
    }
    // The bcast and ucast plugins latch `udpport` when their first medium is declared
    // (behaviour spec §1.3), so each kind gets its port right before its first line; the
    // recorded value follows the media, where it changes no latched port.
    let (mut bcast_latched, mut ucast_latched, mut ucast6_latched) = (false, false, false);
    for m in &c.media {
        let latch = match m {
            Medium::Bcast { port, .. } => Some((&mut bcast_latched, *port)),
            Medium::Ucast { port, .. } => Some((&mut ucast_latched, *port)),
            Medium::Ucast6 { port, .. } => Some((&mut ucast6_latched, *port)),
            _ => None,
        };
        if let Some((latched, port)) = latch
            && !*latched
        {
            *latched = true;
            out.push_str(&format!("udpport {port}\n"));
        }
        out.push_str(&match m {
            Medium::Bcast { iface, .. } => format!("bcast {iface}\n"),
            Medium::Ucast { iface, peer, .. } => format!("ucast {iface} {peer}\n"),
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                loop_back,
            } => format!(
                "mcast {iface} {group} {port} {ttl} {}\n",
                u8::from(*loop_back)
            ),
            Medium::Ucast6 { iface, peer, .. } => format!("ucast6 {iface} {peer}\n"),
            Medium::Mcast6 {
                iface,
                group,
                port,
                hops,
                loop_back,
            } => format!(
                "mcast6 {iface} {group} {port} {hops} {}\n",
                u8::from(*loop_back)
            ),
            Medium::Serial { device, .. } => format!("serial {}\n", device.display()),
        });
    }
    if let Some(v) = c.parameters.get("udpport") {
        out.push_str(&format!("udpport {v}\n"));
    }
    for s in &c.stonith {
        out.push_str(&match s {
            StonithDirective::Stonith {
                device_type,
                config_file,
            } => format!("stonith {device_type} {}\n", config_file.display()),
            StonithDirective::StonithHost {
                from,
                device_type,
                params,
            } => {
                let from = from.as_ref().map_or("*", |n| n.as_str());
                let mut line = format!("stonith_host {from} {device_type}");
                for p in params {
                    line.push(' ');
                    line.push_str(p);
                }
                line + "\n"
            }
        });
    }
    for cl in &c.clients {
        let name = if cl.failfast { "failfast" } else { "respawn" };
        let mut line = format!("{name} {} {}", cl.user, cl.command.display());
        for a in &cl.args {
            line.push(' ');
            line.push_str(a);
        }
        out.push_str(&line);
        out.push('\n');
    }
    for a in &c.apiauth {
        let mut line = format!("apiauth {}", a.client);
        if !a.uids.is_empty() {
            line.push_str(&format!(" uid={}", a.uids.join(",")));
        }
        if !a.gids.is_empty() {
            line.push_str(&format!(" gid={}", a.gids.join(",")));
        }
        out.push_str(&line);
        out.push('\n');
    }
    for (k, v) in &c.env {
        out.push_str(&format!("env {k}={v}\n"));
    }
    out
}

/// `haresources` text.
pub fn haresources(c: &Config) -> String {
    let mut out = String::new();
    for g in &c.groups {
        out.push_str(g.node.as_str());
        for r in &g.resources {
            out.push(' ');
            out.push_str(&r.token);
        }
        out.push('\n');
    }
    out
}

/// `authkeys` text, keys included (write it to a mode-600 file; never print it).
pub fn authkeys(c: &Config) -> String {
    let mut out = format!("auth {}\n", c.auth.send_index());
    for (i, k) in c.auth.iter() {
        out.push_str(&match k {
            AuthKey::Crc => format!("{i} crc\n"),
            AuthKey::Md5(s) => format!("{i} md5 {}\n", String::from_utf8_lossy(s.expose())),
            AuthKey::Sha1(s) => format!("{i} sha1 {}\n", String::from_utf8_lossy(s.expose())),
        });
    }
    out
}
