//! heartbeat's process-life modes (behaviour spec §8.1): start (`-f` or daemonising), `-s`,
//! `-k`, `-r`, with heartbeat's texts and exit codes.
//!
//! File locations are heartbeat's unless redirected (tests, the lab, packaging checks):
//! `--pidfile PATH` (`/run/heartbeat.pid`), `--state-dir DIR` (`/var/lib/heartbeat`: the
//! generation, the UUID, the FIFO, `cores/`), `--run-dir DIR` (`/run/heartbeat`: `rsctmp/`)
//! and `--lock-dir DIR` (`/var/lock`: serial UUCP locks). `--config-dir` is honoured by
//! every mode.

use std::process::ExitCode;

use super::{EXIT_NOT_CONFIGURED, Options};
use crate::config::load::{self, CheckOptions, Loaded};
use crate::config::resolve::HostFacts;
use crate::sys::event_loop::{self, Paths, RunOptions};
use crate::sys::log::{Level, Router};
use crate::sys::pidfile::{self, Status, StopRequest};

/// Where this invocation's files are.
pub fn paths(opts: &Options) -> Paths {
    let d = Paths::default();
    let f = &opts.daemon;
    Paths {
        pidfile: f.pidfile.clone().unwrap_or(d.pidfile),
        state_dir: f.state_dir.clone().unwrap_or(d.state_dir),
        run_dir: f.run_dir.clone().unwrap_or(d.run_dir),
        lock_dir: f.lock_dir.clone().unwrap_or(d.lock_dir),
    }
}

fn uname() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.nodename().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn node_name(opts: &Options) -> String {
    opts.node
        .clone()
        .unwrap_or_else(|| {
            load::SystemHost {
                dir: &opts.config_dir,
            }
            .node_name()
        })
        .to_lowercase()
}

fn load_config(opts: &Options) -> Result<Loaded, ExitCode> {
    let check = CheckOptions {
        node: opts.node.clone(),
        skip_host_checks: opts.no_host_checks,
    };
    let host = load::SystemHost {
        dir: &opts.config_dir,
    };
    load::load_with(&opts.config_dir, opts.authkeys.as_deref(), &check, &host).map_err(|e| {
        eprintln!("{e}");
        // heartbeat: 4 when a file could not be read for lack of permission, else 6.
        let denied = e
            .errors()
            .any(|d| d.to_string().contains("Permission denied"));
        eprintln!("ERROR: Configuration error, heartbeat not started.");
        ExitCode::from(if denied { 4 } else { EXIT_NOT_CONFIGURED })
    })
}

/// A router for messages of this command (before the daemon's own exists): stderr only.
fn stderr_router() -> Router {
    let mut r = Router::to_files(None, None, true, &uname(), std::process::id());
    r.set_stderr(true);
    r
}

/// `heartbeat -s`.
pub fn status(opts: &Options) -> ExitCode {
    match pidfile::status(&paths(opts).pidfile) {
        Ok(st) => {
            println!("{}", st.describe(&uname(), &node_name(opts)));
            ExitCode::from(st.exit_code())
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::from(1)
        }
    }
}

/// `heartbeat -k`: SIGTERM, then wait until the daemon is gone (it releases its resources
/// first; no time limit, as heartbeat).
pub fn stop(opts: &Options) -> ExitCode {
    match pidfile::request_stop(&paths(opts).pidfile) {
        Ok(StopRequest::AlreadyStopped) => {
            eprintln!("INFO: Heartbeat already stopped.");
            ExitCode::SUCCESS
        }
        Ok(StopRequest::Signalled(pid)) => {
            pidfile::wait_gone(pid, std::time::Duration::from_millis(250));
            ExitCode::SUCCESS
        }
        Ok(r @ StopRequest::KillFailed(pid, errno)) => {
            eprintln!("ERROR: Could not kill pid {pid} : {}", errno.desc());
            ExitCode::from(r.exit_code())
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::from(1)
        }
    }
}

/// `heartbeat -r`: validate in this process; SIGHUP the running daemon if valid; start one
/// if none runs.
pub fn reload(opts: &Options) -> ExitCode {
    let running = match pidfile::status(&paths(opts).pidfile) {
        Ok(Status::Running(pid)) => pid,
        _ => return start(opts),
    };
    let mut log = stderr_router();
    match load_config(opts) {
        Ok(_) => {
            log.log(
                Level::Info,
                &format!("Signalling heartbeat pid {running} to reread config files"),
            );
            match nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(running),
                nix::sys::signal::Signal::SIGHUP,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log.log(
                        Level::Error,
                        &format!("Could not signal pid {running} : {}", e.desc()),
                    );
                    ExitCode::from(1)
                }
            }
        }
        Err(code) => {
            log.log(
                Level::Info,
                &format!("Config errors: Heartbeat pid {running} NOT restarted"),
            );
            code
        }
    }
}

