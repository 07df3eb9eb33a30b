//! Golden test: every `$ cl_status ...` block of the four fixture files of real heartbeat
//! 3.0.6 (`cl_status/*.txt`) is replayed through the pure `cl_status::run` against a snapshot
//! of the same cluster state; stdout, stderr and exit code must match byte for byte.
//!
//! Normalisation (stderr only): in syslog-style lines `Mon DD HH:MM:SS HOST cl_status: [PID]: `
//! the timestamp and the PID are replaced by placeholders on both sides; the host name, the
//! level and the text are compared as they are. Nothing else is normalised.

mod common;

use heartbeat_rs::api::{
    ClientStatus, LinkStatus, LinkView, NodeStatus, NodeType, NodeView, RscHold, Snapshot,
};
use heartbeat_rs::cli::cl_status::{Daemon, run};

/// One `$ command` block of a fixture file.
#[derive(Debug)]
struct Block {
    args: Vec<String>,
    exit: u8,
    stdout: String,
    stderr: String,
}

/// Parses the fixture block format:
/// `$ cl_status ARGS\n[exit N]\n[stdout]\nSTDOUT[stderr]\nSTDERR\n` (the final `\n` is the
/// blank line separating blocks).
fn parse_blocks(text: &str) -> Vec<Block> {
    let mut starts: Vec<usize> = text.match_indices("$ cl_status").map(|(i, _)| i).collect();
    starts.retain(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n');
    starts.push(text.len());
    let mut out = Vec::new();
    for w in starts.windows(2) {
        let block = &text[w[0]..w[1]];
        let (cmd, rest) = block.split_once('\n').expect("command line");
        let (exit_line, rest) = rest.split_once('\n').expect("exit line");
        let exit = exit_line
            .strip_prefix("[exit ")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad exit line {exit_line:?}"));
        let rest = rest.strip_prefix("[stdout]\n").expect("[stdout]");
        let at = if rest.starts_with("[stderr]\n") {
            0
        } else {
            rest.find("\n[stderr]\n").expect("[stderr]") + 1
        };
        let stdout = rest[..at].to_string();
        let stderr = rest[at + "[stderr]\n".len()..]
            .strip_suffix('\n')
            .expect("blank separator line")
            .to_string();
        let args = cmd
            .split_whitespace()
            .skip(2) // "$", "cl_status"
            .map(str::to_string)
            .collect();
        out.push(Block {
            args,
            exit,
            stdout,
            stderr,
        });
    }
    out
}

/// Replaces the timestamp and pid of syslog-style lines with placeholders.
fn normalise(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.split_inclusive('\n') {
        let norm = (|| {
            let (head, rest) = (line.get(..15)?, line.get(15..)?);
            let b = head.as_bytes();
            let stamp_ok = b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':';
            let rest = rest.strip_prefix(' ')?;
            let (host, rest) = rest.split_once(" cl_status: [")?;
            let (pid, rest) = rest.split_once("]: ")?;
            (stamp_ok && pid.bytes().all(|c| c.is_ascii_digit()))
                .then(|| format!("<STAMP> {host} cl_status: [<PID>]: {rest}"))
        })();
        out.push_str(norm.as_deref().unwrap_or(line));
    }
    out
}

fn node(name: &str, status: NodeStatus, links: &[(&str, LinkStatus)]) -> NodeView {
    NodeView {
        name: name.into(),
        kind: if status == NodeStatus::Ping {
            NodeType::Ping
        } else {
            NodeType::Normal
        },
        status,
        weight: 100,
        site: String::new(),
        links: links
            .iter()
            .map(|(n, s)| LinkView {
                name: n.to_string(),
                status: *s,
            })
            .collect(),
    }
}

/// The cluster of the fixtures (cl_status/ha.cf): node1, node2 over eth0, ping 192.0.2.254.
fn snapshot(local: &str, peer_dead: bool, rsc: RscHold) -> Snapshot {
    let (n2, l2) = if peer_dead {
        (NodeStatus::Dead, LinkStatus::Dead)
    } else {
        (NodeStatus::Active, LinkStatus::Up)
    };
    let params = [
        ("auto_failback", "on"),
        ("baud", "19200"),
        ("debug", "0"),
        ("debugfile", "/var/log/ha-debug"),
        ("deadping", "3000ms"),
        ("deadtime", "3"),
        (
            "hbversion",
            "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)",
        ),
        ("hopfudge", "1"),
        ("initdead", "10"),
        ("keepalive", "1"),
        ("logfile", "/var/log/ha-log"),
        ("msgfmt", "classic"),
        ("udpport", "694"),
        ("warntime", "2"),
        ("crm", "false"),
        ("pacemaker", "false"),
    ];
    Snapshot {
        version: "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)".into(),
        local_node: local.into(),
        managed_by: "haresources".into(),
        rsc,
        nodes: vec![
            node("node2", n2, &[("eth0", l2)]),
            node("node1", NodeStatus::Active, &[("eth0", LinkStatus::Up)]),
            node(
                "192.0.2.254",
                NodeStatus::Ping,
                &[("192.0.2.254", LinkStatus::Up)],
            ),
        ],
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        clients: vec![("cl_status".into(), ClientStatus::Offline)],
        groups: Vec::new(),
        fencing: Vec::new(),
        guard: Default::default(),
        taken_unix: 0,
    }
}

fn check(file: &str, daemon: Daemon<'_>, host: &str) -> usize {
    let path = common::fixture(&format!("cl_status/{file}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let blocks = parse_blocks(&text);
    assert!(!blocks.is_empty(), "{file}: no blocks parsed");
    let mut failures = Vec::new();
    for b in &blocks {
        let args: Vec<&str> = b.args.iter().map(String::as_str).collect();
        let out = run(&args, daemon);
        let stderr = out.render_stderr("Jan  1 00:00:00", host, 1);
        if out.stdout != b.stdout
            || normalise(&stderr) != normalise(&b.stderr)
            || out.code != b.exit
        {
            failures.push(format!(
                "{file}: cl_status {}\n  want exit {} stdout {:?} stderr {:?}\n  got  exit {} stdout {:?} stderr {:?}",
                b.args.join(" "),
                b.exit,
                b.stdout,
                normalise(&b.stderr),
                out.code,
                out.stdout,
                normalise(&stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    blocks.len()
}

#[test]
fn node1_active() {
    let s = snapshot("node1", false, RscHold::Local);
    assert_eq!(check("node1-active.txt", Daemon::Running(&s), "node1"), 64);
}

#[test]
fn node2_standby() {
    let s = snapshot("node2", false, RscHold::Local);
    assert_eq!(check("node2-standby.txt", Daemon::Running(&s), "node2"), 64);
}

#[test]
fn node1_peer_dead() {
    let s = snapshot("node1", true, RscHold::All);
    assert_eq!(
        check("node1-peer-dead.txt", Daemon::Running(&s), "node1"),
        5
    );
}

#[test]
fn not_running() {
    assert_eq!(check("not-running.txt", Daemon::Unreachable, "node1"), 4);
}

#[test]
fn the_parser_and_normaliser_see_the_fields() {
    let b = parse_blocks("$ cl_status x -v\n[exit 3]\n[stdout]\na\n\n[stderr]\nb\n\n");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].args, ["x", "-v"]);
    assert_eq!(
        (b[0].exit, &*b[0].stdout, &*b[0].stderr),
        (3, "a\n\n", "b\n")
    );
    assert_eq!(
        normalise("Nov 21 23:22:42 node1 cl_status: [15501]: ERROR: x\nplain\n"),
        "<STAMP> node1 cl_status: [<PID>]: ERROR: x\nplain\n"
    );
}
