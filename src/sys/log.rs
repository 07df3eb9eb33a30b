//! Logging the way heartbeat logs (behaviour spec §9): the same destinations and the same
//! bytes, so `tail -f /var/log/ha-log`, logcheck rules and log watchers keep working.
//!
//! Design: the line layout is a set of pure functions ([`format_file_line`],
//! [`format_syslog_datagram`]) over `(time, host, pid, level, text)`, golden-tested against
//! lines real heartbeat wrote. Routing is a plain [`Router`] value owned by the event loop
//! (no global logger, no mutex): the daemon calls [`Router::log`] for every `Notice` the core
//! emits and for the edge's own messages. The pid and the debug level are changed
//! explicitly (after daemonising, on SIGUSR1/SIGUSR2).
//!
//! `use_logd`: heartbeat-rs does not speak to `ha_logd`. Heartbeat itself falls back to the
//! direct destinations when the logging daemon is unreachable; heartbeat-rs always takes that
//! fallback path (see [`Destinations::resolve`]).

// localtime_r (the C library's time zone rules) has no safe wrapper in nix.
#![allow(unsafe_code)]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::{Facility, Logging};

/// The program name heartbeat logs under (syslog ident and the file-line entity).
pub const ENTITY: &str = "heartbeat";

/// Heartbeat truncates messages to its line buffer (MAXLINE, 5120 bytes).
pub const MAX_TEXT: usize = 5119;