/// The command line a quick restart re-executes with (before `-R [-C STATE]`): the same
/// files and flags as this process, without its mode (`-r`) or its own `-R` state.
pub fn reexec_args(opts: &Options) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = Vec::new();
    let f = &opts.daemon;
    let mut flag = |on: bool, s: &str| {
        if on {
            a.push(s.into());
        }
    };
    flag(f.foreground, "-f");
    flag(f.no_realtime, "-l");
    flag(f.no_resources, "-M");
    flag(opts.no_host_checks, "--no-host-checks");
    for _ in 0..f.debug {
        a.push("-d".into());
    }
    let mut pair = |k: &str, v: Option<&std::path::Path>| {
        if let Some(v) = v {
            a.push(k.into());
            a.push(v.as_os_str().to_owned());
        }
    };
    pair("--config-dir", Some(&opts.config_dir));
    pair("--authkeys", opts.authkeys.as_deref());
    pair("--pidfile", f.pidfile.as_deref());
    pair("--state-dir", f.state_dir.as_deref());
    pair("--run-dir", f.run_dir.as_deref());
    pair("--lock-dir", f.lock_dir.as_deref());
    if let Some(n) = &opts.node {
        a.push("--node".into());
        a.push(n.into());
    }
    a
}

/// Starts the daemon: validate, refuse if one runs, daemonise unless `-f`, lock the pid
/// file, run the event loop.
pub fn start(opts: &Options) -> ExitCode {
    let loaded = match load_config(opts) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let cfg = loaded.config;
    let paths = paths(opts);
    if opts.daemon.verbose {
        println!("{}", super::check_config::summary(&cfg));
    }
    let mut router = Router::new(&cfg.logging, &uname(), std::process::id());
    router.set_debug_level(cfg.logging.debug.saturating_add(opts.daemon.debug));
    router.set_stderr(true);
    for w in &loaded.warnings {
        // The diagnostic's first line (its source excerpt and caret are for terminals).
        let text = w.to_string();
        router.log(Level::Warn, text.lines().next().unwrap_or(""));
    }
    for (level, text) in crate::sys::log::startup_notices(&cfg.logging) {
        router.log(level, text);
    }
    if opts.daemon.restarting {
        // `-R`: we are the re-exec of the running daemon, so the pid file names us.
        if let Err(e) = pidfile::check_reexec(&paths.pidfile, std::process::id() as i32) {
            router.log(Level::Error, &e.to_string());
            return ExitCode::from(match e {
                pidfile::PidfileError::Refused(r) => r.exit_code(),
                _ => 1,
            });
        }
    } else if let Ok(Status::Running(pid)) = pidfile::status(&paths.pidfile) {
        router.log(
            Level::Info,
            &format!("heartbeat: already running [pid {pid}]."),
        );
        return ExitCode::SUCCESS;
    }
    // A re-exec is already the daemon (same pid, session, descriptors).
    if !opts.daemon.foreground && !opts.daemon.restarting {
        let workdir = paths.state_dir.join("cores").join("root");
        match crate::sys::daemon::daemonize(&workdir) {
            Ok(crate::sys::daemon::Forked::Parent { .. }) => return ExitCode::SUCCESS,
            Ok(crate::sys::daemon::Forked::Daemon) => {
                router.set_pid(std::process::id());
            }
            Err(e) => {
                router.log(Level::Error, &format!("cannot daemonize: {e}"));
                return ExitCode::from(1);
            }
        }
    }
    let pid = std::process::id();
    if let Err(e) = pidfile::lock(&paths.pidfile, pid as i32) {
        router.log(Level::Error, &e.to_string());
        return ExitCode::from(match e {
            pidfile::PidfileError::AlreadyRunning(_) => 0,
            _ => 1,
        });
    }
    let run = RunOptions {
        realtime: crate::sys::daemon::realtime_wanted(cfg.realtime, opts.daemon.no_realtime),
        manage_resources: !opts.daemon.no_resources,
        paths,
        authkeys: opts.authkeys.clone(),
        restart: opts.daemon.restarting.then(|| crate::cluster::Restart {
            held: opts.daemon.current,
            running: opts.daemon.running.clone(),
        }),
        reexec: event_loop::Reexec {
            args: reexec_args(opts),
            check: CheckOptions {
                node: opts.node.clone(),
                skip_host_checks: opts.no_host_checks,
            },
        },
    };
    match event_loop::run(cfg, &run, router, pid) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Already logged to the configured destinations; stderr too when it is a terminal
            // session's (in the foreground).
            if opts.daemon.foreground {
                stderr_router().log(Level::Error, &e.to_string());
            }
            ExitCode::from(1)
        }
    }
}
