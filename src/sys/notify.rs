//! systemd's readiness protocol without libsystemd: datagrams such as `READY=1`,
//! `WATCHDOG=1`, `STOPPING=1` to the unix socket named by `NOTIFY_SOCKET` (a path, or an
//! abstract name when it starts with `@`). With `WatchdogSec=` systemd sets `WATCHDOG_USEC`
//! (and `WATCHDOG_PID`); the daemon sends `WATCHDOG=1` at half that interval.
//!
//! Resource scripts must not inherit `NOTIFY_SOCKET`: the spawner removes it from their
//! environment (`Command::env_remove`).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::time::Duration;

pub const ENV_SOCKET: &str = "NOTIFY_SOCKET";

/// A connection to the service manager.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; `None` when not run by systemd with `Type=notify`.
    pub fn from_env() -> Option<io::Result<Notifier>> {
        let path: OsString = std::env::var_os(ENV_SOCKET)?;
        if path.is_empty() {
            return None;
        }
        Some(Notifier::new(&path))
    }

    /// For the socket `path` (`@name` = abstract namespace).
    pub fn new(path: &OsStr) -> io::Result<Notifier> {
        let bytes = path.as_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name)?,
            None => SocketAddr::from_pathname(path)?,
        };
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        Ok(Notifier { sock, addr })
    }

    /// Sends one notification (newline-separated `KEY=VALUE` assignments).
    pub fn send(&self, state: &str) -> io::Result<()> {
        self.sock.send_to_addr(state.as_bytes(), &self.addr)?;
        Ok(())
    }

    /// Start-up finished (media open, main loop entered).
    pub fn ready(&self) -> io::Result<()> {
        self.send(&format!("READY=1\nMAINPID={}", std::process::id()))
    }

    /// The service watchdog keep-alive.
    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }

    /// Graceful shutdown has begun.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// A free-form status line (`systemctl status` shows it).
    pub fn status(&self, text: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", text.replace('\n', " ")))
    }
}

/// The systemd watchdog interval from `WATCHDOG_USEC`, if it is meant for `pid`
/// (`WATCHDOG_PID` unset or equal). Send `WATCHDOG=1` at half of it.
pub fn watchdog_interval(usec: Option<&str>, wd_pid: Option<&str>, pid: u32) -> Option<Duration> {
    if wd_pid.is_some_and(|p| p.trim().parse::<u32>().ok() != Some(pid)) {
        return None;
    }
    let us: u64 = usec?.trim().parse().ok()?;
    (us > 0).then(|| Duration::from_micros(us))
}

/// [`watchdog_interval`] for this process from its environment.
pub fn watchdog_interval_from_env() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(s: &UnixDatagram) -> String {
        let mut buf = [0u8; 256];
        let n = s.recv(&mut buf).expect("notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn notifications_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(path.as_os_str()).unwrap();
        n.ready().unwrap();
        n.watchdog().unwrap();
        n.status("2 nodes\nup").unwrap();
        n.stopping().unwrap();
        assert_eq!(
            recv(&server),
            format!("READY=1\nMAINPID={}", std::process::id())
        );
        assert_eq!(recv(&server), "WATCHDOG=1");
        assert_eq!(recv(&server), "STATUS=2 nodes up");
        assert_eq!(recv(&server), "STOPPING=1");
    }

    #[test]
    fn abstract_socket_names_are_supported() {
        let name = format!("hb-rs-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::new(OsStr::new(&format!("@{name}"))).unwrap();
        n.watchdog().unwrap();
        assert_eq!(recv(&server), "WATCHDOG=1");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let n = Notifier::new(OsStr::new("/nonexistent/notify")).unwrap();
        assert!(n.ready().is_err());
    }

    #[test]
    fn watchdog_interval_honours_watchdog_pid() {
        assert_eq!(
            watchdog_interval(Some("30000000"), None, 5),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            watchdog_interval(Some("30000000"), Some("5"), 5),
            Some(Duration::from_secs(30))
        );
        assert_eq!(watchdog_interval(Some("30000000"), Some("6"), 5), None);
        assert_eq!(watchdog_interval(Some("0"), None, 5), None);
        assert_eq!(watchdog_interval(Some("x"), None, 5), None);
        assert_eq!(watchdog_interval(None, None, 5), None);
    }
}
