//! The fencing edge (src/sys/fence.rs) against harmless stand-ins: cluster-glue's `null`
//! plugin, fake `stonith` commands and fence agents written per test (recording their
//! arguments and stdin), and meatware FIFOs in a temp dir. Time is virtual (`now` is passed
//! in); a child's end is awaited with `waitid(WNOWAIT)`, which leaves the reaping to the
//! fencer, so no test sleeps.

mod common;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use heartbeat_rs::config::model::{FenceValue, NodeName, Secret};
use heartbeat_rs::sys::fence::{
    self, Fencer, Finished, Method, Outcome, Settings, StonithParams, text,
};
use heartbeat_rs::sys::log::Level;
use heartbeat_rs::sys::spawn::Exit;
use heartbeat_rs::time::{Duration, Instant};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

struct Lab {
    dir: tempfile::TempDir,
    fencer: Fencer,
}

impl Lab {
    fn new() -> Lab {
        Lab::with(|_| {})
    }

    fn with(tune: impl FnOnce(&mut Settings)) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings {
            stonith_command: dir.path().join("stonith"),
            agent_dir: dir.path().to_path_buf(),
            meatware_dir: dir.path().join("run"),
            work_dir: dir.path().join("work"),
            timeout: Duration::from_secs(10),
            meatware_timeout: Duration::from_secs(600),
        };
        std::fs::create_dir(&s.meatware_dir).unwrap();
        std::fs::create_dir(&s.work_dir).unwrap();
        tune(&mut s);
        Lab {
            dir,
            fencer: Fencer::new(s),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An executable shell script `name` in the temp dir.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        common::write_exec(&p, &format!("#!/bin/sh\n{body}\n"), 0o755);
        p
    }

    /// Blocks until every running device has exited (not reaped), then polls.
    fn finish(&mut self, now: Instant) -> Vec<Finished> {
        for pid in self.fencer.pids() {
            waitid(
                Id::Pid(Pid::from_raw(pid)),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
            )
            .unwrap();
        }
        self.fencer.poll(now)
    }
}

fn node(n: &str) -> NodeName {
    NodeName::new(n)
}

fn texts(log: &[(Level, String)]) -> Vec<String> {
    log.iter()
        .map(|(l, t)| format!("{}: {t}", l.word()))
        .collect()
}

fn positional(ty: &str, p: &str) -> Method {
    Method::Stonith {
        device_type: ty.into(),
        params: StonithParams::Positional(p.into()),
    }
}

const T0: Instant = Instant::ZERO;

#[test]
fn null_plugin_through_the_real_stonith_command() {
    let real = Path::new("/usr/sbin/stonith");
    if !real.exists() {
        eprintln!("cluster-glue not installed: skipped");
        return;
    }
    let mut lab = Lab::with(|s| s.stonith_command = real.into());
    let log = lab
        .fencer
        .start(T0, &node("node2"), positional("null", "node1 node2"));
    assert!(
        log.is_empty(),
        "the core logs `Resetting node ...`: {log:?}"
    );
    let done = lab.finish(T0);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].node, node("node2"));
    assert_eq!(done[0].outcome, Outcome::Reset, "{:?}", done[0].log);
    assert!(done[0].outcome.ok());
    // cluster-glue logs through the cluster log when stdin is no tty; nothing of ours.
    assert!(done[0].log.is_empty(), "{:?}", done[0].log);
    assert!(!lab.fencer.busy(&node("node2")));
}

#[test]
fn stonith_command_line_positional_and_file_forms() {
    let mut lab = Lab::new();
    let rec = lab.path("args");
    lab.script(
        "stonith",
        &format!(
            "for a in \"$@\"; do printf '%s|' \"$a\" >> {r}; done; echo >> {r}\n\
             [ -t 0 ] && echo tty >> {r}; echo plugin says hello",
            r = rec.display()
        ),
    );
    lab.fencer.start(
        T0,
        &node("node2"),
        positional("external/ssh", "node1 node2 extra words"),
    );
    let done = lab.finish(T0);
    assert_eq!(done[0].outcome, Outcome::Reset);
    // The device's output is logged at info, prefixed with the device.
    assert!(
        texts(&done[0].log).contains(&"info: external/ssh: plugin says hello".to_string()),
        "{:?}",
        done[0].log
    );
    lab.fencer.start(
        T0,
        &node("node3"),
        Method::Stonith {
            device_type: "apcsmart".into(),
            params: StonithParams::File("/etc/ha.d/apc.cfg".into()),
        },
    );
    lab.finish(T0);
    let args = std::fs::read_to_string(&rec).unwrap();
    assert_eq!(
        args,
        "-t|external/ssh|-p|node1 node2 extra words|-T|reset|node2|\n\
         -t|apcsmart|-F|/etc/ha.d/apc.cfg|-T|reset|node3|\n"
    );
}

