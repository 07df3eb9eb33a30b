//! sys::script: resolution, invocation, environment, output routing, timeouts, with tiny
//! scripts in temporary directories.

mod common;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use heartbeat_rs::sys::script::{
    Context, Exit, MAX_STATUS_OUTPUT, Op, Outcome, Request, ScriptDirs, ScriptError,
};

/// `run_blocking`, retrying a spawn that failed with ETXTBSY: another test thread may fork
/// while this one still has a just-written script open (a test-harness race only).
fn run_blocking(c: &Context, r: &Request) -> Result<Outcome, ScriptError> {
    let mut tries = 0;
    loop {
        match heartbeat_rs::sys::script::run_blocking(c, r) {
            Err(ScriptError::Spawn { err, .. })
                if err.raw_os_error() == Some(nix::libc::ETXTBSY) && tries < 1000 =>
            {
                tries += 1;
                std::thread::yield_now();
            }
            other => return other,
        }
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dirs: ScriptDirs,
    ctx: Context,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
    let dirs = ScriptDirs {
        resource_dir: root.join("resource.d"),
        init_dir: root.join("init.d"),
    };
    fs::create_dir_all(&dirs.resource_dir).expect("mkdir");
    fs::create_dir_all(&dirs.init_dir).expect("mkdir");
    let ctx = Context {
        dirs: dirs.clone(),
        env: vec![("HA_CURHOST".into(), "node1".into())],
        debuglog: Some(root.join("ha-debug")),
        capture_dir: root.clone(),
    };
    Fixture {
        _tmp: tmp,
        root,
        dirs,
        ctx,
    }
}

fn write_script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    common::write_exec(&p, &format!("#!/bin/sh\n{body}\n"), mode);
    p
}

fn req(script: &str, args: &[&str], op: Op) -> Request {
    Request {
        script: script.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        op,
        timeout: None,
    }
}

