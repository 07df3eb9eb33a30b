//! Process life of the daemon (behaviour spec §8.1): daemonising unless `-f`, realtime
//! (`mlockall` + SCHED_FIFO, disabled by `-l` or `realtime off`), the core-dump directory,
//! and the `HA_*` environment heartbeat gives its children.

// fork(2) and sched_setscheduler(2) are unsafe / unwrapped in nix.
#![allow(unsafe_code)]

use std::io;
use std::path::Path;

use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, chdir, fork, setsid};

use crate::config::{Config, Facility, NodeName};
use crate::sys::log::Level;

/// Where heartbeat's daemon runs (and dumps core): `/var/lib/heartbeat/cores/root`.
pub const CORES_DIR: &str = "/var/lib/heartbeat/cores/root";

/// Which side of the fork we are on.
#[derive(Debug, PartialEq, Eq)]
pub enum Forked {
    /// The invoking process: heartbeat exits 0 right away.
    Parent { child: i32 },
    /// The daemon.
    Daemon,
}

/// Forks; in the child becomes a session leader, sets umask 022, changes to `workdir`
/// (falling back to `/`) and points stdin/stdout/stderr at `/dev/null`.
///
/// Call it before any thread is started: after `fork` only the calling thread exists.
pub fn daemonize(workdir: &Path) -> io::Result<Forked> {
    // SAFETY: the daemon is single-threaded when it daemonises (documented precondition),
    // so the child does not inherit locks held by other threads.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(Forked::Parent {
            child: child.as_raw(),
        }),
        ForkResult::Child => {
            setsid()?;
            nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
            if chdir(workdir).is_err() {
                chdir("/")?;
            }
            let null = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?;
            nix::unistd::dup2_stdin(&null)?;
            nix::unistd::dup2_stdout(&null)?;
            nix::unistd::dup2_stderr(&null)?;
            Ok(Forked::Daemon)
        }
    }
}

/// Creates `/var/lib/heartbeat/cores/{root,nobody,hacluster}` (0700) under `state_dir`.
pub fn make_cores_dirs(state_dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    for sub in ["root", "nobody", "hacluster"] {
        let dir = state_dir.join("cores").join(sub);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Where resource scripts keep scratch state; emptied at every daemon start.
pub const RSCTMP: &str = "/run/heartbeat/rsctmp";

/// Removes `dir` recursively and creates it again, mode 1755 (heartbeat asks for 1777 and
/// gets 1755 from its umask 022). Returns heartbeat's info line when removal failed
/// (`Removing DIR failed, recreating.`).
pub fn reset_rsctmp(dir: &Path) -> io::Result<Option<String>> {
    use std::os::unix::fs::PermissionsExt;
    let note = match std::fs::remove_dir_all(dir) {
        Ok(()) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(_) => Some(format!("Removing {} failed, recreating.", dir.display())),
    };
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1755))?;
    Ok(note)
}

/// `coredumps true`: allow core files of any size (into the cores directory, our cwd).
pub fn enable_coredumps() -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `lim` is a live rlimit for the duration of the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &lim) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The start-up warnings heartbeat logs about the kernel's core dump settings, from the
/// contents of `/proc/sys/kernel/core_pattern` and `core_uses_pid` (texts from the 3.0.6
/// logs; which combination yields which line is inferred: all three on a default kernel).
pub fn coredump_warnings(core_pattern: &str, core_uses_pid: &str) -> Vec<&'static str> {
    let pattern = core_pattern.trim();
    if core_uses_pid.trim() == "1" || pattern.contains("%p") {
        return Vec::new();
    }
    let mut out = vec!["Core dumps could be lost if multiple dumps occur."];
    if pattern == "core" || pattern.is_empty() {
        out.push(
            "Consider setting non-default value in /proc/sys/kernel/core_pattern (or equivalent) for maximum supportability",
        );
    }
    out.push(
        "Consider setting /proc/sys/kernel/core_uses_pid (or equivalent) to 1 for maximum supportability",
    );
    out
}

/// Whether to go realtime: `realtime` in ha.cf (default on) and no `-l`.
pub fn realtime_wanted(config_realtime: bool, flag_l: bool) -> bool {
    config_realtime && !flag_l
}