#[test]
fn stonith_exit_codes_map_to_outcomes_and_heartbeat_texts() {
    for (code, outcome, last) in [
        (
            4,
            Outcome::BadHost,
            "ERROR: Device null cannot reset host node2.",
        ),
        (
            5,
            Outcome::Failed(Exit::Code(5)),
            "ERROR: Host node2 not reset!",
        ),
        (
            1,
            Outcome::Failed(Exit::Code(1)),
            "ERROR: Host node2 not reset!",
        ),
    ] {
        let mut lab = Lab::new();
        lab.script("stonith", &format!("exit {code}"));
        lab.fencer
            .start(T0, &node("node2"), positional("null", "node2"));
        let done = lab.finish(T0);
        assert_eq!(done[0].outcome, outcome);
        assert!(!done[0].outcome.ok());
        assert_eq!(texts(&done[0].log).last().unwrap(), last);
    }
}

#[test]
fn a_hung_device_is_killed_at_its_deadline() {
    let mut lab = Lab::with(|s| s.timeout = Duration::from_secs(30));
    lab.script("stonith", "exec sleep 600");
    lab.fencer
        .start(T0, &node("node2"), positional("null", "node2"));
    assert_eq!(
        lab.fencer.next_deadline(),
        Some(Instant::from_micros(30_000_000))
    );
    assert!(lab.fencer.poll(Instant::from_micros(29_999_999)).is_empty());
    assert!(lab.fencer.busy(&node("node2")));
    let done = lab.fencer.poll(Instant::from_micros(30_000_000));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::TimedOut);
    let t = texts(&done[0].log);
    assert_eq!(t.last().unwrap(), "ERROR: Host node2 not reset!");
    assert!(t.iter().any(|l| l.contains("did not finish within 30 s")));
    assert!(lab.fencer.pids().is_empty());
    assert_eq!(lab.fencer.next_deadline(), None);
}

#[test]
fn missing_program_fails_at_the_next_poll() {
    let mut lab = Lab::new(); // no stonith script written
    let log = lab
        .fencer
        .start(T0, &node("node2"), positional("null", "node2"));
    assert!(log.is_empty());
    let done = lab.fencer.poll(T0);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::NotStarted);
    assert_eq!(
        texts(&done[0].log).last().unwrap(),
        "ERROR: Host node2 not reset!"
    );
}

#[test]
fn one_attempt_per_node() {
    let mut lab = Lab::new();
    let count = lab.path("count");
    lab.script("stonith", &format!("echo run >> {}", count.display()));
    let first = lab
        .fencer
        .start(T0, &node("node2"), positional("null", "node2"));
    let second = lab
        .fencer
        .start(T0, &node("node2"), positional("null", "node2"));
    assert!(first.is_empty() && second.is_empty());
    assert!(lab.fencer.busy(&node("node2")));
    assert_eq!(lab.fencer.pids().len(), 1);
    assert_eq!(lab.finish(T0).len(), 1);
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "run\n");
}

fn agent(program: &Path, params: &[(&str, &str)]) -> Method {
    Method::Agent {
        program: program.into(),
        params: params
            .iter()
            .map(|(k, v)| {
                let v = if FenceValue::SECRET_KEYS.contains(k) {
                    FenceValue::Secret(Secret::new(v.as_bytes()))
                } else {
                    FenceValue::Plain(v.to_string())
                };
                (k.to_string(), v)
            })
            .collect(),
    }
}

#[test]
fn fence_agent_gets_its_parameters_on_stdin_and_no_arguments() {
    let mut lab = Lab::new();
    let rec = lab.path("stdin");
    let prog = lab.script(
        "fence_fake",
        &format!(
            "echo \"argc=$#\" > {r}; cat >> {r}; \
             echo 'Success: Rebooted (password was s3cr3t!)'",
            r = rec.display()
        ),
    );
    let m = agent(
        &prog,
        &[
            ("ipaddr", "10.0.0.9"),
            ("login", "admin"),
            ("passwd", "s3cr3t!"),
        ],
    );
    assert!(!format!("{m:?}").contains("s3cr3t"), "{m:?}");
    let log = lab.fencer.start(T0, &node("node2"), m);
    assert!(log.is_empty());
    let done = lab.finish(T0);
    assert_eq!(done[0].outcome, Outcome::Reset);
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "argc=0\naction=reboot\nport=node2\nipaddr=10.0.0.9\nlogin=admin\npasswd=s3cr3t!\n"
    );
    let all = format!("{:?}", done[0]);
    assert!(!all.contains("s3cr3t"), "secret leaked into the log: {all}");
    assert!(all.contains("password was <redacted>"), "{all}");
}

