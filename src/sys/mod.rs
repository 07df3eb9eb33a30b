//! The edge: every OS interaction (sockets, serial, signals, processes, files, logging,
//! watchdog). No protocol decision is made here.
//!
//! Each module owns one kind of OS object and is tested against a harmless stand-in (temp
//! dirs, FIFOs, a pty pair, loopback sockets, a recorder command); none touches
//! `/dev/watchdog`, `/run`, `/var/lib/heartbeat` or the machine's interfaces in tests.
//! `unsafe` is allowed per file, only where nix has no safe wrapper, each use with a
//! `// SAFETY:` comment.

/// Implements `mio::event::Source` for a type that wraps one pollable file descriptor,
/// by registering that field's raw fd (most OS objects here are exactly that).
macro_rules! fd_source {
    ($ty:ty, $field:ident) => {
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.$field.as_raw_fd()).register(registry, token, interests)
            }
            fn reregister(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.$field.as_raw_fd()).reregister(registry, token, interests)
            }
            fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
                use std::os::fd::AsRawFd;
                mio::unix::SourceFd(&self.$field.as_raw_fd()).deregister(registry)
            }
        }
    };
}
use fd_source;

/// The local control socket (hb_standby, hb_takeover, cl_status ⇄ daemon).
pub mod api_socket;
/// Gratuitous ARP (AF_PACKET) for re-announcing addresses.
pub mod arp;
/// Monotonic and wall clocks; poll timeouts from the core's deadline.
pub mod clock;
/// Daemonising, realtime, the children's environment.
pub mod daemon;
/// The one pump: OS events into the core, actions out to the OS.
pub mod event_loop;
/// Fencing: the `stonith` command, fence agents, manual acknowledgement (meatware).
pub mod fence;
/// `/var/lib/heartbeat/fifo`: messages from hb_standby & co.
pub mod fifo;
/// Fuzz entry points (also replayed by `cargo test`).
#[doc(hidden)]
pub mod fuzzing;
/// `/proc/loadavg` for the `ld` field.
pub mod loadavg;
/// Log line layouts (byte-exact) and the router to logfile / debugfile / syslog.
pub mod log;
/// A configured medium opened as its link (UDP or serial).
pub mod media;
/// IPaddr/IPaddr2 in-process: the failover path without a shell.
pub mod native_ip;
/// Unsolicited neighbour advertisements (IPv6's gratuitous ARP).
pub mod ndp;
/// IPv4 service addresses via rtnetlink; heartbeat's `ip[/nm[/if[/bcast]]]`.
pub mod netaddr;
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
/// Fuzz entry point of the resource parsers (also replayed by `cargo test`).
#[doc(hidden)]
pub mod resource_fuzzing;
/// Resource operations: resolution, invocation, status interpretation, timeouts.
pub mod script;
/// The `send_arp`-compatible command and paced announcements.
pub mod send_arp;
/// Serial media: termios, `>>>`/`<<<` framing, UUCP lock.
pub mod serial;
/// Signals into mio (signalfd).
pub mod signals;
/// Running scripts: process groups, output, environment, reaping.
pub mod spawn;
/// `/var/lib/heartbeat`: `hb_generation`, `hb_uuid`.
pub mod state;
/// The control socket's snapshot and `--wait` outcomes, from the core's status and notices.
pub mod status;
/// UDP media: bcast, ucast, mcast.
pub mod udp;
/// The kernel watchdog device.
pub mod watchdog;
