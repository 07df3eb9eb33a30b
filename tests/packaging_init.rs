//! The SysV init script's actions, texts and exit codes (behaviour spec §8.2), run against a
//! stub `heartbeat` binary in a temporary HA_BIN.
#![allow(clippy::disallowed_methods)] // runs the script under test

mod common;
use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    out: String,
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/heartbeat.init")
}

/// A stub heartbeat: `-s` exits $STUB_S, `-r` exits $STUB_R printing an error, the plain
/// start exits $STUB_START, `-k` exits 0; every call is appended to calls.log.
fn setup(with_config: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ha = dir.path().join("ha.d");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&ha).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    if with_config {
        std::fs::write(ha.join("ha.cf"), "# test\nDeadTime   1\nauto_failback on\n").unwrap();
    }
    let stub = bin.join("heartbeat");
    common::write_exec(
        &stub,
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}/calls.log'\ncase \"$1\" in\n\
             -s) echo 'heartbeat is stopped. No process'; exit ${{STUB_S:-3}} ;;\n\
             -r) echo 'ERROR: bad config' >&2; exit ${{STUB_R:-0}} ;;\n\
             -k) exit 0 ;;\n\
             *) echo 'ERROR: start failed' >&2; exit ${{STUB_START:-0}} ;;\nesac\n",
            dir.path().display()
        ),
        0o755,
    );
    dir
}

fn run(dir: &Path, action: &str, env: &[(&str, &str)]) -> Run {
    let out = Command::new("sh")
        .arg(script())
        .arg(action)
        .env("HA_DIR", dir.join("ha.d"))
        .env("HA_BIN", dir.join("bin"))
        .env("HA_NOARCHBIN", dir.join("bin"))
        .env("HA_RSCTMP", dir.join("rsctmp"))
        // Never touch the host's /run or /var/lock.
        .env("HA_RUNDIR", dir.join("run"))
        .env("HA_LOCKFILE", dir.join("lock/heartbeat"))
        .envs(env.iter().copied())
        .output()
        .expect("run init script");
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

#[test]
fn missing_ha_cf_is_reported_with_exit_0() {
    let dir = setup(false);
    let r = run(dir.path(), "start", &[]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.out,
        format!(
            "Heartbeat not configured: {}/ha.d/ha.cf not found. Heartbeat failure [rc=1]. Failed.\n",
            dir.path().display()
        )
    );
}

#[test]
fn status_passes_heartbeats_exit_code_through() {
    let dir = setup(true);
    let r = run(dir.path(), "status", &[("STUB_S", "3")]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (3, "heartbeat is stopped. No process\n")
    );
    assert_eq!(run(dir.path(), "status", &[("STUB_S", "1")]).code, 1);
    assert_eq!(run(dir.path(), "status", &[("STUB_S", "0")]).code, 0);
}

#[test]
fn start_prints_done_and_a_blank_line_or_the_failure() {
    let dir = setup(true);
    std::fs::create_dir_all(dir.path().join("lock")).unwrap();
    let r = run(dir.path(), "start", &[]);
    assert_eq!(r.code, 0);
    assert_eq!(r.out, "Starting High-Availability services: Done.\n\n");
    assert!(
        dir.path().join("lock/heartbeat").exists(),
        "lock file touched"
    );
    assert!(dir.path().join("run/heartbeat/ccm").is_dir());
    let r = run(dir.path(), "start", &[("STUB_START", "6")]);
    assert_eq!(r.code, 6);
    assert_eq!(
        r.out,
        "Starting High-Availability services:  Heartbeat failure [rc=6]. Failed.\n\nERROR: start failed\n\n"
    );
}

#[test]
fn stop_runs_heartbeat_k() {
    let dir = setup(true);
    std::fs::create_dir_all(dir.path().join("lock")).unwrap();
    std::fs::write(dir.path().join("lock/heartbeat"), "").unwrap();
    let r = run(dir.path(), "stop", &[]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Stopping High-Availability services: Done.\n\n")
    );
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert_eq!(calls, "-k\n");
    assert!(
        !dir.path().join("lock/heartbeat").exists(),
        "lock file removed"
    );
}

#[test]
fn reload_always_exits_0() {
    let dir = setup(true);
    let r = run(dir.path(), "reload", &[("STUB_R", "6")]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.out,
        "Reloading High-Availability services:  Heartbeat failure [rc=6]. Failed.\n\n"
    );
    let r = run(dir.path(), "force-reload", &[]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (0, "Reloading High-Availability services: Done.\n\n")
    );
}

#[test]
fn unknown_action_prints_usage_and_exits_1() {
    let dir = setup(true);
    let r = run(dir.path(), "bogus", &[]);
    assert_eq!(r.code, 1);
    assert!(r.out.starts_with("Usage: "));
    assert!(
        r.out
            .ends_with(" {start|stop|status|restart|reload|force-reload}\n")
    );
}

#[test]
fn standby_refuses_in_legacy_mode_and_when_not_running() {
    let dir = setup(true);
    let r = run(dir.path(), "standby", &[("STUB_S", "3")]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.out,
        "auto_failback: on\nHeartbeat is not currently running.\n"
    );
    std::fs::write(dir.path().join("ha.d/ha.cf"), "auto_failback legacy\n").unwrap();
    let r = run(dir.path(), "standby", &[]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (
            1,
            "auto_failback is set to legacy.  Cannot enter standby.\n"
        )
    );
    std::fs::write(dir.path().join("ha.d/ha.cf"), "Auto_Failback ON\n").unwrap();
    let hb_standby = dir.path().join("bin/hb_standby");
    common::write_exec(&hb_standby, "#!/bin/sh\nexit 0\n", 0o755);
    let r = run(dir.path(), "standby", &[("STUB_S", "0")]);
    assert_eq!(
        (r.code, r.out.as_str()),
        (
            0,
            "auto_failback: on\nAttempting to enter standby modeDone.\n"
        )
    );
    std::fs::write(dir.path().join("ha.d/ha.cf"), "keepalive 1\n").unwrap();
    let r = run(dir.path(), "standby", &[]);
    assert_eq!(
        r.out,
        "auto_failback defaulted to legacy.  Cannot enter standby.\n"
    );
}

#[test]
fn without_the_daemon_binary_the_script_does_nothing() {
    let dir = setup(true);
    std::fs::remove_file(dir.path().join("bin/heartbeat")).unwrap();
    let r = run(dir.path(), "start", &[]);
    assert_eq!((r.code, r.out.as_str()), (0, ""));
}