#[test]
fn resource_dir_wins_over_init_dir_and_needs_an_executable_file() {
    let f = fixture();
    write_script(
        &f.dirs.resource_dir,
        "svc",
        "echo from-resource-d running",
        0o755,
    );
    write_script(&f.dirs.init_dir, "svc", "echo from-init-d", 0o755);
    let o = run_blocking(&f.ctx, &req("svc", &[], Op::Status)).expect("run");
    assert_eq!(
        String::from_utf8_lossy(&o.output),
        "from-resource-d running\n"
    );
    assert!(o.ok());

    // not executable in resource.d: init.d's is used
    write_script(&f.dirs.resource_dir, "lsb", "echo wrong", 0o644);
    write_script(&f.dirs.init_dir, "lsb", "echo lsb is running", 0o755);
    let o = run_blocking(&f.ctx, &req("lsb", &[], Op::Status)).expect("run");
    assert_eq!(String::from_utf8_lossy(&o.output), "lsb is running\n");

    // a directory is not a script
    fs::create_dir(f.dirs.resource_dir.join("dir")).expect("mkdir");
    assert_eq!(f.dirs.resolve("dir"), None);

    match run_blocking(&f.ctx, &req("absent", &[], Op::Start)) {
        Err(ScriptError::NotFound { script }) => assert_eq!(script, "absent"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn arguments_come_before_the_operation_and_stdin_is_empty() {
    let f = fixture();
    let out = f.root.join("argv");
    write_script(
        &f.dirs.resource_dir,
        "Filesystem",
        &format!(
            "printf '%s|' \"$@\" > {o}; cat >> {o}; echo END >> {o}",
            o = out.display()
        ),
        0o755,
    );
    let o = run_blocking(
        &f.ctx,
        &req(
            "Filesystem",
            &["server:/data1", "/data1", "nfs", "ro"],
            Op::Start,
        ),
    )
    .expect("run");
    assert_eq!(o.exit, Exit::Code(0));
    assert_eq!(
        fs::read_to_string(&out).expect("argv"),
        "server:/data1|/data1|nfs|ro|start|END\n"
    );
}

#[test]
fn the_ha_environment_reaches_the_script() {
    let mut f = fixture();
    f.ctx.env.push(("HA_ARP_REPEAT".into(), "3".into()));
    f.ctx
        .env
        .push(("HA_DATEFMT".into(), "%Y/%m/%d_%T\t".into()));
    let out = f.root.join("env");
    write_script(
        &f.dirs.resource_dir,
        "envdump",
        &format!("env > {}", out.display()),
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("envdump", &[], Op::Stop)).expect("run");
    assert!(o.ok());
    let text = fs::read_to_string(&out).expect("env");
    assert!(text.contains("HA_CURHOST=node1\n"));
    assert!(text.contains("HA_DATEFMT=%Y/%m/%d_%T\t\n"));
    assert!(text.contains("HA_ARP_REPEAT=3\n"));
}

#[test]
fn start_and_stop_output_is_appended_to_the_debug_log() {
    let f = fixture();
    let dbg = f.root.join("ha-debug");
    fs::write(&dbg, "earlier line\n").expect("seed");
    write_script(
        &f.dirs.resource_dir,
        "chatty",
        "echo \"out $1\"; echo \"err $1\" >&2; exit 3",
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("chatty", &[], Op::Start)).expect("run");
    assert_eq!(o.exit, Exit::Code(3));
    assert!(!o.ok());
    assert!(o.output.is_empty());
    let o = run_blocking(&f.ctx, &req("chatty", &[], Op::Stop)).expect("run");
    assert_eq!(o.exit, Exit::Code(3));
    assert_eq!(
        fs::read_to_string(&dbg).expect("debug log"),
        "earlier line\nout start\nerr start\nout stop\nerr stop\n"
    );
}

#[test]
fn status_ignores_the_exit_code_and_reads_stdout_only() {
    let f = fixture();
    write_script(
        &f.dirs.resource_dir,
        "odd",
        "echo 'INFO:  Running OK'; echo 'not running' >&2; exit 7",
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("odd", &[], Op::Status)).expect("run");
    assert_eq!(o.exit, Exit::Code(7));
    assert!(
        o.ok(),
        "stdout says running; stderr and exit code do not count"
    );
    write_script(
        &f.dirs.resource_dir,
        "lsb",
        "echo 'svc is not running'",
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("lsb", &[], Op::Status)).expect("run");
    assert_eq!(o.exit, Exit::Code(0));
    assert!(!o.ok());
}

#[test]
fn huge_status_output_neither_blocks_nor_grows_without_bound() {
    let f = fixture();
    // 300 KB, far more than a pipe buffer; "running" at the very start.
    write_script(
        &f.dirs.resource_dir,
        "flood",
        "echo running; i=0; while [ $i -lt 3000 ]; do printf '%0100d\\n' 0; i=$((i+1)); done",
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("flood", &[], Op::Status)).expect("run");
    assert_eq!(o.exit, Exit::Code(0));
    assert_eq!(o.output.len(), MAX_STATUS_OUTPUT);
    assert!(o.ok());
}

fn process_gone(pid: i32) -> bool {
    // Gone or a zombie waiting for init: either way it no longer runs.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

#[allow(clippy::disallowed_methods)] // a bounded wait in a test, not synchronisation by sleeping
fn wait_gone(pid: i32) -> bool {
    // Bounded wait for the kernel to finish a SIGKILL already sent.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if process_gone(pid) {
            return true;
        }
        std::thread::yield_now();
    }
    process_gone(pid)
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let f = fixture();
    let pidfile = f.root.join("bg.pid");
    write_script(
        &f.dirs.resource_dir,
        "hang",
        &format!(
            "sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > {}; sleep 1000",
            pidfile.display()
        ),
        0o755,
    );
    let mut r = req("hang", &[], Op::Start);
    r.timeout = Some(Duration::from_millis(300));
    let o = run_blocking(&f.ctx, &r).expect("run");
    assert_eq!(o.exit, Exit::TimedOut);
    assert!(!o.ok());
    let bg: i32 = fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .parse()
        .expect("pid");
    assert!(
        wait_gone(bg),
        "background child {bg} of the script survived"
    );
}

#[test]
fn a_background_child_holding_stdout_does_not_delay_the_status() {
    let f = fixture();
    let pidfile = f.root.join("bg.pid");
    // The grandchild keeps the status pipe open for 1000 s; the result must not wait.
    write_script(
        &f.dirs.resource_dir,
        "bg",
        &format!(
            "sleep 1000 & echo $! > {}; echo 'Running OK'",
            pidfile.display()
        ),
        0o755,
    );
    let o = run_blocking(&f.ctx, &req("bg", &[], Op::Status)).expect("run");
    assert!(o.ok());
    let bg: i32 = fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .parse()
        .expect("pid");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bg),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn a_script_killed_by_a_signal_is_a_failure() {
    let f = fixture();
    write_script(&f.dirs.resource_dir, "suicide", "kill -TERM $$", 0o755);
    let o = run_blocking(&f.ctx, &req("suicide", &[], Op::Start)).expect("run");
    assert_eq!(o.exit, Exit::Signal(15));
    assert!(!o.ok());
}