#[test]
fn fence_agent_configured_action_and_port_win_and_bare_names_use_agent_dir() {
    let mut lab = Lab::new();
    let rec = lab.path("stdin");
    lab.script("fence_lab", &format!("cat > {}; exit 0", rec.display()));
    let m = agent(
        Path::new("fence_lab"),
        &[("action", "off"), ("port", "vm-node2")],
    );
    lab.fencer.start(T0, &node("node2"), m);
    assert_eq!(lab.finish(T0)[0].outcome, Outcome::Reset);
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "action=off\nport=vm-node2\n"
    );
}

#[test]
fn fence_agent_failures() {
    let mut lab = Lab::new();
    let prog = lab.script(
        "fence_bad",
        "cat >/dev/null; echo 'Failed: Unable to obtain correct plug status' >&2; exit 8",
    );
    lab.fencer.start(T0, &node("node2"), agent(&prog, &[]));
    let done = lab.finish(T0);
    assert_eq!(done[0].outcome, Outcome::Failed(Exit::Code(8)));
    let t = texts(&done[0].log);
    assert!(
        t.contains(&"info: fence_bad: Failed: Unable to obtain correct plug status".into()),
        "{t:?}"
    );
    assert!(
        t.contains(&"ERROR: fence_bad failed: exit status 8".into()),
        "{t:?}"
    );
    // An agent that exits before reading its stdin is just a failure (no SIGPIPE death).
    let prog = lab.script("fence_early", "exit 3");
    lab.fencer
        .start(T0, &node("node3"), agent(&prog, &[("passwd", "x")]));
    assert_eq!(lab.finish(T0)[0].outcome, Outcome::Failed(Exit::Code(3)));
}

#[test]
fn meatware_waits_for_the_operator() {
    let mut lab = Lab::new();
    let log = lab.fencer.start(T0, &node("node2"), Method::Meatware);
    assert_eq!(
        texts(&log),
        [
            "CRIT: OPERATOR INTERVENTION REQUIRED to reset node2.",
            "CRIT: Run \"meatclient -c node2\" AFTER power-cycling the machine.",
        ]
    );
    let fifo = lab.path("run/meatware.node2");
    let meta = std::fs::metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(lab.fencer.meat_fds().len(), 1);
    // A repeated request while one is pending neither recreates the FIFO nor repeats.
    assert!(
        lab.fencer
            .start(T0, &node("node2"), Method::Meatware)
            .is_empty()
    );
    // Nothing yet, however often polled.
    assert!(lab.fencer.poll(Instant::from_micros(1)).is_empty());
    assert!(lab.fencer.poll(Instant::from_micros(2)).is_empty());
    // No acknowledgement for another node.
    assert!(fence::acknowledge(&lab.path("run"), "node3").is_err());
    fence::acknowledge(&lab.path("run"), "node2").unwrap();
    let done = lab.fencer.poll(Instant::from_micros(3));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::Reset);
    assert_eq!(texts(&done[0].log), ["info: node Meatware-reset: node2"]);
    assert!(!fifo.exists(), "FIFO removed after the reply");
}

#[test]
fn meatware_accepts_a_plain_echo_and_rejects_garbage() {
    let mut lab = Lab::new();
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    std::fs::write(lab.path("run/meatware.node2"), "meatware reply NODE2\n").unwrap();
    assert_eq!(lab.fencer.poll(T0)[0].outcome, Outcome::Reset);

    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    std::fs::write(lab.path("run/meatware.node2"), "yes it is down\n").unwrap();
    let done = lab.fencer.poll(T0);
    assert_eq!(done[0].outcome, Outcome::BadReply);
    assert_eq!(
        texts(&done[0].log),
        [
            "ERROR: Format error - failed to Meatware-reset node node2",
            "ERROR: Host node2 not reset!"
        ]
    );
}

#[test]
fn meatware_request_expires_and_can_be_renewed() {
    let mut lab = Lab::with(|s| s.meatware_timeout = Duration::from_secs(600));
    // A stale FIFO (or file) from an earlier run is replaced.
    std::fs::write(lab.path("run/meatware.node2"), "stale").unwrap();
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    let done = lab.fencer.poll(Instant::from_micros(600_000_000));
    assert_eq!(done[0].outcome, Outcome::TimedOut);
    assert_eq!(
        texts(&done[0].log),
        [
            "ERROR: read error on FIFO for Meatware_reset_host",
            "ERROR: Host node2 not reset!"
        ]
    );
    assert!(!lab.path("run/meatware.node2").exists());
    // The core retries: a new request, a new FIFO.
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    assert!(lab.path("run/meatware.node2").exists());
    lab.fencer.cancel_all();
    assert!(!lab.path("run/meatware.node2").exists());
}