/// A heartbeat priority. [`Level::word`] is the exact word heartbeat prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Emerg,
    Alert,
    Crit,
    Error,
    Warn,
    Notice,
    Info,
    Debug,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Emerg => "EMERG",
            Level::Alert => "ALERT",
            Level::Crit => "CRIT",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// The syslog(3) severity (LOG_EMERG = 0 … LOG_DEBUG = 7).
    pub fn severity(self) -> u8 {
        self as u8
    }

    /// Parses a priority word as heartbeat prints it.
    pub fn from_word(word: &str) -> Option<Level> {
        [
            Level::Emerg,
            Level::Alert,
            Level::Crit,
            Level::Error,
            Level::Warn,
            Level::Notice,
            Level::Info,
            Level::Debug,
        ]
        .into_iter()
        .find(|l| l.word() == word)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The C library's text for an errno value, as heartbeat's `cl_perror` appends it
/// (`Inappropriate ioctl for device`, not nix's `Not a typewriter`).
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A broken-down local time, as the log layouts print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub year: i32,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Stamp {
    /// Three-letter English month name (C locale, as heartbeat runs).
    pub fn month_name(&self) -> &'static str {
        MONTHS
            .get(usize::from(self.month).wrapping_sub(1))
            .copied()
            .unwrap_or("???")
    }

    /// The local time now.
    #[allow(clippy::disallowed_methods)] // the edge is where the wall clock is read
    pub fn now_local() -> Stamp {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Stamp::from_unix_local(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// Converts Unix seconds to local time with the C library's time zone rules.
    pub fn from_unix_local(secs: i64) -> Stamp {
        let t: libc::time_t = secs as libc::time_t;
        // SAFETY: `tm` is plain old data, so all-zero is a valid value; localtime_r only
        // writes into the buffer we own and reads `t`, both valid for the call.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: see above; both pointers point to live locals.
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if !ok {
            return Stamp::from_unix_utc(secs);
        }
        Stamp {
            year: tm.tm_year.saturating_add(1900),
            month: u8::try_from(tm.tm_mon + 1).unwrap_or(1),
            day: u8::try_from(tm.tm_mday).unwrap_or(1),
            hour: u8::try_from(tm.tm_hour).unwrap_or(0),
            minute: u8::try_from(tm.tm_min).unwrap_or(0),
            second: u8::try_from(tm.tm_sec).unwrap_or(0),
        }
    }

    /// UTC conversion (civil-from-days), used when localtime fails and in tests.
    pub fn from_unix_utc(secs: i64) -> Stamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Stamp {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }
}

/// One log record before layout.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    pub stamp: Stamp,
    /// `uname -n` as-is (not lower-cased).
    pub host: &'a str,
    /// The pid of the process that logs.
    pub pid: u32,
    pub level: Level,
    pub text: &'a str,
}

fn truncated(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Appends one logfile/debugfile line, LF-terminated.
///
/// `syslogmsgfmt true`: `Nov 02 23:06:26 node1 heartbeat: [4711]: WARN: TEXT` (day
/// zero-padded); `false`: `heartbeat[4711]: 2024/11/02_23:06:26 WARN: TEXT`.
pub fn format_file_line(out: &mut Vec<u8>, syslogmsgfmt: bool, line: &Line<'_>) {
    let s = &line.stamp;
    let text = truncated(line.text);
    // Writing into a Vec cannot fail.
    let _ = if syslogmsgfmt {
        writeln!(
            out,
            "{} {:02} {:02}:{:02}:{:02} {} {}: [{}]: {}: {}",
            s.month_name(),
            s.day,
            s.hour,
            s.minute,
            s.second,
            line.host,
            ENTITY,
            line.pid,
            line.level.word(),
            text
        )
    } else {
        writeln!(
            out,
            "{}[{}]: {:04}/{:02}/{:02}_{:02}:{:02}:{:02} {}: {}",
            ENTITY,
            line.pid,
            s.year,
            s.month,
            s.day,
            s.hour,
            s.minute,
            s.second,
            line.level.word(),
            text
        )
    };
}

/// The message heartbeat hands to syslog(3): `[PID]: PRIO: TEXT`.
pub fn syslog_message(pid: u32, level: Level, text: &str) -> String {
    format!("[{}]: {}: {}", pid, level.word(), truncated(text))
}

/// The syslog facility code (already shifted, as in `<PRI>`).
pub fn facility_code(f: Facility) -> u8 {
    let n: u8 = match f {
        Facility::Kern => 0,
        Facility::User => 1,
        Facility::Mail => 2,
        Facility::Daemon => 3,
        Facility::Auth | Facility::Security => 4,
        Facility::Syslog => 5,
        Facility::Lpr => 6,
        Facility::News => 7,
        Facility::Uucp => 8,
        Facility::Cron => 9,
        Facility::Authpriv => 10,
        Facility::Ftp => 11,
        Facility::Local0 => 16,
        Facility::Local1 => 17,
        Facility::Local2 => 18,
        Facility::Local3 => 19,
        Facility::Local4 => 20,
        Facility::Local5 => 21,
        Facility::Local6 => 22,
        Facility::Local7 => 23,
    };
    n << 3
}

/// The datagram glibc's syslog(3) sends to `/dev/log` for heartbeat's call:
/// `<PRI>Nov  2 23:06:26 heartbeat: [4711]: info: TEXT` (day space-padded, no `[pid]` after
/// the ident because heartbeat opens syslog without LOG_PID).
pub fn format_syslog_datagram(
    out: &mut Vec<u8>,
    facility: Facility,
    stamp: &Stamp,
    pid: u32,
    level: Level,
    text: &str,
) {
    let _ = write!(
        out,
        "<{}>{} {:>2} {:02}:{:02}:{:02} {}: {}",
        facility_code(facility) | level.severity(),
        stamp.month_name(),
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
        ENTITY,
        syslog_message(pid, level, text)
    );
}

/// Where messages go once `use_logd` has been taken into account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destinations {
    pub facility: Option<Facility>,
    pub logfile: Option<PathBuf>,
    pub debugfile: Option<PathBuf>,
}

impl Destinations {
    /// Heartbeat sends everything to `ha_logd` when `use_logd` is on and falls back to the
    /// direct destinations when the logging daemon cannot be reached. heartbeat-rs has no
    /// logd client, so it always falls back. Where heartbeat would then lose every message
    /// (logd wanted, no direct destination), heartbeat-rs logs to syslog facility `daemon`
    /// instead, which is what a default `ha_logd` would have done with them.
    pub fn resolve(cfg: &Logging) -> Destinations {
        let none = cfg.facility.is_none() && cfg.logfile.is_none() && cfg.debugfile.is_none();
        Destinations {
            facility: if none {
                Some(Facility::Daemon)
            } else {
                cfg.facility
            },
            logfile: cfg.logfile.clone(),
            debugfile: cfg.debugfile.clone(),
        }
    }
}

/// The start-up warnings heartbeat logs about its logging setup (§9.1), in order.
pub fn startup_notices(cfg: &Logging) -> Vec<(Level, &'static str)> {
    let direct = cfg.facility.is_some() || cfg.logfile.is_some() || cfg.debugfile.is_some();
    match (direct, cfg.use_logd) {
        (false, _) => vec![(Level::Info, "No log entry found in ha.cf -- use logd")],
        (true, true) => vec![(
            Level::Warn,
            "logd is enabled but logfile/debugfile/logfacility is still configured in ha.cf",
        )],
        (true, false) => vec![(
            Level::Warn,
            "Logging daemon is disabled --enabling logging daemon is recommended",
        )],
    }
}

/// An append-only log file that follows `mv`-style rotation and removal: before each write
/// the path is stat'ed and, if it now names another file (or nothing), it is reopened.
/// Heartbeat checks about once a minute; a stat per line is cheap at heartbeat's log rates
/// and loses no line to a removed file.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    id: Option<(u64, u64)>,
}

