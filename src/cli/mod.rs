//! The `heartbeat` command line.
//!
//! Heartbeat's own flags are single letters (`-f -d -l -M -v -k -s -r -D -V`); our
//! additions are long options (`--check-config`, `--decode-packet`, `--config-dir`).
//! lexopt is used rather than a derive-based parser because the texts and exit codes
//! must be heartbeat's, not a generated usage message.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

pub mod check_config;
pub mod cl_status;
pub mod daemon;
pub mod decode_packet;
pub mod standby;

/// Where heartbeat keeps its configuration unless told otherwise.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/ha.d";

/// LSB "program is not configured": heartbeat's exit status for a configuration error.
pub const EXIT_NOT_CONFIGURED: u8 = 6;

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--check-config`: validate the three files as a start would.
    CheckConfig,
    /// `-D`: print the directive defaults table.
    PrintDefaults,
    /// `-V`: print the version.
    Version,
    /// `--decode-packet [FILE|-]`: decode and verify one raw UDP payload.
    DecodePacket { input: Option<PathBuf> },
    /// No mode flag: run the daemon.
    Daemon,
    /// `-s`: is the daemon running?
    Status,
    /// `-k`: stop the running daemon and wait until it is gone.
    Stop,
    /// `-r`: validate the configuration, then SIGHUP the running daemon.
    Reload,
}

/// heartbeat's own flags (besides the modes) and where the daemon keeps its files.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DaemonFlags {
    /// `-f`: stay in the foreground.
    pub foreground: bool,
    /// `-d` (repeatable): debug level increment.
    pub debug: u8,
    /// `-l`: no realtime scheduling.
    pub no_realtime: bool,
    /// `-v`: print the parsed configuration before starting.
    pub verbose: bool,
    /// `-M`: no resource management.
    pub no_resources: bool,
    /// `--pidfile PATH` (default `/run/heartbeat.pid`).
    pub pidfile: Option<PathBuf>,
    /// `--state-dir DIR` (default `/var/lib/heartbeat`).
    pub state_dir: Option<PathBuf>,
    /// `--run-dir DIR` (default `/run/heartbeat`; `rsctmp/` lives there).
    pub run_dir: Option<PathBuf>,
    /// `--lock-dir DIR` (default `/var/lock`): UUCP locks of serial media.
    pub lock_dir: Option<PathBuf>,
    /// `-R`: this process is the re-exec of the running daemon (quick restart, §4.12).
    pub restarting: bool,
    /// `-C STATE` (only with `-R`): what the old process held (nice_failback modes).
    pub current: Option<crate::cluster::Hold>,
    /// `--running KEY,...` (only with `-R`; ours): the groups (by haresources key) the old
    /// process ran.
    pub running: Option<Vec<String>>,
}

/// Options shared by every mode.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// `--config-dir DIR` (default `/etc/ha.d`); honoured by every mode.
    pub config_dir: PathBuf,
    /// `--authkeys FILE`: an authkeys file to use instead of `<config-dir>/authkeys`.
    pub authkeys: Option<PathBuf>,
    /// `--node NAME`: validate as that node instead of this machine's name.
    pub node: Option<String>,
    /// `--no-host-checks`: skip interface/device/host checks (another machine's config).
    pub no_host_checks: bool,
    /// heartbeat's daemon flags and file locations.
    pub daemon: DaemonFlags,
}

/// heartbeat's usage text (stderr, exit 2).
pub const USAGE: &str = "Usage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]\n\t-C only valid with -R\n\t-r is mutually exclusive with -R";

/// A command line that could not be understood.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, UsageError> {
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut mode = None;
    let mut config_dir = PathBuf::from(DEFAULT_CONFIG_DIR);
    let mut authkeys = None;
    let mut node = None;
    let mut no_host_checks = false;
    let mut decode_input = None;
    let mut daemon = DaemonFlags::default();
    let set_mode = |m: Mode, mode: &mut Option<Mode>| -> Result<(), UsageError> {
        if mode.is_some() {
            return Err(UsageError("only one mode may be given".into()));
        }
        *mode = Some(m);
        Ok(())
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("check-config") => set_mode(Mode::CheckConfig, &mut mode)?,
            Long("decode-packet") => {
                set_mode(Mode::DecodePacket { input: None }, &mut mode)?;
            }
            Short('D') => set_mode(Mode::PrintDefaults, &mut mode)?,
            Short('V') => set_mode(Mode::Version, &mut mode)?,
            Long("config-dir") => config_dir = parser.value()?.into(),
            Long("authkeys") => authkeys = Some(PathBuf::from(parser.value()?)),
            Long("node") => node = Some(parser.value()?.string()?),
            Long("no-host-checks") => no_host_checks = true,
            Short('s') => set_mode(Mode::Status, &mut mode)?,
            Short('k') => set_mode(Mode::Stop, &mut mode)?,
            Short('r') => set_mode(Mode::Reload, &mut mode)?,
            Short('R') => daemon.restarting = true,
            Short('C') => daemon.current = Some(hold_arg(parser.value()?)?),
            Long("running") => {
                let v = parser.value()?.string()?;
                daemon.running = Some(
                    v.split(',')
                        .filter(|k| !k.is_empty())
                        .map(String::from)
                        .collect(),
                );
            }
            Short('f') => daemon.foreground = true,
            Short('d') => daemon.debug = daemon.debug.saturating_add(1),
            Short('l') => daemon.no_realtime = true,
            Short('v') => daemon.verbose = true,
            Short('M') => daemon.no_resources = true,
            Long("pidfile") => daemon.pidfile = Some(parser.value()?.into()),
            Long("state-dir") => daemon.state_dir = Some(parser.value()?.into()),
            Long("run-dir") => daemon.run_dir = Some(parser.value()?.into()),
            Long("lock-dir") => daemon.lock_dir = Some(parser.value()?.into()),
            Value(v)
                if matches!(mode, Some(Mode::DecodePacket { .. })) && decode_input.is_none() =>
            {
                decode_input = Some(PathBuf::from(v));
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    // heartbeat: "-C only valid with -R", "-r is mutually exclusive with -R".
    if (daemon.current.is_some() || daemon.running.is_some()) && !daemon.restarting {
        return Err(UsageError("-C only valid with -R".into()));
    }
    if daemon.restarting && mode.is_some() {
        return Err(UsageError(
            "-R runs the daemon; no other mode may be given".into(),
        ));
    }
    let mode = match mode {
        Some(Mode::DecodePacket { .. }) => Mode::DecodePacket {
            input: decode_input.filter(|p| p.as_os_str() != "-"),
        },
        Some(m) => m,
        None => Mode::Daemon,
    };
    Ok(Options {
        mode,
        config_dir,
        authkeys,
        node,
        no_host_checks,
        daemon,
    })
}

/// A `-C` value: `none`, `local`, `foreign` or `all`.
fn hold_arg(v: OsString) -> Result<crate::cluster::Hold, UsageError> {
    v.to_str()
        .and_then(crate::cluster::Hold::parse)
        .ok_or_else(|| UsageError(format!("bad resource state {v:?}")))
}

/// Entry point of the `heartbeat` binary: parses `args` (program name first) and runs.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // Multi-call: act as the admin tools when invoked (symlinked) under their names.
    let name = args
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name());
    match name.and_then(|n| n.to_str()) {
        Some("cl_status") => return cl_status::main(args),
        Some("hb_standby") => return standby::main(standby::Tool::Standby, args),
        Some("hb_takeover") => return standby::main(standby::Tool::Takeover, args),
        _ => {}
    }
    // `heartbeat status [--json]` is `cl_status summary [--json]`.
    if args.get(1).is_some_and(|a| a == "status") {
        let mut rest = vec![OsString::from("cl_status"), OsString::from("summary")];
        rest.extend(args.iter().skip(2).cloned());
        return cl_status::main(rest);
    }
    let mut args = args.into_iter();
    let _program = args.next();
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match opts.mode {
        Mode::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Mode::CheckConfig | Mode::PrintDefaults => check_config::run(&opts),
        Mode::DecodePacket { .. } => decode_packet::run(&opts),
        Mode::Daemon => daemon::start(&opts),
        Mode::Status => daemon::status(&opts),
        Mode::Stop => daemon::stop(&opts),
        Mode::Reload => daemon::reload(&opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, UsageError> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn config_dir_defaults_to_etc_ha_d_and_is_honoured() {
        assert_eq!(
            parse(&["--check-config"]).unwrap().config_dir,
            PathBuf::from("/etc/ha.d")
        );
        let o = parse(&["--check-config", "--config-dir", "ha.d"]).unwrap();
        assert_eq!(o.config_dir, PathBuf::from("ha.d"));
        assert_eq!(o.mode, Mode::CheckConfig);
    }

    #[test]
    fn decode_packet_takes_an_optional_file_and_dash_means_stdin() {
        let o = parse(&["--decode-packet", "--authkeys", "k", "p.bin"]).unwrap();
        assert_eq!(
            o.mode,
            Mode::DecodePacket {
                input: Some("p.bin".into())
            }
        );
        assert_eq!(o.authkeys, Some(PathBuf::from("k")));
        let o = parse(&["--decode-packet", "-"]).unwrap();
        assert_eq!(o.mode, Mode::DecodePacket { input: None });
    }

    #[test]
    fn two_modes_or_none_are_refused() {
        assert!(parse(&["--check-config", "-D"]).is_err());
        assert!(parse(&["-s", "-k"]).is_err());
        assert_eq!(
            parse(&[]).unwrap().mode,
            Mode::Daemon,
            "no mode = run the daemon"
        );
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn heartbeat_flags() {
        let o = parse(&["-f", "-d", "-d", "-l", "-v", "-M"]).unwrap();
        assert_eq!(o.mode, Mode::Daemon);
        assert!(o.daemon.foreground && o.daemon.no_realtime && o.daemon.verbose);
        assert!(o.daemon.no_resources);
        assert_eq!(o.daemon.debug, 2);
        assert_eq!(parse(&["-s"]).unwrap().mode, Mode::Status);
        assert_eq!(parse(&["-k"]).unwrap().mode, Mode::Stop);
        assert_eq!(parse(&["-r"]).unwrap().mode, Mode::Reload);
        let o = parse(&["-R", "-C", "all"]).unwrap();
        assert_eq!(o.mode, Mode::Daemon);
        assert!(o.daemon.restarting);
        assert_eq!(o.daemon.current, Some(crate::cluster::Hold::ALL));
        let o = parse(&["-R", "--running", "10.0.0.1,IPaddr::10.0.0.2"]).unwrap();
        assert_eq!(
            o.daemon.running,
            Some(vec!["10.0.0.1".to_string(), "IPaddr::10.0.0.2".to_string()])
        );
        let o = parse(&["-R", "-C", "none", "--running", ""]).unwrap();
        assert_eq!(o.daemon.running, Some(vec![]));
        assert!(parse(&["-C", "all"]).is_err(), "-C only valid with -R");
        assert!(
            parse(&["-r", "-R"]).is_err(),
            "-r is mutually exclusive with -R"
        );
        assert!(parse(&["-R", "-C", "most"]).is_err());
        let o = parse(&["-k", "--pidfile", "/tmp/p", "--state-dir", "/tmp/s"]).unwrap();
        assert_eq!(o.daemon.pidfile, Some(PathBuf::from("/tmp/p")));
        assert_eq!(o.daemon.state_dir, Some(PathBuf::from("/tmp/s")));
        assert!(parse(&["-x"]).is_err());
    }
}
