//! haresources through the whole check: node names against ha.cf, positions across
//! continuation lines, resource forms (§2.1–2.3).

use std::path::Path;

use heartbeat_rs::config::resolve::{CheckOptions, StaticHost, from_texts};
use heartbeat_rs::config::{Config, Diagnostic};

const HA_CF: &str = "node Node1 node2\nbcast eth0\nauto_failback on\nlogfile /x\n";

fn run(hr: &str) -> Result<Config, String> {
    from_texts(
        Path::new("/etc/ha.d"),
        HA_CF,
        hr,
        "auth 1\n1 crc\n",
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    )
    .map(|l| l.config)
    .map_err(|d: Vec<Diagnostic>| d.iter().map(|d| format!("{d}\n")).collect())
}

#[test]
fn node_names_match_case_insensitively() {
    let c = run("NODE1 10.0.0.1 httpd\nnode2 IPaddr::10.0.0.2/24\n").unwrap();
    assert_eq!(c.groups[0].node.as_str(), "node1");
    assert_eq!(c.groups[1].resources[0].args, ["10.0.0.2/24"]);
}

#[test]
fn an_undeclared_node_is_an_error_at_its_line_even_after_continuations() {
    let e = run("node1 a \\\n  b \\\n  c\n\n# x\n   nodeX d\n").unwrap_err();
    assert!(
        e.starts_with("/etc/ha.d/haresources:6:4: error: expected a node declared in ha.cf (node1, node2), found `nodex`\n6 |    nodeX d\n  |    ^^^^^"),
        "{e}"
    );
}

#[test]
fn a_hash_inside_an_argument_truncates_the_line() {
    let c = run("node1 MailTo::ops#team::subject\n").unwrap();
    assert_eq!(c.groups[0].resources[0].script, "MailTo");
    assert_eq!(c.groups[0].resources[0].args, ["ops"]);
}

#[test]
fn ip_forms_are_checked_with_warnings_only() {
    let c = run(
        "node1 10.0.0.1/24/eth0/10.0.0.255 10.0.0.3/255.255.255.0 IPaddr2::10.0.0.4/24/eth0:web\n",
    )
    .unwrap();
    assert_eq!(c.groups[0].resources.len(), 3);
    let l = from_texts(
        Path::new("/etc/ha.d"),
        HA_CF,
        "node1 IPaddr::10.0.0.1/40\n",
        "auth 1\n1 crc\n",
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    )
    .unwrap();
    let w: String = l.warnings.iter().map(|d| format!("{d}\n")).collect();
    assert!(w.contains("haresources:1:7: warning: expected a netmask (CIDR bits 0-32 or a dotted quad), found `40`"), "{w}");
}

#[test]
fn an_empty_file_has_no_groups() {
    assert!(run("").unwrap().groups.is_empty());
    assert!(run("# only comments\n\n   \n").unwrap().groups.is_empty());
}