impl LogFile {
    pub fn new(path: impl Into<PathBuf>) -> LogFile {
        LogFile {
            path: path.into(),
            file: None,
            id: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(&self.path)?;
        let md = file.metadata()?;
        self.id = Some((md.dev(), md.ino()));
        self.file = Some(file);
        Ok(())
    }

    /// Appends `bytes` in one write. Returns `true` if the file had to be reopened because
    /// it was rotated or removed since the last write.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<bool> {
        let current = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let mut rotated = false;
        if self.file.is_none() || current != self.id {
            rotated = self.file.is_some();
            self.file = None;
            self.open()?;
        }
        match self.file.as_mut() {
            Some(f) => f.write_all(bytes)?,
            None => return Err(io::Error::other("log file not open")),
        }
        Ok(rotated)
    }
}

/// The syslog connection: the `syslog` crate's `/dev/log` transport with heartbeat's own
/// message layout ([`format_syslog_datagram`]).
struct Syslog {
    facility: Facility,
    /// `None`: the system's `/dev/log`; tests use a socket of their own.
    socket: Option<PathBuf>,
    logger: Option<syslog::Logger<syslog::LoggerBackend, HeartbeatFormat>>,
}

/// A `syslog::LogFormat` that writes exactly what glibc's syslog(3) would for heartbeat.
/// The crate's own formatters add `[pid]` after the ident and can panic on a missing local
/// offset, so the stamp and the rest of the line are ours.
#[derive(Clone, Debug)]
struct HeartbeatFormat {
    facility: Facility,
    stamp: Stamp,
    pid: u32,
    level: Level,
}

impl syslog::LogFormat<&str> for HeartbeatFormat {
    fn format<W: Write>(
        &self,
        w: &mut W,
        _severity: syslog::Severity,
        text: &str,
    ) -> syslog::Result<()> {
        let mut out = Vec::new();
        format_syslog_datagram(
            &mut out,
            self.facility,
            &self.stamp,
            self.pid,
            self.level,
            text,
        );
        w.write_all(&out).map_err(syslog::Error::Write)
    }
}

impl Syslog {
    fn connect(&mut self) {
        let fmt = HeartbeatFormat {
            facility: self.facility,
            stamp: Stamp::from_unix_utc(0),
            pid: 0,
            level: Level::Info,
        };
        self.logger = match &self.socket {
            Some(path) => syslog::unix_custom(fmt, path).ok(),
            None => syslog::unix(fmt).ok(),
        };
    }

    fn send(&mut self, stamp: Stamp, pid: u32, level: Level, text: &str) {
        // One reconnection attempt per message: syslogd may have been restarted.
        for _ in 0..2 {
            if self.logger.is_none() {
                self.connect();
            }
            let Some(logger) = self.logger.as_mut() else {
                return;
            };
            logger.formatter.stamp = stamp;
            logger.formatter.pid = pid;
            logger.formatter.level = level;
            if logger.info(text).is_ok() {
                return;
            }
            self.logger = None;
        }
    }
}

/// Routes messages to logfile, debugfile, syslog and (before daemonising) stderr.
pub struct Router {
    host: String,
    pid: u32,
    syslogmsgfmt: bool,
    debug_level: u8,
    logfile: Option<LogFile>,
    debugfile: Option<LogFile>,
    syslog: Option<Syslog>,
    stderr: bool,
    buf: Vec<u8>,
}

