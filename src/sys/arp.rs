//! Gratuitous ARP: announcing that an IPv4 address now lives at our MAC, so that clients
//! and routers update their caches at once instead of after their ARP entries expire.
//!
//! Like heartbeat's `send_arp`, every announcement is a pair: an ARP request and an ARP
//! reply for our own address (some systems only heed one of the two), broadcast on the
//! interface, with half the interval between the two frames. Frames are built by pure
//! functions ([`frame`]) and sent over an AF_PACKET socket ([`ArpSocket`]); [`Announcer`]
//! spreads the repeats over time without blocking (the daemon schedules it), [`announce`]
//! blocks (the `send_arp` command).
//!
//! Also here: the `send_arp`-compatible command line ([`SendArpArgs`], [`send_arp_main`]).

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType, SockaddrLike, sendto, socket,
};

pub const ETH_P_ARP: u16 = 0x0806;
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// Ethernet minimum frame length without FCS; ARP frames are padded to it.
pub const FRAME_LEN: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpOp {
    Request = 1,
    Reply = 2,
}

/// One gratuitous ARP frame (Ethernet header included, zero padded to 60 bytes):
/// sender and target protocol address are both `ip`; the target hardware address is
/// zero in the request and broadcast in the reply.
pub fn frame(op: ArpOp, mac: [u8; 6], ip: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    let tha = match op {
        ArpOp::Request => [0u8; 6],
        ArpOp::Reply => BROADCAST,
    };
    let parts: [&[u8]; 11] = [
        &BROADCAST,
        &mac,
        &ETH_P_ARP.to_be_bytes(),
        &1u16.to_be_bytes(),      // hardware: Ethernet
        &0x0800u16.to_be_bytes(), // protocol: IPv4
        &[6, 4],
        &(op as u16).to_be_bytes(),
        &mac,
        &ip.octets(),
        &tha,
        &ip.octets(),
    ];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = f.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
    f
}

#[derive(Debug)]
pub enum ArpError {
    NoSuchInterface { iface: String },
    Mac { iface: String, err: std::io::Error },
    BadMac { iface: String, text: String },
    Socket(nix::Error),
    Send { iface: String, err: nix::Error },
}

impl std::fmt::Display for ArpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArpError::NoSuchInterface { iface } => write!(f, "no such interface: {iface}"),
            ArpError::Mac { iface, err } => write!(f, "cannot read the MAC of {iface}: {err}"),
            ArpError::BadMac { iface, text } => write!(f, "bad MAC address of {iface}: {text}"),
            ArpError::Socket(e) => write!(f, "cannot open a packet socket: {e}"),
            ArpError::Send { iface, err } => write!(f, "cannot send ARP on {iface}: {err}"),
        }
    }
}

impl std::error::Error for ArpError {}

/// `aa:bb:cc:dd:ee:ff` (also accepts `-` separators and single hex digits per byte).
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

/// The interface's own MAC, from getifaddrs (netlink underneath: right in any network
/// namespace, unlike /sys/class/net, which shows the namespace sysfs was mounted in).
pub fn interface_mac(iface: &str) -> Result<[u8; 6], ArpError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| ArpError::Mac {
        iface: iface.into(),
        err: std::io::Error::from_raw_os_error(e as i32),
    })?;
    let mut seen = false;
    for a in addrs.filter(|a| a.interface_name == iface) {
        seen = true;
        if let Some(mac) = a
            .address
            .as_ref()
            .and_then(|s| s.as_link_addr())
            .and_then(|l| l.addr())
        {
            return Ok(mac);
        }
    }
    if seen {
        Err(ArpError::BadMac {
            iface: iface.into(),
            text: "no link-layer address".into(),
        })
    } else {
        Err(ArpError::NoSuchInterface {
            iface: iface.into(),
        })
    }
}

/// A send-only AF_PACKET socket on one interface.
#[derive(Debug)]
pub struct ArpSocket {
    fd: OwnedFd,
    to: LinkAddr,
    iface: String,
}

impl ArpSocket {
    pub fn open(iface: &str) -> Result<ArpSocket, ArpError> {
        let index =
            nix::net::if_::if_nametoindex(iface).map_err(|_| ArpError::NoSuchInterface {
                iface: iface.into(),
            })?;
        // Protocol 0: this socket receives nothing, it only sends.
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(ArpError::Socket)?;
        Ok(ArpSocket {
            fd,
            to: link_addr(index, BROADCAST)?,
            iface: iface.into(),
        })
    }

    pub fn send(&self, frame: &[u8]) -> Result<(), ArpError> {
        sendto(self.fd.as_raw_fd(), frame, &self.to, MsgFlags::empty())
            .map(|_| ())
            .map_err(|err| ArpError::Send {
                iface: self.iface.clone(),
                err,
            })
    }
}

#[allow(unsafe_code)]
fn link_addr(ifindex: u32, dst: [u8; 6]) -> Result<LinkAddr, ArpError> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: nix::libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = nix::libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = i32::try_from(ifindex).map_err(|_| ArpError::Socket(nix::Error::EINVAL))?;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&dst);
    let len = std::mem::size_of::<nix::libc::sockaddr_ll>() as nix::libc::socklen_t;
    // SAFETY: the pointer is to a live, fully initialised sockaddr_ll of the given length.
    unsafe { LinkAddr::from_raw(std::ptr::from_ref(&sll).cast(), Some(len)) }
        .ok_or(ArpError::Socket(nix::Error::EINVAL))
}

