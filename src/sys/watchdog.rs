//! The `watchdog DEVICE` of behaviour spec §6.
//!
//! Opened write-only and close-on-exec (children never share it); the timeout is set with
//! `WDIOC_SETTIMEOUT` only when the device is a character device, so tests can use a FIFO or
//! a plain file. [`Watchdog::kick`] writes one NUL; [`Watchdog::close_clean`] writes the magic
//! `V` first and is the only path that does: dropping a `Watchdog` (a crash, an abandoned
//! watchdog) closes without it, so the driver keeps counting and reboots.
//!
//! The device is opened non-blocking: a FIFO without a reader then fails to open instead of
//! hanging the daemon; a real watchdog ignores the flag.

// The watchdog ioctl has no safe wrapper in nix.
#![allow(unsafe_code)]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::sys::log::{Level, strerror};
use crate::time::Duration;

nix::ioctl_readwrite!(wdioc_settimeout, b'W', 6, libc::c_int);

/// Heartbeat's watchdog timeout: ceil((deadtime_ms + 10) / 1000) seconds (30 s → 31 s).
pub fn timeout_secs(deadtime: Duration) -> i32 {
    let ms = deadtime.as_millis().saturating_add(10);
    i32::try_from(ms.div_ceil(1000)).unwrap_or(i32::MAX)
}

/// A watchdog event worth a log line, with heartbeat's text and priority.
#[derive(Debug)]
pub enum WatchdogEvent {
    /// notice `Using watchdog device: DEVICE`.
    Opened(PathBuf),
    /// ERROR `Cannot open watchdog device: DEVICE` (not fatal: run without a watchdog).
    OpenFailed(PathBuf, io::Error),
    /// `Set watchdog timer to N seconds.` (heartbeat's text; logged at debug here, as the
    /// 3.0.6 logs of a lab without a watchdog cannot show its level).
    TimeoutSet(i32),
    /// `WDIOC_SETTIMEOUT: Failed to set watchdog timer to N seconds.` + errno (ignored).
    SetTimeoutFailed(i32, nix::errno::Errno),
    /// `Watchdog write failure: closing DEVICE!` (the watchdog is abandoned).
    WriteFailed(PathBuf, io::Error),
    /// `Watchdog write magic character failure: closing DEVICE!`.
    MagicFailed(PathBuf, io::Error),
}

impl WatchdogEvent {
    pub fn level(&self) -> Level {
        match self {
            WatchdogEvent::Opened(_) => Level::Notice,
            WatchdogEvent::TimeoutSet(_) => Level::Debug,
            _ => Level::Error,
        }
    }
}

impl fmt::Display for WatchdogEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchdogEvent::Opened(p) => write!(f, "Using watchdog device: {}", p.display()),
            WatchdogEvent::TimeoutSet(n) => write!(f, "Set watchdog timer to {n} seconds."),
            WatchdogEvent::OpenFailed(p, _) => {
                write!(f, "Cannot open watchdog device: {}", p.display())
            }
            WatchdogEvent::SetTimeoutFailed(n, e) => write!(
                f,
                "WDIOC_SETTIMEOUT: Failed to set watchdog timer to {n} seconds.: {}",
                strerror(*e as i32)
            ),
            WatchdogEvent::WriteFailed(p, _) => {
                write!(f, "Watchdog write failure: closing {}!", p.display())
            }
            WatchdogEvent::MagicFailed(p, _) => write!(
                f,
                "Watchdog write magic character failure: closing {}!",
                p.display()
            ),
        }
    }
}

/// An open watchdog device.
#[derive(Debug)]
pub struct Watchdog {
    path: PathBuf,
    file: Option<File>,
}

