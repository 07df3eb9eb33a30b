//! `heartbeat --check-config`, `-D`, `-V` as an operator runs them.
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn heartbeat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(args)
        .output()
        .unwrap()
}

/// The repository's sample ha.d copied to a temp dir (authkeys mode 600), optionally edited.
fn sample(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("ha.d");
    for name in ["ha.cf", "haresources", "authkeys"] {
        let text = fs::read_to_string(src.join(name)).unwrap();
        fs::write(tmp.path().join(name), edit(name, text)).unwrap();
    }
    fs::set_permissions(
        tmp.path().join("authkeys"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    tmp
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    let d = dir.to_str().unwrap();
    let mut args = vec!["--check-config", "--config-dir", d];
    args.extend_from_slice(extra);
    heartbeat(&args)
}

#[test]
fn the_sample_passes_with_a_one_line_summary_and_no_key() {
    let dir = sample(|_, t| t);
    let out = check(dir.path(), &["--node", "node1", "--no-host-checks"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("configuration OK: nodes node1 (this node), node2; media bcast eth0:694; 1 group (192.0.2.100/24/eth0@node1); auth sha1 (key 1)"), "{stdout}");
    assert!(!stdout.contains("netlab-sample-key") && !stderr.contains("netlab-sample-key"));
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn errors_of_all_files_exit_6_with_positions_and_heartbeats_closing_line() {
    let dir = sample(|name, t| match name {
        "ha.cf" => t.replace("deadtime        10", "deadtime        2"),
        "haresources" => t + "node3 httpd\n",
        _ => t.replace("1 sha1", "1 sha2"),
    });
    let out = check(dir.path(), &["--node", "node2", "--no-host-checks"]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("/ha.cf:19:17: error: expected deadtime greater than 2 x keepalive (2000 ms), found 2000 ms"), "{stderr}");
    assert!(stderr.contains("/haresources:13:1: error: expected a node declared in ha.cf (node1, node2), found `node3`"), "{stderr}");
    assert!(stderr.contains("/authkeys:10:3: error: expected an auth method (crc, md5 or sha1), found a word that is not shown"), "{stderr}");
    assert!(
        stderr.ends_with("ERROR: Configuration error, heartbeat not started.\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("netlab-sample-key"));
}

#[test]
fn a_readable_authkeys_is_refused() {
    let dir = sample(|_, t| t);
    fs::set_permissions(
        dir.path().join("authkeys"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = check(dir.path(), &["--node", "node1", "--no-host-checks"]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("authkeys: error: expected a keyfile readable only by its owner (mode 600), found mode 644"), "{stderr}");
}

#[test]
fn a_missing_directory_names_every_file() {
    let out = check(Path::new("/nonexistent/ha.d"), &[]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for f in ["ha.cf", "authkeys", "haresources"] {
        assert!(
            stderr.contains(&format!("/nonexistent/ha.d/{f}: error: cannot open")),
            "{stderr}"
        );
    }
}

#[test]
fn dash_d_prints_the_defaults_table() {
    let out = heartbeat(&["-D"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s, heartbeat_rs::config::directives::defaults_table());
    assert!(s.starts_with("cluster linux-ha\nhopfudge 1\nkeepalive 1000ms\n"));
    assert!(s.ends_with("enable_config_writes on\nmemreserve 6500\n"));
}

#[test]
fn dash_v_prints_the_version() {
    let out = heartbeat(&["-V"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        env!("CARGO_PKG_VERSION")
    );
}
