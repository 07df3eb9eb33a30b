//! `heartbeat --decode-packet` on payloads captured from heartbeat 3.0.6.
#![allow(clippy::disallowed_methods)] // tests run the built binary

mod common;
#[path = "common/pcap.rs"]
mod pcap;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn wire_dir() -> PathBuf {
    common::fixtures_dir().join("wire")
}

/// The first UDP payload of a capture.
fn first_payload(capture: &str) -> Vec<u8> {
    let pcap = fs::read(wire_dir().join(format!("{capture}.pcap"))).unwrap();
    pcap::payloads(&pcap).remove(0).bytes
}

/// A mode-600 authkeys file with `text` in `dir`.
fn keyfile(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("authkeys");
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .arg("--decode-packet")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // The tool may exit before reading (e.g. on a bad keyfile): a broken pipe is fine.
    let _ = pipe.write_all(stdin.unwrap_or_default());
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn fixture_payloads_verify_with_their_capture_key() {
    for (capture, method) in [
        ("bcast-crc", "crc"),
        ("ucast-md5", "md5"),
        ("mcast-sha1", "sha1"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let keys = fs::read_to_string(wire_dir().join(capture).join("node1/authkeys")).unwrap();
        let keys = keyfile(dir.path(), &keys);
        let packet = dir.path().join("packet.bin");
        fs::write(&packet, first_payload(capture)).unwrap();
        let o = run(
            &[
                "--authkeys",
                keys.to_str().unwrap(),
                packet.to_str().unwrap(),
            ],
            None,
        );
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{capture}: {text}");
        assert!(text.starts_with(">>>\nt=status\nst=init\n"), "{text}");
        assert!(text.contains("\n(1)srcuuid="), "{text}");
        assert!(
            text.ends_with(&format!("<<<\nauth: ok (index 1, {method})\n")),
            "{text}"
        );
        // The same from stdin, with the keys found through --config-dir.
        let o = run(
            &["--config-dir", dir.path().to_str().unwrap(), "-"],
            Some(&first_payload(capture)),
        );
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(stdout(&o), text);
    }
}

#[test]
fn wrong_key_fails_with_exit_1_and_never_prints_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyfile(dir.path(), "auth 1\n1 sha1 s3cr3t-wrong\n");
    let o = run(
        &["--authkeys", keys.to_str().unwrap()],
        Some(&first_payload("bcast-sha1")),
    );
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.ends_with("auth: FAILED (index 1, sha1): digest mismatch\n"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t") && !String::from_utf8_lossy(&o.stderr).contains("s3cr3t"));

    let keys = keyfile(dir.path(), "auth 2\n2 md5 testkey\n");
    let o = run(
        &["--authkeys", keys.to_str().unwrap()],
        Some(&first_payload("bcast-md5")),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).ends_with("auth: FAILED (index 1, -): no key with index 1\n"));
}

#[test]
fn malformed_payload_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyfile(dir.path(), "auth 1\n1 crc\n");
    let keys = keys.to_str().unwrap();
    let o = run(&["--authkeys", keys], Some(b"###\n8:t=status,%%%\n"));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stdout(&o),
        "malformed: netstring field without (N) type prefix at byte 6\n"
    );
    let mut cut = first_payload("bcast-crc");
    cut.truncate(100);
    let o = run(&["--authkeys", keys], Some(&cut));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "malformed: truncated message\n");
    let o = run(&["--authkeys", keys, "/nonexistent/packet"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unusable_authkeys_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyfile(dir.path(), "auth 1\n1 crc\n");
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(
        &["--authkeys", keys.to_str().unwrap()],
        Some(&first_payload("bcast-crc")),
    );
    assert_eq!(o.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&o.stderr).contains("600 recommended"));
    assert!(o.stdout.is_empty());
}
