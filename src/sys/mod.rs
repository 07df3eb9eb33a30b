//! The edge: every OS interaction (sockets, serial, signals, processes, files, logging,
//! watchdog). No protocol decision is made here.
//!
//! Each module owns one kind of OS object and is tested against a harmless stand-in (temp
//! dirs, FIFOs, a pty pair, loopback sockets, a recorder command); none touches
//! `/dev/watchdog`, `/run`, `/var/lib/heartbeat` or the machine's interfaces in tests.
//! `unsafe` is allowed per file, only where nix has no safe wrapper, each use with a
//! `// SAFETY:` comment.

/// Gratuitous ARP (AF_PACKET) for re-announcing addresses.
pub mod arp;
/// Monotonic and wall clocks; poll timeouts from the core's deadline.
pub mod clock;
/// Daemonising, realtime, the children's environment.
pub mod daemon;
/// The one pump: OS events into the core, actions out to the OS.
pub mod event_loop;
/// `/var/lib/heartbeat/fifo`: messages from hb_standby & co.
pub mod fifo;
/// Fuzz entry points (also replayed by `cargo test`).
#[doc(hidden)]
pub mod fuzzing;
/// Log line layouts (byte-exact) and the router to logfile / debugfile / syslog.
pub mod log;
/// A configured medium opened as its link (UDP or serial).
pub mod media;
/// systemd readiness / watchdog notifications.
pub mod notify;
/// `/run/heartbeat.pid`, `-s` / `-k`.
pub mod pidfile;
/// ICMP echo for ping nodes.
pub mod ping;
/// The replaceable reboot action.
pub mod reboot;
/// SIGHUP: which configuration files changed.
pub mod reload;
/// Serial media: termios, `>>>`/`<<<` framing, UUCP lock.
pub mod serial;
/// Signals into mio (signalfd).
pub mod signals;
/// Running scripts: process groups, output, environment, reaping.
pub mod spawn;
/// `/var/lib/heartbeat`: `hb_generation`, `hb_uuid`.
pub mod state;
/// UDP media: bcast, ucast, mcast.
pub mod udp;
/// The kernel watchdog device.
pub mod watchdog;
