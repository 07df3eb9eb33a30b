//! The `send_arp` command (heartbeat's command line, as resource-agents' IPaddr and
//! IPaddr2 call it) and the pacing of repeated announcements, on top of [`sys::arp`]'s
//! frames and packet socket.
//!
//! Like heartbeat's send_arp, each announcement is a pair (an ARP request, then an ARP
//! reply) and the sender waits half the repeat interval after every frame but the last.
//!
//! [`sys::arp`]: crate::sys::arp

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::sys::arp::{ArpSender, Op};

/// `aa:bb:cc:dd:ee:ff` (also `-` separators and one hex digit per byte).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut n = 0;
    for part in s.trim().split([':', '-']) {
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *mac.get_mut(n)? = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(mac)
}

/// Repeated announcements of one address, paced by the caller (the daemon's timer, or
/// [`announce`]): send [`Announcer::next_op`]'s frame, wait [`Announcer::gap`], repeat.
#[derive(Clone, Debug)]
pub struct Announcer {
    pub ip: Ipv4Addr,
    remaining_frames: u32,
    interval: Duration,
}

impl Announcer {
    /// `count` pairs, one pair per `interval` (heartbeat: IPaddr 10 x 500 ms, IPaddr2
    /// 5 x 200 ms).
    pub fn new(ip: Ipv4Addr, count: u32, interval: Duration) -> Announcer {
        Announcer {
            ip,
            remaining_frames: count.saturating_mul(2),
            interval,
        }
    }

    pub fn done(&self) -> bool {
        self.remaining_frames == 0
    }

    /// The next frame's operation (request, reply, request, ...), `None` when done.
    pub fn next_op(&mut self) -> Option<Op> {
        if self.remaining_frames == 0 {
            return None;
        }
        let op = if self.remaining_frames.is_multiple_of(2) {
            Op::Request
        } else {
            Op::Reply
        };
        self.remaining_frames -= 1;
        Some(op)
    }

    /// The wait after a frame: half the interval.
    pub fn gap(&self) -> Duration {
        self.interval / 2
    }

    /// Sends the next frame; `Ok(Some(wait))` while more remain.
    pub fn fire(&mut self, sender: &ArpSender) -> std::io::Result<Option<Duration>> {
        if let Some(op) = self.next_op() {
            sender.send(op, self.ip)?;
        }
        Ok((!self.done()).then(|| self.gap()))
    }
}

/// Sends every announcement, sleeping in between (the command; never the event loop).
#[allow(clippy::disallowed_methods)] // a command-line tool may sleep
pub fn announce(iface: &str, mut a: Announcer) -> std::io::Result<()> {
    let sender = ArpSender::open(iface)?;
    while let Some(wait) = a.fire(&sender)? {
        std::thread::sleep(wait);
    }
    Ok(())
}

/// `send_arp [-i MS] [-r COUNT] [-p PIDFILE] DEVICE IP MAC|auto BCAST NETMASK`
/// (heartbeat's usage; BCAST and NETMASK are ignored, as heartbeat's Linux send_arp does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendArpArgs {
    pub interval: Duration,
    pub count: u32,
    pub pidfile: Option<PathBuf>,
    pub iface: String,
    pub ip: Ipv4Addr,
    /// `None` = `auto`: the interface's own MAC.
    pub mac: Option<[u8; 6]>,
}

pub const SEND_ARP_USAGE: &str = "usage: send_arp [-i repeatinterval-ms] [-r repeatcount] \
[-p pidfile] device src_ip_addr src_hw_addr broadcast_ip_addr netmask";