#[test]
fn meat_reply_parsing() {
    let n = node("node2");
    assert_eq!(
        fence::parse_meat_reply("meatware reply node2", &n),
        Outcome::Reset
    );
    assert_eq!(
        fence::parse_meat_reply("  meatware reply Node2 ", &n),
        Outcome::Reset
    );
    assert_eq!(
        fence::parse_meat_reply("meatware reply node", &n),
        Outcome::BadReply
    );
    assert_eq!(
        fence::parse_meat_reply("meatware reply", &n),
        Outcome::BadReply
    );
    assert_eq!(
        fence::parse_meat_reply("meatware reply node2 x", &n),
        Outcome::BadReply
    );
    assert_eq!(fence::parse_meat_reply("", &n), Outcome::BadReply);
}

#[test]
fn heartbeat_texts() {
    assert_eq!(
        text::retrying("node2"),
        "STONITH of node2 failed.  Retrying..."
    );
    assert_eq!(
        text::resetting("node2", "Meatware STONITH device"),
        "Resetting node node2 with [Meatware STONITH device]"
    );
}

fn meatclient(args: &[&str], answer: &str) -> (i32, String) {
    let mut err = Vec::new();
    let rc = fence::meatclient_main(
        args.iter().map(|a| a.into()),
        &mut answer.as_bytes(),
        &mut err,
    );
    (rc, String::from_utf8(err).unwrap())
}

#[test]
fn our_meatclient_confirms_cancels_and_reports_no_request() {
    let mut lab = Lab::new();
    let dir = lab.path("run");
    let d = dir.to_str().unwrap();
    let (rc, err) = meatclient(&["-c", "node2", "-d", d], "y\n");
    assert_eq!(rc, 4);
    assert_eq!(
        err,
        format!("Meatware_IPC failed: {d}/meatware.node2: No such file or directory\n")
    );
    assert_eq!(meatclient(&[], "").0, 3);
    assert_eq!(
        meatclient(&["-x"], "").1,
        "usage: meatclient -c node [-w]\n"
    );

    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    let (rc, err) = meatclient(&["-c", "node2", "-d", d], "n\n");
    assert_eq!(rc, 3);
    assert!(err.contains("PROCEED? [yN] "), "{err}");
    assert!(
        err.ends_with("Meatware_client: operation canceled.\n"),
        "{err}"
    );
    assert!(lab.fencer.poll(T0).is_empty(), "a cancel confirms nothing");

    let (rc, err) = meatclient(&["-c", "node2", "-d", d], "yes\n");
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("If node \"node2\" has not been manually power-cycled"));
    assert!(
        err.ends_with("Meatware_client: reset confirmed.\n"),
        "{err}"
    );
    let done = lab.fencer.poll(T0);
    assert_eq!(done[0].outcome, Outcome::Reset);
}

/// cluster-glue's own `meatclient` releases our in-process meatware request. Needs root and
/// writes `/run/meatware.hbrs-selftest-PID`: run by hand with `--ignored`.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)]
fn cluster_glue_meatclient_confirms_our_request() {
    use std::io::Write;
    let name = format!("hbrs-selftest-{}", std::process::id());
    let mut lab = Lab::with(|s| s.meatware_dir = fence::MEATWARE_DIR.into());
    lab.fencer.start(T0, &node(&name), Method::Meatware);
    let mut child = std::process::Command::new("/usr/sbin/meatclient")
        .args(["-c", &name])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    assert!(child.wait().unwrap().success());
    let done = lab.fencer.poll(T0);
    assert_eq!(done[0].outcome, Outcome::Reset, "{:?}", done[0].log);
}

#[test]
fn an_agent_writable_by_others_is_refused() {
    let mut lab = Lab::new();
    let ran = lab.path("ran");
    let prog = lab.script("fence_open", &format!("touch {}", ran.display()));
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o757)).unwrap();
    lab.fencer.start(T0, &node("node2"), agent(&prog, &[]));
    let done = lab.fencer.poll(T0);
    assert_eq!(done[0].outcome, Outcome::NotStarted);
    let t = texts(&done[0].log);
    assert!(
        t[0].contains("found to be writable by group/others, NOT executing"),
        "{t:?}"
    );
    assert!(!ran.exists());
}

