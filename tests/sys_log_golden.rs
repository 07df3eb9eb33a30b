//! Golden test: every daemon line real heartbeat 3.0.6 wrote into ha-log / ha-debug is
//! re-created byte for byte by `sys::log::format_file_line` from its parts.

mod common;

use heartbeat_rs::sys::log::{Level, Line, Stamp, format_file_line};

/// Splits `Mon DD HH:MM:SS HOST heartbeat: [PID]: LEVEL: TEXT` without using the formatter.
fn parse(line: &str) -> Option<(Stamp, &str, u32, Level, &str)> {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (mon, rest) = line.split_once(' ')?;
    let month = months.iter().position(|m| *m == mon)? as u8 + 1;
    let (day, rest) = rest.split_once(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    let mut hms = time.split(':').map(|p| p.parse::<u8>());
    let (hour, minute, second) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let (host, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("heartbeat: [")?;
    let (pid, rest) = rest.split_once("]: ")?;
    let (level, text) = rest.split_once(": ")?;
    let stamp = Stamp {
        year: 2026,
        month,
        day: day.parse().ok()?,
        hour,
        minute,
        second,
    };
    Some((
        stamp,
        host,
        pid.parse().ok()?,
        Level::from_word(level)?,
        text,
    ))
}

#[test]
fn fixture_log_lines_are_reproduced_byte_exact() {
    let dir = common::fixture("logs");
    let mut checked = 0;
    let mut levels = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("fixture logs dir") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        if !(name.ends_with(".ha-log") || name.ends_with(".ha-debug") || name.ends_with(".stderr"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("utf-8 fixture");
        for raw in text.split_inclusive('\n') {
            let Some((stamp, host, pid, level, body)) = parse(raw.trim_end_matches('\n')) else {
                continue; // script lines (ha_log layout) and stray output
            };
            let mut out = Vec::new();
            format_file_line(
                &mut out,
                true,
                &Line {
                    stamp,
                    host,
                    pid,
                    level,
                    text: body,
                },
            );
            // The last line of a file may lack its LF; compare the bytes we have.
            let want = if raw.ends_with('\n') {
                raw.to_owned()
            } else {
                format!("{raw}\n")
            };
            assert_eq!(String::from_utf8_lossy(&out), want, "{name}");
            if name.ends_with(".ha-log") {
                assert_ne!(level, Level::Debug, "{name}: debug line in ha-log");
            }
            levels.insert(level);
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} daemon lines found");
    assert!(levels.contains(&Level::Debug) && levels.contains(&Level::Warn));
}

/// The `info: glib: ...` texts of a fixture ha-log, in order.
fn glib_lines(rel: &str) -> Vec<String> {
    let text = std::fs::read_to_string(common::fixture(rel)).expect("fixture ha-log");
    text.lines()
        .filter_map(|l| l.split_once("]: info: ").map(|(_, t)| t))
        .filter(|t| t.starts_with("glib: ") && !t.contains(" closed on port "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn media_start_lines_match_heartbeats_plugins() {
    use heartbeat_rs::config::Baud;
    use heartbeat_rs::sys::{serial, udp};
    use std::net::Ipv4Addr;
    assert_eq!(
        glib_lines("wire/ucast-sha1/node1/ha-log"),
        udp::ucast_started("eth0", "192.0.2.12", 694)
    );
    assert_eq!(
        glib_lines("wire/mcast-sha1/node1/ha-log"),
        udp::mcast_started("eth0", Ipv4Addr::new(225, 0, 0, 1), 694, 1, false)
    );
    assert_eq!(
        glib_lines("wire/bcast-sha1/node1/ha-log"),
        udp::bcast_started("eth0", 694)
    );
    assert_eq!(
        glib_lines("wire/serial-sha1/node1/ha-log"),
        [serial::started_message(
            std::path::Path::new("/dev/ttyS0"),
            Baud::B19200
        )]
    );
}

#[test]
fn coredump_warnings_are_heartbeats_lines() {
    let text = std::fs::read_to_string(common::fixture("logs/01-node1-starts-alone.node1.ha-log"))
        .expect("fixture");
    let warns: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("]: WARN: ").map(|(_, t)| t))
        .filter(|t| t.contains("ore"))
        .collect();
    // The lab kernel had the defaults: core_pattern "core", core_uses_pid 0.
    assert_eq!(
        warns,
        heartbeat_rs::sys::daemon::coredump_warnings("core", "0")
    );
}
