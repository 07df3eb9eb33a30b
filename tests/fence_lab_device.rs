//! The lab fence devices (tests/fixtures/fence): `fence_netlab` (fence-agents stdin protocol)
//! and `external/netlab` (cluster-glue external plugin). Here `netlab` is a recorder script,
//! so nothing is crashed; the real lab use is documented in docs/fencing.md.

mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use heartbeat_rs::config::model::{FenceValue, NodeName};
use heartbeat_rs::sys::fence::{Fencer, Method, Outcome, Settings};
use heartbeat_rs::sys::spawn::{self, Exit, Spec};
use heartbeat_rs::time::{Duration, Instant};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fence")
        .join(rel)
}

/// A fake `netlab` that appends its arguments to `rec` and answers `status`.
fn fake_netlab(dir: &Path, rec: &Path) -> PathBuf {
    let p = dir.join("netlab");
    common::write_exec(
        &p,
        &format!(
            "#!/bin/sh\necho \"$*\" >> {}\n\
             [ \"$1\" = status ] && echo '  node2   CRASHED' && echo '  node3   running'\n\
             [ \"$2\" = node9 ] && exit 1\nexit 0\n",
            rec.display()
        ),
        0o755,
    );
    p
}

fn run_agent(
    dir: &Path,
    netlab: &Path,
    victim: &str,
    extra: &[(&str, &str)],
) -> (Outcome, Vec<String>) {
    let mut f = Fencer::new(Settings {
        work_dir: dir.to_path_buf(),
        timeout: Duration::from_secs(60),
        ..Settings::default()
    });
    let mut params = vec![
        (
            "netlab".to_string(),
            FenceValue::Plain(netlab.display().to_string()),
        ),
        ("nsenter".to_string(), FenceValue::Plain("no".into())),
    ];
    params.extend(
        extra
            .iter()
            .map(|(k, v)| (k.to_string(), FenceValue::Plain(v.to_string()))),
    );
    f.start(
        Instant::ZERO,
        &NodeName::new(victim),
        Method::Agent {
            program: fixture("fence_netlab"),
            params,
        },
    );
    for pid in f.pids() {
        waitid(
            Id::Pid(Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        )
        .unwrap();
    }
    let done = f.poll(Instant::ZERO).pop().unwrap();
    (done.outcome, done.log.into_iter().map(|(_, t)| t).collect())
}

#[test]
fn fence_netlab_crashes_the_victim() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("calls");
    let netlab = fake_netlab(dir.path(), &rec);
    let (outcome, log) = run_agent(dir.path(), &netlab, "node2", &[]);
    assert_eq!(outcome, Outcome::Reset, "{log:?}");
    assert!(
        log.contains(&"fence_netlab: Success: Rebooted".to_string()),
        "{log:?}"
    );
    let (outcome, _) = run_agent(dir.path(), &netlab, "node3", &[("action", "off")]);
    assert_eq!(outcome, Outcome::Reset);
    let (outcome, log) = run_agent(dir.path(), &netlab, "node9", &[]);
    assert_eq!(outcome, Outcome::Failed(Exit::Code(1)), "{log:?}");
    assert_eq!(
        std::fs::read_to_string(&rec).unwrap(),
        "crash node2\ncrash node3\ncrash node9\n"
    );
}

#[test]
fn fence_netlab_status_reads_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let netlab = fake_netlab(dir.path(), &dir.path().join("calls"));
    let (o, log) = run_agent(dir.path(), &netlab, "node2", &[("action", "status")]);
    assert_eq!(o, Outcome::Failed(Exit::Code(2)), "OFF is exit 2: {log:?}");
    let (o, _) = run_agent(dir.path(), &netlab, "node3", &[("action", "status")]);
    assert_eq!(o, Outcome::Reset, "ON is exit 0");
}

fn run_plugin(dir: &Path, netlab: &Path, args: &[&str]) -> (Exit, String) {
    let out = dir.join("plugin.out");
    let _ = std::fs::remove_file(&out);
    let pid = spawn::spawn(&Spec {
        program: fixture("external/netlab"),
        args: args.iter().map(|a| a.into()).collect(),
        env: vec![
            ("hostlist".into(), "node1, node2".into()),
            ("netlab".into(), netlab.display().to_string()),
            ("nsenter".into(), "no".into()),
        ],
        output: Some(out.clone()),
    })
    .unwrap();
    let exit = match waitpid(Pid::from_raw(pid), None).unwrap() {
        WaitStatus::Exited(_, c) => Exit::Code(c),
        other => panic!("{other:?}"),
    };
    (exit, std::fs::read_to_string(&out).unwrap_or_default())
}

#[test]
fn external_netlab_plugin_operations() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("calls");
    let netlab = fake_netlab(dir.path(), &rec);
    assert_eq!(
        run_plugin(dir.path(), &netlab, &["gethosts"]),
        (Exit::Code(0), "node1\nnode2\n".into())
    );
    assert_eq!(
        run_plugin(dir.path(), &netlab, &["getconfignames"]).1,
        "hostlist\n"
    );
    assert_eq!(
        run_plugin(dir.path(), &netlab, &["reset", "NODE2"]).0,
        Exit::Code(0)
    );
    // Not in hostlist: refused without calling netlab.
    assert_eq!(
        run_plugin(dir.path(), &netlab, &["reset", "node3"]).0,
        Exit::Code(1)
    );
    assert_eq!(
        run_plugin(dir.path(), &netlab, &["status"]).0,
        Exit::Code(0)
    );
    assert_eq!(std::fs::read_to_string(&rec).unwrap(), "crash NODE2\n");
    // cluster-glue refuses plugins writable by group/others.
    let mode = std::fs::metadata(fixture("external/netlab"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o022,
        0,
        "external/netlab must not be group/other writable"
    );
}