/// Repeated announcements of one address, paced by the caller: call [`Announcer::fire`]
/// when [`Announcer::due_in`] has passed since the previous call.
#[derive(Clone, Debug)]
pub struct Announcer {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    /// Announcement pairs still to send (two frames each).
    remaining_frames: u32,
    interval: Duration,
}

impl Announcer {
    /// `count` pairs, a pair every `interval` (heartbeat: 10 × 500 ms for IPaddr,
    /// 5 × 200 ms for IPaddr2).
    pub fn new(mac: [u8; 6], ip: Ipv4Addr, count: u32, interval: Duration) -> Announcer {
        Announcer {
            mac,
            ip,
            remaining_frames: count.saturating_mul(2),
            interval,
        }
    }

    pub fn done(&self) -> bool {
        self.remaining_frames == 0
    }

    /// The next frame to send, or `None` when done (pure; the caller sends it).
    pub fn next_frame(&mut self) -> Option<[u8; FRAME_LEN]> {
        if self.remaining_frames == 0 {
            return None;
        }
        let op = if self.remaining_frames % 2 == 0 {
            ArpOp::Request
        } else {
            ArpOp::Reply
        };
        self.remaining_frames -= 1;
        Some(frame(op, self.mac, self.ip))
    }

    /// Wait between two frames: half the interval, as send_arp does.
    pub fn gap(&self) -> Duration {
        self.interval / 2
    }

    /// Send the next frame; `Ok(Some(wait))` while more remain.
    pub fn fire(&mut self, sock: &ArpSocket) -> Result<Option<Duration>, ArpError> {
        if let Some(f) = self.next_frame() {
            sock.send(&f)?;
        }
        Ok((!self.done()).then(|| self.gap()))
    }
}

/// Send all announcements, sleeping between them (the command; never the daemon loop).
#[allow(clippy::disallowed_methods)] // a command-line tool may sleep
pub fn announce(iface: &str, mut a: Announcer) -> Result<(), ArpError> {
    let sock = ArpSocket::open(iface)?;
    while let Some(wait) = a.fire(&sock)? {
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
    if let Some(p) = &a.pidfile {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            eprintln!("send_arp: cannot write pid file {}: {e}", p.display());
        }
    }
    let res = (|| {
        let mac = match a.mac {
            Some(m) => m,
            None => interface_mac(&a.iface)?,
        };
        announce(&a.iface, Announcer::new(mac, a.ip, a.count, a.interval))
    })();
    if let Some(p) = &a.pidfile {
        let _ = std::fs::remove_file(p);
    }
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("send_arp: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_frames() {
        let mac = [0x02, 0x48, 0x42, 0, 0, 0x0b];
        let ip = Ipv4Addr::new(192, 0, 2, 100);
        let f = frame(ArpOp::Request, mac, ip);
        let head: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0x48, 0x42, 0, 0, 0x0b, 8, 6, // ethernet
            0, 1, 8, 0, 6, 4, 0, 1, // arp header, op request
            2, 0x48, 0x42, 0, 0, 0x0b, 192, 0, 2, 100, // sender
            0, 0, 0, 0, 0, 0, 192, 0, 2, 100, // target
        ];
        assert_eq!(&f[..42], &head);
        assert!(f[42..].iter().all(|b| *b == 0));
        let r = frame(ArpOp::Reply, mac, ip);
        assert_eq!(&r[20..22], &[0, 2]);
        assert_eq!(&r[32..38], &BROADCAST);
        assert_eq!(&r[38..42], &[192, 0, 2, 100]);
    }

    #[test]
    fn announcer_sends_pairs_with_half_interval_gaps() {
        let mut a = Announcer::new(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(10, 0, 0, 1),
            3,
            Duration::from_millis(500),
        );
        assert_eq!(a.gap(), Duration::from_millis(250));
        let ops: Vec<u8> = std::iter::from_fn(|| a.next_frame())
            .map(|f| f[21])
            .collect();
        assert_eq!(ops, [1, 2, 1, 2, 1, 2]);
        assert!(a.done());
        let mut z = Announcer::new([0; 6], Ipv4Addr::LOCALHOST, 0, Duration::ZERO);
        assert!(z.done() && z.next_frame().is_none());
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:48:42:00:00:0b\n"),
            Some([2, 0x48, 0x42, 0, 0, 0xb])
        );
        assert_eq!(parse_mac("2-48-42-0-0-b"), Some([2, 0x48, 0x42, 0, 0, 0xb]));
        assert_eq!(parse_mac("02:48:42:00:00"), None);
        assert_eq!(parse_mac("02:48:42:00:00:0b:0c"), None);
        assert_eq!(parse_mac("02:48:42:00:00:zz"), None);
        assert_eq!(parse_mac("02:48:42:00:00:100"), None);
        assert_eq!(parse_mac(""), None);
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