impl Router {
    /// A router for `cfg`. `host` is `uname -n`; `pid` the logging process. Nothing is opened
    /// until the first message.
    pub fn new(cfg: &Logging, host: &str, pid: u32) -> Router {
        let dest = Destinations::resolve(cfg);
        let logfile = dest.logfile.map(LogFile::new);
        // One file when both directives name the same path; every line is written once.
        let debugfile = dest
            .debugfile
            .filter(|d| logfile.as_ref().is_none_or(|l| l.path() != d.as_path()))
            .map(LogFile::new);
        Router {
            host: host.to_owned(),
            pid,
            syslogmsgfmt: cfg.syslogmsgfmt,
            debug_level: cfg.debug,
            logfile,
            debugfile,
            syslog: dest.facility.map(|facility| Syslog {
                facility,
                socket: None,
                logger: None,
            }),
            stderr: false,
            buf: Vec::with_capacity(256),
        }
    }

    /// A router that only writes to the given files (tests, tools).
    pub fn to_files(
        logfile: Option<PathBuf>,
        debugfile: Option<PathBuf>,
        syslogmsgfmt: bool,
        host: &str,
        pid: u32,
    ) -> Router {
        let cfg = Logging {
            facility: None,
            logfile,
            debugfile,
            use_logd: false,
            syslogmsgfmt,
            debug: 0,
        };
        let mut r = Router::new(&cfg, host, pid);
        r.syslog = None;
        r
    }

    /// Sends syslog messages to the datagram socket at `path` instead of `/dev/log`.
    pub fn set_syslog_socket(&mut self, path: PathBuf) {
        if let Some(s) = self.syslog.as_mut() {
            s.socket = Some(path);
            s.logger = None;
        }
    }

    /// Also copy non-debug lines to stderr (heartbeat does so until it daemonises).
    pub fn set_stderr(&mut self, on: bool) {
        self.stderr = on;
    }

    /// The pid printed in lines; changes after fork.
    pub fn set_pid(&mut self, pid: u32) {
        self.pid = pid;
    }

    pub fn debug_level(&self) -> u8 {
        self.debug_level
    }

    pub fn set_debug_level(&mut self, level: u8) {
        self.debug_level = level;
    }

    /// SIGUSR1 (`up`) / SIGUSR2: debug level +1 / −1 (not below 0, not above 255), logged as
    /// heartbeat does: `debug: debug now set to N [pid P]`, and going 0 → 1 also
    /// `info: heartbeat: version 3.0.6`.
    pub fn change_debug_level(&mut self, stamp: Stamp, up: bool) {
        let old = self.debug_level;
        self.debug_level = if up {
            old.saturating_add(1)
        } else {
            old.saturating_sub(1)
        };
        let msg = format!("debug now set to {} [pid {}]", self.debug_level, self.pid);
        self.log_at(stamp, Level::Debug, &msg);
        if old == 0 && self.debug_level == 1 {
            self.log_at(stamp, Level::Info, "heartbeat: version 3.0.6");
        }
    }

    /// Logs `text` at `level` with the current local time.
    pub fn log(&mut self, level: Level, text: &str) {
        self.log_at(Stamp::now_local(), level, text);
    }

    /// Logs a debug message if the debug level is at least `verbosity` (heartbeat guards
    /// its debug calls with `ANYDEBUG` = 1, `DEBUGDETAILS` = 2, ...; 0 = always).
    pub fn debug(&mut self, verbosity: u8, text: &str) {
        if self.debug_level >= verbosity {
            self.log_at(Stamp::now_local(), Level::Debug, text);
        }
    }

    /// Logs with an explicit time (tests; replays).
    pub fn log_at(&mut self, stamp: Stamp, level: Level, text: &str) {
        let line = Line {
            stamp,
            host: &self.host,
            pid: self.pid,
            level,
            text,
        };
        self.buf.clear();
        format_file_line(&mut self.buf, self.syslogmsgfmt, &line);
        let mut rotated: Vec<PathBuf> = Vec::new();
        // A failing log file must never stop the daemon: the error is dropped like
        // heartbeat's fprintf failures are.
        if let Some(f) = self.debugfile.as_mut() {
            if let Ok(true) = f.append(&self.buf) {
                rotated.push(f.path().to_owned());
            }
        }
        if level != Level::Debug {
            if let Some(f) = self.logfile.as_mut() {
                if let Ok(true) = f.append(&self.buf) {
                    rotated.push(f.path().to_owned());
                }
            }
        }
        if self.stderr && level != Level::Debug {
            let _ = io::stderr().write_all(&self.buf);
        }
        if let Some(s) = self.syslog.as_mut() {
            s.send(stamp, self.pid, level, text);
        }
        for path in rotated {
            let msg = format!("log-rotate detected on logfile {}", path.display());
            self.log_at(stamp, Level::Info, &msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            year: 2024,
            month: 11,
            day: 2,
            hour: 23,
            minute: 6,
            second: 26,
        }
    }

    fn line(level: Level, text: &str) -> Line<'_> {
        Line {
            stamp: stamp(),
            host: "node1",
            pid: 4711,
            level,
            text,
        }
    }