impl SendArpArgs {
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<SendArpArgs, String> {
        use lexopt::prelude::*;
        let mut p = lexopt::Parser::from_args(args);
        let mut interval_ms: u64 = 1000;
        let mut count: u32 = 1;
        let mut pidfile = None;
        let mut pos: Vec<String> = Vec::new();
        while let Some(arg) = p.next().map_err(|e| e.to_string())? {
            match arg {
                Short('i') => {
                    interval_ms = p
                        .value()
                        .map_err(|e| e.to_string())?
                        .parse()
                        .map_err(|e: lexopt::Error| e.to_string())?
                }
                Short('r') => {
                    count = p
                        .value()
                        .map_err(|e| e.to_string())?
                        .parse()
                        .map_err(|e: lexopt::Error| e.to_string())?
                }
                Short('p') => pidfile = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
                Value(v) => pos.push(v.string().map_err(|e| e.to_string())?),
                other => return Err(other.unexpected().to_string()),
            }
        }
        let [iface, ip, mac, ..] = pos.as_slice() else {
            return Err("missing arguments".into());
        };
        if pos.len() != 5 {
            return Err(format!("expected 5 arguments, got {}", pos.len()));
        }
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("bad IPv4 address: {ip}"))?;
        let mac = match mac.as_str() {
            "auto" => None,
            m => Some(parse_mac(m).ok_or_else(|| format!("bad hardware address: {m}"))?),
        };
        Ok(SendArpArgs {
            interval: Duration::from_millis(interval_ms),
            count,
            pidfile,
            iface: iface.clone(),
            ip,
            mac,
        })
    }
}

/// The whole `send_arp` command; returns the exit status.
pub fn send_arp_main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let a = match SendArpArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("send_arp: {e}\n{SEND_ARP_USAGE}");
            return 1;
        }
    };
    if let Some(p) = &a.pidfile
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        eprintln!("send_arp: cannot write pid file {}: {e}", p.display());
    }
    // An explicit MAC is checked but the interface's own is sent: the callers
    // (IPaddr2) pass the interface's MAC anyway.
    let res = announce(&a.iface, Announcer::new(a.ip, a.count, a.interval));
    if let Some(p) = &a.pidfile {
        let _ = std::fs::remove_file(p);
    }
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("send_arp: {}: {e}", a.iface);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcer_sends_pairs_with_half_interval_gaps() {
        let mut a = Announcer::new(Ipv4Addr::new(10, 0, 0, 1), 3, Duration::from_millis(500));
        assert_eq!(a.gap(), Duration::from_millis(250));
        let ops: Vec<Op> = std::iter::from_fn(|| a.next_op()).collect();
        use Op::{Reply, Request};
        assert_eq!(ops, [Request, Reply, Request, Reply, Request, Reply]);
        assert!(a.done());
        let mut z = Announcer::new(Ipv4Addr::LOCALHOST, 0, Duration::ZERO);
        assert!(z.done() && z.next_op().is_none());
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:48:42:00:00:0b\n"),
            Some([2, 0x48, 0x42, 0, 0, 0xb])
        );
        assert_eq!(parse_mac("2-48-42-0-0-b"), Some([2, 0x48, 0x42, 0, 0, 0xb]));
        for bad in [
            "02:48:42:00:00",
            "02:48:42:00:00:0b:0c",
            "02:48:42:00:00:zz",
            "1:2:3:4:5:100",
            "",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn send_arp_command_line_as_resource_agents_use_it() {
        let a = SendArpArgs::parse(args(
            "-i 500 -r 10 -p /run/resource-agents/send_arp-192.0.2.100 eth0 192.0.2.100 auto 192.0.2.100 ffffffffffff",
        ))
        .expect("IPaddr's form");
        assert_eq!(a.interval, Duration::from_millis(500));
        assert_eq!(a.count, 10);
        assert_eq!(
            a.pidfile.as_deref(),
            Some(std::path::Path::new(
                "/run/resource-agents/send_arp-192.0.2.100"
            ))
        );
        assert_eq!(
            (a.iface.as_str(), a.ip, a.mac),
            ("eth0", Ipv4Addr::new(192, 0, 2, 100), None)
        );
        let b = SendArpArgs::parse(args(
            "-i 200 -r 5 -p /x eth1 10.0.0.1 02:00:00:00:00:01 not_used not_used",
        ))
        .expect("IPaddr2's form");
        assert_eq!(b.mac, Some([2, 0, 0, 0, 0, 1]));
        for bad in [
            "eth0 10.0.0.1 auto x",
            "eth0 10.0.0.256 auto x y",
            "eth0 10.0.0.1 nomac x y",
            "-i x eth0 10.0.0.1 auto x y",
            "-q eth0 10.0.0.1 auto x y",
            "",
        ] {
            assert!(SendArpArgs::parse(args(bad)).is_err(), "{bad}");
        }
    }
}