impl Watchdog {
    /// Opens `path` and, for a character device, sets the timeout from `deadtime`.
    /// Returns the watchdog (if it opened) and the events to log, in order.
    pub fn open(path: &Path, deadtime: Duration) -> (Option<Watchdog>, Vec<WatchdogEvent>) {
        let mut events = Vec::new();
        let file = match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => {
                events.push(WatchdogEvent::OpenFailed(path.to_owned(), e));
                return (None, events);
            }
        };
        events.push(WatchdogEvent::Opened(path.to_owned()));
        let is_chr = file
            .metadata()
            .map(|m| m.file_type().is_char_device())
            .unwrap_or(false);
        if is_chr {
            let secs = timeout_secs(deadtime);
            let mut arg: libc::c_int = secs;
            // SAFETY: `file` is an open descriptor for the call's duration and `arg` is a
            // live c_int the kernel reads and writes back (WDIOC_SETTIMEOUT is _IOWR).
            match unsafe { wdioc_settimeout(file.as_raw_fd(), &mut arg) } {
                Ok(_) => events.push(WatchdogEvent::TimeoutSet(arg)),
                Err(e) => events.push(WatchdogEvent::SetTimeoutFailed(secs, e)),
            }
        }
        (
            Some(Watchdog {
                path: path.to_owned(),
                file: Some(file),
            }),
            events,
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the device is still in use (a failed kick abandons it).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Keep-alive: one NUL byte. On failure the watchdog is closed (without `V`) and the
    /// event to log is returned.
    pub fn kick(&mut self) -> Option<WatchdogEvent> {
        let f = self.file.as_mut()?;
        match f.write(&[0]) {
            Ok(1) => None,
            Ok(_) => {
                self.file = None;
                Some(WatchdogEvent::WriteFailed(
                    self.path.clone(),
                    io::Error::from(io::ErrorKind::WriteZero),
                ))
            }
            Err(e) => {
                self.file = None;
                Some(WatchdogEvent::WriteFailed(self.path.clone(), e))
            }
        }
    }

    /// Orderly close: write the magic `V` so a driver without `nowayout` disarms, then close.
    pub fn close_clean(mut self) -> Option<WatchdogEvent> {
        let mut f = self.file.take()?;
        match f.write(b"V") {
            Ok(1) => None,
            Ok(_) => Some(WatchdogEvent::MagicFailed(
                self.path.clone(),
                io::Error::from(io::ErrorKind::WriteZero),
            )),
            Err(e) => Some(WatchdogEvent::MagicFailed(self.path.clone(), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::Mode;
    use std::io::Read;

    #[test]
    fn timeout_is_deadtime_plus_ten_ms_rounded_up() {
        assert_eq!(timeout_secs(Duration::from_secs(30)), 31);
        assert_eq!(timeout_secs(Duration::from_millis(3000)), 4);
        assert_eq!(timeout_secs(Duration::from_millis(2990)), 3);
        assert_eq!(timeout_secs(Duration::from_millis(2991)), 4);
    }

    #[test]
    fn fifo_sees_kicks_and_magic_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wd");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let mut reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let (wd, events) = Watchdog::open(&path, Duration::from_secs(30));
        let mut wd = wd.expect("opened");
        assert_eq!(events.len(), 1, "no ioctl on a FIFO: {events:?}");
        assert_eq!(events[0].level(), Level::Notice);
        assert_eq!(
            events[0].to_string(),
            format!("Using watchdog device: {}", path.display())
        );
        assert!(wd.kick().is_none());
        assert!(wd.kick().is_none());
        assert!(wd.close_clean().is_none());
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"\0\0V");
    }

    #[test]
    fn drop_closes_without_the_magic_character() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wd");
        std::fs::write(&path, b"").unwrap();
        let (wd, events) = Watchdog::open(&path, Duration::from_secs(3));
        assert_eq!(events.len(), 1);
        let mut wd = wd.unwrap();
        assert!(wd.kick().is_none());
        drop(wd);
        assert_eq!(std::fs::read(&path).unwrap(), b"\0");
    }

    #[test]
    fn missing_device_is_reported_not_fatal() {
        let (wd, events) = Watchdog::open(Path::new("/nonexistent/watchdog"), Duration::ZERO);
        assert!(wd.is_none());
        assert_eq!(events[0].level(), Level::Error);
        assert_eq!(
            events[0].to_string(),
            "Cannot open watchdog device: /nonexistent/watchdog"
        );
    }

    #[test]
    fn fifo_without_reader_fails_to_open_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wd");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let (wd, events) = Watchdog::open(&path, Duration::ZERO);
        assert!(wd.is_none());
        assert!(matches!(events[0], WatchdogEvent::OpenFailed(..)));
    }

    #[test]
    fn a_char_device_that_is_no_watchdog_reports_the_ioctl_failure() {
        // /dev/null is a character device without the watchdog ioctl: ENOTTY.
        let (wd, events) = Watchdog::open(Path::new("/dev/null"), Duration::from_secs(30));
        assert!(wd.is_some());
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].to_string(),
            "WDIOC_SETTIMEOUT: Failed to set watchdog timer to 31 seconds.: Inappropriate ioctl for device"
        );
    }

    #[test]
    fn a_failed_kick_abandons_the_watchdog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wd");
        nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let (wd, _) = Watchdog::open(&path, Duration::ZERO);
        let mut wd = wd.unwrap();
        drop(reader); // writes now fail with EPIPE (SIGPIPE is ignored by the test harness)
        let ev = wd.kick().expect("write failure");
        assert_eq!(
            ev.to_string(),
            format!("Watchdog write failure: closing {}!", path.display())
        );
        assert!(!wd.is_open());
        assert!(wd.kick().is_none(), "abandoned: no further writes");
    }
}