    #[test]
    fn syslogmsgfmt_true_layout_matches_the_spec_example() {
        let mut out = Vec::new();
        format_file_line(&mut out, true, &line(Level::Warn, "node node2: is dead"));
        assert_eq!(
            out,
            b"Nov 02 23:06:26 node1 heartbeat: [4711]: WARN: node node2: is dead\n"
        );
    }

    #[test]
    fn syslogmsgfmt_false_layout_matches_the_spec_example() {
        let mut out = Vec::new();
        format_file_line(&mut out, false, &line(Level::Warn, "node node2: is dead"));
        assert_eq!(
            out,
            b"heartbeat[4711]: 2024/11/02_23:06:26 WARN: node node2: is dead\n"
        );
    }

    #[test]
    fn syslog_datagram_has_space_padded_day_and_no_pid_after_ident() {
        let mut out = Vec::new();
        format_syslog_datagram(
            &mut out,
            Facility::Local0,
            &stamp(),
            4711,
            Level::Info,
            "Configuration validated. Starting heartbeat 3.0.6",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<134>Nov  2 23:06:26 heartbeat: [4711]: info: Configuration validated. Starting heartbeat 3.0.6"
        );
        let mut out = Vec::new();
        format_syslog_datagram(&mut out, Facility::Daemon, &stamp(), 1, Level::Crit, "x");
        assert!(out.starts_with(b"<26>"));
    }

    #[test]
    fn long_text_is_truncated_on_a_char_boundary() {
        let text = "é".repeat(4000);
        let mut out = Vec::new();
        format_file_line(&mut out, true, &line(Level::Info, &text));
        let s = String::from_utf8(out).expect("valid utf-8 after truncation");
        let body = s.split("info: ").nth(1).unwrap();
        assert!(body.len() <= MAX_TEXT + 1);
        assert!(body.ends_with('\n'));
    }

    #[test]
    fn utc_conversion_is_civil_time() {
        // 2024-11-02 23:06:26 UTC
        assert_eq!(Stamp::from_unix_utc(1_730_588_786), stamp());
        let s = Stamp::from_unix_utc(0);
        assert_eq!((s.year, s.month, s.day, s.hour), (1970, 1, 1, 0));
        assert_eq!(Stamp::from_unix_utc(951_782_400).day, 29); // 2000-02-29
    }

    #[test]
    fn levels_round_trip_and_map_to_syslog_severities() {
        for l in [
            Level::Emerg,
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
        ] {
            assert_eq!(Level::from_word(l.word()), Some(l));
        }
        assert_eq!(Level::Error.severity(), 3);
        assert_eq!(Level::Debug.severity(), 7);
        assert_eq!(Level::from_word("INFO"), None);
    }

    fn logging(facility: Option<Facility>, logfile: bool, use_logd: bool) -> Logging {
        Logging {
            facility,
            logfile: logfile.then(|| PathBuf::from("/var/log/ha-log")),
            debugfile: None,
            use_logd,
            syslogmsgfmt: true,
            debug: 0,
        }
    }

    #[test]
    fn startup_notices_follow_the_destination_table() {
        assert_eq!(
            startup_notices(&logging(None, true, false)),
            vec![(
                Level::Warn,
                "Logging daemon is disabled --enabling logging daemon is recommended"
            )]
        );
        assert_eq!(
            startup_notices(&logging(None, false, true))[0].1,
            "No log entry found in ha.cf -- use logd"
        );
        assert_eq!(
            startup_notices(&logging(None, true, true))[0].0,
            Level::Warn
        );
    }

