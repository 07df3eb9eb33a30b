//! `heartbeat --check-config` and `heartbeat -D`.

use std::process::ExitCode;

use super::{Mode, Options};
use crate::config::directives;
use crate::config::load::{self, CheckOptions};
use crate::config::{Config, Medium};

pub fn run(opts: &Options) -> ExitCode {
    if opts.mode == Mode::PrintDefaults {
        print!("{}", directives::defaults_table());
        return ExitCode::SUCCESS;
    }
    let check = CheckOptions {
        node: opts.node.clone(),
        skip_host_checks: opts.no_host_checks,
    };
    let host = load::SystemHost {
        dir: &opts.config_dir,
    };
    match load::load_with(&opts.config_dir, opts.authkeys.as_deref(), &check, &host) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            println!("{}", summary(&loaded.config));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            let n = e.errors().count();
            eprintln!("{n} error{} found.", if n == 1 { "" } else { "s" });
            // heartbeat's closing line.
            eprintln!("ERROR: Configuration error, heartbeat not started.");
            ExitCode::from(super::EXIT_NOT_CONFIGURED)
        }
    }
}

/// The one-line success summary: nodes, media, groups, auth method (never a key).
pub fn summary(c: &Config) -> String {
    let nodes = c
        .nodes
        .iter()
        .map(|n| {
            if *n == c.local_node {
                format!("{n} (this node)")
            } else {
                n.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let media = c.media.iter().map(medium).collect::<Vec<_>>().join(", ");
    let groups = c
        .groups
        .iter()
        .map(|g| format!("{}@{}", g.key(), g.node))
        .collect::<Vec<_>>()
        .join(", ");
    let auth = c.auth.send_key().method();
    let mut s = format!(
        "{}: configuration OK: nodes {nodes}; media {media}; {} group{}",
        c.dir.display(),
        c.groups.len(),
        if c.groups.len() == 1 { "" } else { "s" }
    );
    if !groups.is_empty() {
        s.push_str(&format!(" ({groups})"));
    }
    if !c.ping_nodes.is_empty() {
        let p = c
            .ping_nodes
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        s.push_str(&format!("; ping nodes {p}"));
    }
    s.push_str(&format!("; auth {auth} (key {})", c.auth.send_index()));
    s
}

fn medium(m: &Medium) -> String {
    match m {
        Medium::Bcast { iface, port } => format!("bcast {iface}:{port}"),
        Medium::Ucast { iface, peer, port } => format!("ucast {iface} {peer}:{port}"),
        Medium::Mcast {
            iface, group, port, ..
        } => format!("mcast {iface} {group}:{port}"),
        Medium::Ucast6 { iface, peer, port } => format!("ucast6 {iface} [{peer}]:{port}"),
        Medium::Mcast6 {
            iface, group, port, ..
        } => format!("mcast6 {iface} [{group}]:{port}"),
        Medium::Serial { device, baud } => {
            format!("serial {} at {}", device.display(), baud.rate())
        }
    }
}