/// The SCHED_FIFO priority: `rtprio` if set, else halfway between the system's min and max.
pub fn rt_priority(rtprio: Option<u8>) -> i32 {
    if let Some(p) = rtprio {
        return i32::from(p);
    }
    // SAFETY: plain queries without pointers.
    let (min, max) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    if min < 0 || max < min {
        return 1;
    }
    (min + max) / 2
}

/// Locks memory and switches to SCHED_FIFO at `priority`. Failures are not fatal (heartbeat
/// logs them and runs on); the lines to log are returned.
///
/// SCHED_RESET_ON_FORK makes every child (resource scripts) start with normal scheduling,
/// as heartbeat's children reset themselves; memory locks are never inherited.
pub fn make_realtime(priority: i32) -> Vec<(Level, String)> {
    let mut out = Vec::new();
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a live sched_param for the duration of the call; pid 0 = us.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    // Texts as in cluster-glue's realtime support (its string table); heartbeat logs no
    // errno with them.
    if rc != 0 {
        out.push((
            Level::Error,
            "Unable to set scheduler parameters.".to_owned(),
        ));
    }
    if mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).is_err() {
        out.push((
            Level::Error,
            "Cannot lock ourselves into memory:  System limits on locked-in memory are too small."
                .to_owned(),
        ));
    }
    out
}

/// syslog facility name as ha.cf spells it.
pub fn facility_name(f: Facility) -> &'static str {
    match f {
        Facility::Auth => "auth",
        Facility::Authpriv => "authpriv",
        Facility::Cron => "cron",
        Facility::Daemon => "daemon",
        Facility::Ftp => "ftp",
        Facility::Kern => "kern",
        Facility::Lpr => "lpr",
        Facility::Mail => "mail",
        Facility::News => "news",
        Facility::Security => "security",
        Facility::Syslog => "syslog",
        Facility::User => "user",
        Facility::Uucp => "uucp",
        Facility::Local0 => "local0",
        Facility::Local1 => "local1",
        Facility::Local2 => "local2",
        Facility::Local3 => "local3",
        Facility::Local4 => "local4",
        Facility::Local5 => "local5",
        Facility::Local6 => "local6",
        Facility::Local7 => "local7",
    }
}