#[test]
fn pending_attempts_for_status() {
    let mut lab = Lab::with(|s| s.meatware_timeout = Duration::from_secs(600));
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    let p = lab.fencer.pending();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].node, node("node2"));
    assert_eq!(p[0].device, "Meatware STONITH device");
    assert!(p[0].needs_operator);
    assert_eq!(p[0].deadline, Instant::from_micros(600_000_000));
    lab.fencer.cancel_all();
    assert!(lab.fencer.pending().is_empty());
}

/// Blocks until the probe's child has exited (not reaped).
fn wait_probe(lab: &Lab) {
    if let Some(pid) = lab.fencer.probe_pid() {
        waitid(
            Id::Pid(Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        )
        .unwrap();
    }
}

#[test]
fn status_probe_of_a_stonith_device() {
    let mut lab = Lab::new();
    let rec = lab.path("args");
    lab.script(
        "stonith",
        &format!("echo \"$*\" > {}; exit 0", rec.display()),
    );
    let log = lab
        .fencer
        .probe(T0, positional("external/ipmi", "node2 10.0.0.9"));
    assert_eq!(
        texts(&log),
        ["info: Checking status of STONITH device [external/ipmi]".to_string()]
    );
    assert!(
        lab.fencer.probe(T0, Method::Meatware).is_empty(),
        "one at a time"
    );
    wait_probe(&lab);
    let (ok, log) = lab.fencer.poll_probe(T0).unwrap();
    assert!(ok, "{log:?}");
    assert!(log.is_empty());
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "-t external/ipmi -p node2 10.0.0.9 -S\n"
    );
    assert!(lab.fencer.poll_probe(T0).is_none(), "reported once");

    lab.script("stonith", "exit 1");
    lab.fencer.probe(T0, positional("null", "node2"));
    wait_probe(&lab);
    let (ok, log) = lab.fencer.poll_probe(T0).unwrap();
    assert!(!ok);
    assert_eq!(
        texts(&log),
        [
            "ERROR: STONITH device null not operational!",
            "ERROR: STONITH status operation failed.",
            "info: This may mean that the STONITH device has failed!",
        ]
    );
}

#[test]
fn status_probe_of_an_agent_and_of_meatware() {
    let mut lab = Lab::with(|s| s.timeout = Duration::from_secs(5));
    let rec = lab.path("stdin");
    let prog = lab.script("fence_fake", &format!("cat > {}", rec.display()));
    lab.fencer.probe(
        T0,
        agent(
            &prog,
            &[
                ("action", "off"),
                ("ipaddr", "h"),
                ("port", "vm2"),
                ("passwd", "pw"),
            ],
        ),
    );
    wait_probe(&lab);
    assert!(lab.fencer.poll_probe(T0).unwrap().0);
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "action=monitor\nipaddr=h\npasswd=pw\n"
    );
    // Meatware: nothing to run, operational.
    lab.fencer.probe(T0, Method::Meatware);
    assert_eq!(lab.fencer.poll_probe(T0), Some((true, Vec::new())));
    // A hung probe is killed at its deadline.
    lab.script("stonith", "exec sleep 600");
    lab.fencer.probe(T0, positional("null", "node2"));
    assert!(
        lab.fencer
            .poll_probe(Instant::from_micros(4_999_999))
            .is_none()
    );
    let (ok, _) = lab
        .fencer
        .poll_probe(Instant::from_micros(5_000_000))
        .unwrap();
    assert!(!ok);
    assert_eq!(lab.fencer.probe_pid(), None);
}

#[test]
fn node_names_never_escape_the_directories() {
    let mut lab = Lab::new();
    lab.fencer.start(T0, &node("../evil"), Method::Meatware);
    let done = lab.fencer.poll(T0);
    assert_eq!(done[0].outcome, Outcome::NotStarted);
    assert!(!lab.path("evil").exists());
    assert!(std::fs::read_dir(lab.path("run")).unwrap().next().is_none());
}

#[test]
fn meatware_bounds_a_reply_without_terminator() {
    let mut lab = Lab::new();
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    std::fs::write(lab.path("run/meatware.node2"), "x".repeat(300)).unwrap();
    assert_eq!(lab.fencer.poll(T0)[0].outcome, Outcome::BadReply);
    // A partial reply waits for the rest.
    lab.fencer.start(T0, &node("node2"), Method::Meatware);
    std::fs::write(lab.path("run/meatware.node2"), "meatware re").unwrap();
    assert!(lab.fencer.poll(T0).is_empty());
    std::fs::write(lab.path("run/meatware.node2"), "ply node2\n").unwrap();
    assert_eq!(lab.fencer.poll(T0)[0].outcome, Outcome::Reset);
}