    #[test]
    fn logd_without_direct_destinations_falls_back_to_syslog_daemon() {
        let d = Destinations::resolve(&logging(None, false, true));
        assert_eq!(d.facility, Some(Facility::Daemon));
        let d = Destinations::resolve(&logging(None, true, true));
        assert_eq!(d.facility, None);
        assert!(d.logfile.is_some());
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn debug_lines_go_to_the_debugfile_only_and_respect_the_level() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        let dbg = dir.path().join("ha-debug");
        let mut r = Router::to_files(Some(log.clone()), Some(dbg.clone()), true, "node1", 7);
        r.log_at(stamp(), Level::Info, "one");
        r.log_at(stamp(), Level::Debug, "two");
        r.debug(1, "three"); // level 0: suppressed
        r.set_debug_level(1);
        r.debug(1, "four");
        assert_eq!(
            read(&log),
            "Nov 02 23:06:26 node1 heartbeat: [7]: info: one\n"
        );
        let d = read(&dbg);
        assert!(d.starts_with(
            "Nov 02 23:06:26 node1 heartbeat: [7]: info: one\n\
             Nov 02 23:06:26 node1 heartbeat: [7]: debug: two\n"
        ));
        assert!(!d.contains("three"));
        assert!(d.contains("]: debug: four\n"));
    }

    #[test]
    fn sigusr_debug_level_changes_are_logged_like_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        let dbg = dir.path().join("ha-debug");
        let mut r = Router::to_files(Some(log.clone()), Some(dbg.clone()), true, "n1", 5);
        r.change_debug_level(stamp(), true);
        r.change_debug_level(stamp(), true);
        r.change_debug_level(stamp(), false);
        r.change_debug_level(stamp(), false);
        r.change_debug_level(stamp(), false);
        assert_eq!(r.debug_level(), 0);
        assert_eq!(
            read(&log),
            "Nov 02 23:06:26 n1 heartbeat: [5]: info: heartbeat: version 3.0.6\n"
        );
        let levels: Vec<String> = read(&dbg)
            .lines()
            .filter_map(|l| l.split("debug: ").nth(1).map(str::to_owned))
            .collect();
        assert_eq!(
            levels,
            [
                "debug now set to 1 [pid 5]",
                "debug now set to 2 [pid 5]",
                "debug now set to 1 [pid 5]",
                "debug now set to 0 [pid 5]",
                "debug now set to 0 [pid 5]"
            ]
        );
    }

    #[test]
    fn files_are_appended_to_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        std::fs::write(&log, "old line\n").unwrap();
        let mut r = Router::to_files(Some(log.clone()), None, false, "n", 1);
        r.log_at(stamp(), Level::Error, "new");
        assert_eq!(
            read(&log),
            "old line\nheartbeat[1]: 2024/11/02_23:06:26 ERROR: new\n"
        );
    }

    #[test]
    fn rotation_and_removal_reopen_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        let mut r = Router::to_files(Some(log.clone()), None, true, "node1", 7);
        r.log_at(stamp(), Level::Info, "before");
        let rotated = dir.path().join("ha-log.1");
        std::fs::rename(&log, &rotated).unwrap();
        r.log_at(stamp(), Level::Info, "after-rotate");
        assert_eq!(
            read(&rotated),
            "Nov 02 23:06:26 node1 heartbeat: [7]: info: before\n"
        );
        let now = read(&log);
        assert!(now.contains("info: after-rotate\n"));
        assert!(now.contains(&format!(
            "info: log-rotate detected on logfile {}\n",
            log.display()
        )));
        std::fs::remove_file(&log).unwrap();
        r.log_at(stamp(), Level::Warn, "after-remove");
        assert!(read(&log).contains("WARN: after-remove\n"));
    }

    #[test]
    fn syslog_receives_heartbeats_message_layout() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let server = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
        let mut cfg = logging(Some(Facility::Local7), false, false);
        cfg.logfile = None;
        let mut r = Router::new(&cfg, "node1", 99);
        r.set_syslog_socket(sock);
        r.log_at(stamp(), Level::Warn, "node node2: is dead");
        r.log_at(stamp(), Level::Debug, "dbg");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"<188>Nov  2 23:06:26 heartbeat: [99]: WARN: node node2: is dead"
        );
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            b"<191>Nov  2 23:06:26 heartbeat: [99]: debug: dbg"
        );
    }

    #[test]
    fn same_path_for_both_files_writes_each_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ha-log");
        let mut r = Router::to_files(Some(log.clone()), Some(log.clone()), true, "n", 1);
        r.log_at(stamp(), Level::Info, "x");
        assert_eq!(read(&log).lines().count(), 1);
    }

    #[test]
    fn an_unwritable_log_file_does_not_panic() {
        let mut r = Router::to_files(
            Some(PathBuf::from("/nonexistent-dir/ha-log")),
            None,
            true,
            "n",
            1,
        );
        r.log_at(stamp(), Level::Info, "lost");
    }
}