/// The environment every script gets (§4.4, §9.1), except the per-message `HA_<field>`,
/// `HA_OSTATUS` and `HA_DONTASK`, which the spawner adds per job.
pub fn script_env(cfg: &Config, me: &NodeName, debug: u8) -> Vec<(String, String)> {
    let dir = cfg.dir.display().to_string();
    let mut env = vec![
        ("HA_DIR".to_owned(), dir.clone()),
        ("HA_FUNCS".to_owned(), format!("{dir}/shellfuncs")),
        ("HA_DATEFMT".to_owned(), "%Y/%m/%d_%T\t".to_owned()),
        ("OCF_ROOT".to_owned(), "/usr/lib/ocf".to_owned()),
        ("HA_CURHOST".to_owned(), me.as_str().to_owned()),
        (
            "HA_LOGD".to_owned(),
            if cfg.logging.use_logd { "yes" } else { "no" }.to_owned(),
        ),
        (
            "HA_LOGFILE".to_owned(),
            cfg.logging
                .logfile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "HA_DEBUGLOG".to_owned(),
            cfg.logging
                .debugfile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ];
    // As written in ha.cf (including `none`); unset without a logfacility line.
    let facility = cfg
        .parameters
        .get("logfacility")
        .cloned()
        .or_else(|| cfg.logging.facility.map(|f| facility_name(f).to_owned()));
    if let Some(f) = facility {
        env.push(("HA_LOGFACILITY".to_owned(), f));
    }
    if !matches!(cfg.auto_failback, crate::config::AutoFailback::Legacy) {
        env.push(("HA_NICEFAILBACK".to_owned(), "yes".to_owned()));
    }
    if debug > 0 {
        env.push(("HA_debug".to_owned(), debug.to_string()));
    }
    for (k, v) in &cfg.env {
        env.push((format!("HA_{k}"), v.clone()));
    }
    env
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // re-runs the test binary as a throw-away daemon
mod tests {
    use super::*;

    #[test]
    fn realtime_off_or_dash_l_disable_it() {
        assert!(realtime_wanted(true, false));
        assert!(!realtime_wanted(false, false));
        assert!(!realtime_wanted(true, true));
    }

    #[test]
    fn rsctmp_is_emptied_and_recreated_sticky() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let rsc = dir.path().join("rsctmp");
        assert_eq!(reset_rsctmp(&rsc).unwrap(), None);
        std::fs::create_dir_all(rsc.join("sub")).unwrap();
        std::fs::write(rsc.join("sub/state"), "x").unwrap();
        assert_eq!(reset_rsctmp(&rsc).unwrap(), None);
        assert_eq!(std::fs::read_dir(&rsc).unwrap().count(), 0);
        let mode = std::fs::metadata(&rsc).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o1755);
    }

    #[test]
    fn coredump_warnings_match_the_fixture_start() {
        assert_eq!(
            coredump_warnings("core\n", "0\n"),
            [
                "Core dumps could be lost if multiple dumps occur.",
                "Consider setting non-default value in /proc/sys/kernel/core_pattern (or equivalent) for maximum supportability",
                "Consider setting /proc/sys/kernel/core_uses_pid (or equivalent) to 1 for maximum supportability",
            ]
        );
        assert!(coredump_warnings("core", "1").is_empty());
        assert!(coredump_warnings("/var/crash/core.%e.%p", "0").is_empty());
        assert_eq!(
            coredump_warnings("|/usr/lib/systemd/coredump %P", "0").len(),
            2
        );
    }

    #[test]
    fn default_priority_is_halfway() {
        assert_eq!(rt_priority(Some(10)), 10);
        assert_eq!(rt_priority(None), 50, "Linux SCHED_FIFO is 1..=99");
    }

    #[test]
    fn cores_dirs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        make_cores_dirs(dir.path()).unwrap();
        make_cores_dirs(dir.path()).unwrap();
        for sub in ["root", "nobody", "hacluster"] {
            let md = std::fs::metadata(dir.path().join("cores").join(sub)).unwrap();
            assert_eq!(md.permissions().mode() & 0o777, 0o700);
        }
    }

    const CHILD_ENV: &str = "HB_RS_DAEMONIZE_TEST_SOCKET";
    const RT_ENV: &str = "HB_RS_REALTIME_TEST_SOCKET";

    /// Runs only as the re-executed child of `realtime_is_not_inherited_by_scripts`: a
    /// short-lived process at the lowest SCHED_FIFO priority that spawns one script.
    #[test]
    #[ignore = "helper process of realtime_is_not_inherited_by_scripts"]
    fn realtime_child_helper() {
        let sock = std::env::var_os(RT_ENV).expect("run by realtime_is_not_inherited_by_scripts");
        let msgs = make_realtime(1);
        // SAFETY: a plain query.
        let mine = unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stat");
        let pid = crate::sys::spawn::spawn(&crate::sys::spawn::Spec {
            program: "/bin/cat".into(),
            args: vec!["/proc/self/stat".into()],
            env: vec![],
            output: Some(out.clone()),
        })
        .unwrap();
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        let stat = std::fs::read_to_string(&out).unwrap();
        // Field 41 (policy) counted after the ")" that ends the command name.
        let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
        let child_policy = after.split(' ').nth(38).unwrap_or("?").to_owned();
        let report = format!("self={mine} child={child_policy} errors={}", msgs.len());
        let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
        s.send_to(report.as_bytes(), &sock).unwrap();
    }

    #[test]
    fn realtime_is_not_inherited_by_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("report");
        let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::daemon::tests::realtime_child_helper",
                "--ignored",
                "--test-threads=1",
            ])
            .env(RT_ENV, &sock_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let mut buf = [0u8; 128];
        let n = sock.recv(&mut buf).expect("report");
        let report = String::from_utf8_lossy(&buf[..n]).into_owned();
        // As root the switch succeeds; without privileges it fails and is reported.
        if report.contains("errors=0") {
            assert_eq!(
                report,
                format!("self={} child=0 errors=0", libc::SCHED_FIFO)
            );
        } else {
            assert!(report.starts_with("self=0 child=0"), "{report}");
        }
    }

    /// Runs only as the re-executed child of `daemonize_detaches_the_daemon`.
    #[test]
    #[ignore = "helper process of daemonize_detaches_the_daemon"]
    fn daemonize_child_helper() {
        let sock = std::env::var_os(CHILD_ENV).expect("run by daemonize_detaches_the_daemon");
        let dir = tempfile::tempdir().unwrap();
        match daemonize(dir.path()).expect("daemonize") {
            Forked::Parent { child } => {
                let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
                s.send_to(format!("parent child={child}").as_bytes(), &sock)
                    .unwrap();
                std::process::exit(0);
            }
            Forked::Daemon => {
                let pid = nix::unistd::getpid();
                let sid = nix::unistd::getsid(None).unwrap();
                let cwd = std::env::current_dir().unwrap();
                let umask = nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
                let stdin_null = std::fs::read_link("/proc/self/fd/0")
                    .map(|p| p == Path::new("/dev/null"))
                    .unwrap_or(false);
                let report = format!(
                    "daemon leader={} cwd={} umask={:o} stdin_null={stdin_null}",
                    pid == sid,
                    cwd == dir.path().canonicalize().unwrap(),
                    umask.bits()
                );
                let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
                s.send_to(report.as_bytes(), &sock).unwrap();
                let _ = std::fs::remove_dir(dir.path());
                std::process::exit(0);
            }
        }
    }

    #[test]
    fn daemonize_detaches_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("report");
        let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::daemon::tests::daemonize_child_helper",
                "--ignored",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, &sock_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the parent exits 0");
        let mut reports = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..2 {
            let n = sock.recv(&mut buf).expect("report from both sides");
            reports.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        reports.sort();
        assert_eq!(
            reports[0],
            "daemon leader=true cwd=true umask=22 stdin_null=true"
        );
        assert!(reports[1].starts_with("parent child="));
    }

    fn config() -> Config {
        use crate::config::*;
        use crate::time::Duration;
        Config {
            dir: "/etc/ha.d".into(),
            nodes: vec![NodeName::new("node1")],
            ping_nodes: vec![],
            media: vec![],
            timing: Timing {
                keepalive: Duration::from_secs(1),
                deadtime: Duration::from_secs(3),
                warntime: Duration::from_secs(2),
                initdead: Duration::from_secs(10),
                deadping: Duration::from_secs(3),
            },
            udpport: 694,
            auto_failback: AutoFailback::On,
            groups: vec![],
            auth: AuthKeys::single(KeyIndex::new(1).unwrap(), AuthKey::Crc),
            stonith: vec![],
            watchdog: None,
            clients: vec![],
            apiauth: vec![],
            env: vec![("FOO".into(), "bar".into())],
            logging: Logging {
                facility: None,
                logfile: Some("/var/log/ha-log".into()),
                debugfile: None,
                use_logd: false,
                syslogmsgfmt: true,
                debug: 0,
            },
            realtime: true,
            rtprio: None,
            hopfudge: 1,
            max_rexmit_delay: Duration::from_secs(1),
            log_badpack: true,
            cluster_name: "linux-ha".into(),
            parameters: Default::default(),
            local_node: NodeName::new("node1"),
            uuidfrom: UuidFrom::File,
            hbgenmethod: GenMethod::File,
            msgfmt: MsgFmt::Classic,
            traditional_compression: false,
            compression_threshold: 2,
            conn_logd_time: Duration::from_secs(60),
            coredumps: true,
            coreroot: None,
            memreserve: 6500,
            logfacility_name: None,
        }
    }

    #[test]
    fn script_environment_matches_heartbeat() {
        let env = script_env(&config(), &NodeName::new("node1"), 2);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HA_DIR"), Some("/etc/ha.d"));
        assert_eq!(get("HA_FUNCS"), Some("/etc/ha.d/shellfuncs"));
        assert_eq!(get("HA_DATEFMT"), Some("%Y/%m/%d_%T\t"));
        assert_eq!(get("OCF_ROOT"), Some("/usr/lib/ocf"));
        assert_eq!(get("HA_CURHOST"), Some("node1"));
        assert_eq!(get("HA_LOGD"), Some("no"));
        assert_eq!(get("HA_LOGFILE"), Some("/var/log/ha-log"));
        assert_eq!(get("HA_DEBUGLOG"), Some(""));
        assert_eq!(get("HA_LOGFACILITY"), None);
        assert_eq!(get("HA_NICEFAILBACK"), Some("yes"));
        assert_eq!(get("HA_debug"), Some("2"));
        assert_eq!(get("HA_FOO"), Some("bar"));
        let mut cfg = config();
        cfg.parameters.insert("logfacility".into(), "none".into());
        let env = script_env(&cfg, &NodeName::new("node1"), 0);
        assert!(env.contains(&("HA_LOGFACILITY".into(), "none".into())));
        assert!(!env.iter().any(|(k, _)| k == "HA_debug"));
    }
}
