//! Adding and removing a service IPv4 address natively (rtnetlink, RTM_NEWADDR /
//! RTM_DELADDR), the in-process equivalent of our IPaddr/IPaddr2 scripts' `ip addr`:
//! no shell start-up on the failover path.
//!
//! Pure parts: [`IpSpec::parse`] (heartbeat's `ip[/nm[/if[/bcast]]]`), [`addr_message`]
//! (the netlink request), [`parse_ack`]. The edge parts: [`find_interface`] (heartbeat's
//! findif, from the interfaces' own addresses), [`add_ipv4`], [`del_ipv4`], [`has_ipv4`].

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    socket,
};

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const AF_INET: u8 = 2;
const IFNAMSIZ: usize = 16;

/// heartbeat's IP resource argument: `IP[/NM[/IFACE[/BCAST]]]`, NM in CIDR bits or dotted
/// quad; a third field starting with a digit is the broadcast; `eth0:label` gives a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSpec {
    pub ip: Ipv4Addr,
    pub prefix: Option<u8>,
    pub iface: Option<String>,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
}

impl IpSpec {
    pub fn parse(arg: &str) -> Result<IpSpec, String> {
        let mut f = arg.split('/');
        let ip_s = f.next().unwrap_or("");
        let ip: Ipv4Addr = ip_s
            .parse()
            .map_err(|_| format!("Invalid IP address [{ip_s}]"))?;
        let prefix = match f.next() {
            None | Some("") => None,
            Some(nm) => Some(mask_bits(nm).ok_or_else(|| format!("Invalid netmask [{nm}]"))?),
        };
        let (mut iface, mut broadcast) = (None, None);
        if let Some(third) = f.next().filter(|s| !s.is_empty()) {
            if third.starts_with(|c: char| c.is_ascii_digit()) {
                broadcast = Some(third);
            } else {
                iface = Some(third.to_owned());
                broadcast = f.next().filter(|s| !s.is_empty());
            }
        }
        let broadcast = broadcast
            .map(|b| {
                b.parse::<Ipv4Addr>()
                    .map_err(|_| format!("Invalid broadcast address [{b}]"))
            })
            .transpose()?;
        let (iface, label) = match iface {
            Some(i) if i.contains(':') => (i.split(':').next().map(str::to_owned), Some(i)),
            other => (other, None),
        };
        let bad_name = |n: &str| {
            n.is_empty()
                || n.len() >= IFNAMSIZ
                || n.contains(|c: char| c == '/' || c.is_whitespace() || c == '\0')
        };
        if iface.as_deref().is_some_and(bad_name) || label.as_deref().is_some_and(bad_name) {
            return Err(format!("Invalid interface name in [{arg}]"));
        }
        Ok(IpSpec {
            ip,
            prefix,
            iface,
            label,
            broadcast,
        })
    }
}

/// CIDR bits from `24` or `255.255.255.0` (contiguous masks only).
pub fn mask_bits(nm: &str) -> Option<u8> {
    if nm.contains('.') {
        let m = u32::from(nm.parse::<Ipv4Addr>().ok()?);
        let bits = m.leading_ones();
        (m.checked_shl(bits).unwrap_or(0) == 0).then_some(bits as u8)
    } else {
        nm.parse::<u8>().ok().filter(|b| *b <= 32)
    }
}

/// The broadcast address `ip addr add ... brd +` would compute.
pub fn default_broadcast(ip: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    if prefix >= 31 {
        return None;
    }
    let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    Some(Ipv4Addr::from(u32::from(ip) | host))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrOp {
    Add,
    Del,
}

/// The RTM_NEWADDR/RTM_DELADDR request (pure).
pub fn addr_message(
    op: AddrOp,
    seq: u32,
    ifindex: u32,
    ip: Ipv4Addr,
    prefix: u8,
    broadcast: Option<Ipv4Addr>,
    label: Option<&str>,
) -> Vec<u8> {
    let (ty, flags) = match op {
        AddrOp::Add => (
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ),
        AddrOp::Del => (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
    };
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&0u32.to_ne_bytes()); // length, filled in below
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // ifaddrmsg: family, prefixlen, flags, scope (universe), index
    m.extend_from_slice(&[AF_INET, prefix, 0, 0]);
    m.extend_from_slice(&ifindex.to_ne_bytes());
    let mut attr = |ty: u16, data: &[u8]| {
        let len = 4 + data.len();
        m.extend_from_slice(&(len as u16).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(data);
        m.resize(m.len() + (4 - len % 4) % 4, 0);
    };
    attr(IFA_LOCAL, &ip.octets());
    attr(IFA_ADDRESS, &ip.octets());
    if let Some(b) = broadcast {
        attr(IFA_BROADCAST, &b.octets());
    }
    if let Some(l) = label {
        let mut z = l.as_bytes().to_vec();
        z.push(0);
        attr(IFA_LABEL, &z);
    }
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// Finds the acknowledgement of request `seq` in a netlink reply: `Some(Ok(()))`,
/// `Some(Err(errno))`, or `None` when the buffer holds no answer to it.
pub fn parse_ack(buf: &[u8], seq: u32) -> Option<Result<(), Errno>> {
    let mut at = 0usize;
    while let Some(h) = buf.get(at..at + 16) {
        let len = u32::from_ne_bytes(h[0..4].try_into().ok()?) as usize;
        let ty = u16::from_ne_bytes(h[4..6].try_into().ok()?);
        let s = u32::from_ne_bytes(h[8..12].try_into().ok()?);
        if len < 16 {
            return None;
        }
        if ty == NLMSG_ERROR && s == seq {
            let e = i32::from_ne_bytes(buf.get(at + 16..at + 20)?.try_into().ok()?);
            return Some(if e == 0 {
                Ok(())
            } else {
                Err(Errno::from_raw(e.saturating_neg()))
            });
        }
        at = at.checked_add((len + 3) & !3)?;
    }
    None
}

#[derive(Debug)]
pub enum NetAddrError {
    Spec(String),
    NoSuchInterface(String),
    /// No interface address covers the IP, so neither interface nor netmask can be found.
    NoInterfaceFor(Ipv4Addr),
    Netlink(Errno),
}

impl std::fmt::Display for NetAddrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetAddrError::Spec(s) => f.write_str(s),
            NetAddrError::NoSuchInterface(i) => write!(f, "no such interface: {i}"),
            NetAddrError::NoInterfaceFor(ip) => {
                write!(f, "Unable to find nic or netmask for {ip}")
            }
            NetAddrError::Netlink(e) => write!(f, "netlink: {e}"),
        }
    }
}

impl std::error::Error for NetAddrError {}

/// Interface and prefix of the connected network covering `ip` (longest prefix wins), from
/// the interfaces' own IPv4 addresses — what heartbeat's findif derives from the routes.
pub fn find_interface(ip: Ipv4Addr) -> Result<(String, u8), NetAddrError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(NetAddrError::Netlink)?;
    let mut best: Option<(String, u8)> = None;
    for a in addrs {
        let (Some(addr), Some(mask)) = (
            a.address.as_ref().and_then(|s| s.as_sockaddr_in()),
            a.netmask.as_ref().and_then(|s| s.as_sockaddr_in()),
        ) else {
            continue;
        };
        let m = u32::from(mask.ip());
        let bits = m.leading_ones() as u8;
        if bits == 0 || a.interface_name == "lo" {
            continue;
        }
        if u32::from(addr.ip()) & m == u32::from(ip) & m && best.as_ref().is_none_or(|b| bits > b.1)
        {
            best = Some((a.interface_name.clone(), bits));
        }
    }
    best.ok_or(NetAddrError::NoInterfaceFor(ip))
}

/// Where `ip` is configured: `(interface, prefix)`.
pub fn has_ipv4(ip: Ipv4Addr) -> Result<Option<(String, u8)>, NetAddrError> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(NetAddrError::Netlink)?;
    for a in addrs {
        let Some(addr) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) else {
            continue;
        };
        if addr.ip() == ip {
            let bits = a
                .netmask
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map_or(32, |m| u32::from(m.ip()).leading_ones() as u8);
            // A label "eth0:web" belongs to eth0.
            let name = a.interface_name.split(':').next().unwrap_or("").to_owned();
            return Ok(Some((name, bits)));
        }
    }
    Ok(None)
}

/// What an add resolved to (for logging and the ARP announcement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub iface: String,
    pub prefix: u8,
    /// False when the address was already there (idempotent start).
    pub changed: bool,
}

fn ifindex(name: &str) -> Result<u32, NetAddrError> {
    nix::net::if_::if_nametoindex(name).map_err(|_| NetAddrError::NoSuchInterface(name.into()))
}

/// Add the address of `spec` (finding interface/prefix like findif when not given).
pub fn add_ipv4(spec: &IpSpec) -> Result<Added, NetAddrError> {
    if let Some((iface, prefix)) = has_ipv4(spec.ip)? {
        return Ok(Added {
            iface,
            prefix,
            changed: false,
        });
    }
    let (iface, prefix) = match (&spec.iface, spec.prefix) {
        (Some(i), Some(p)) => (i.clone(), p),
        (i, p) => {
            let (fi, fp) = find_interface(spec.ip)?;
            (i.clone().unwrap_or(fi), p.unwrap_or(fp))
        }
    };
    let idx = ifindex(&iface)?;
    let brd = spec
        .broadcast
        .or_else(|| default_broadcast(spec.ip, prefix));
    request(&addr_message(
        AddrOp::Add,
        1,
        idx,
        spec.ip,
        prefix,
        brd,
        spec.label.as_deref(),
    ))?;
    Ok(Added {
        iface,
        prefix,
        changed: true,
    })
}

/// Remove `ip` wherever it is; `Ok(false)` if it was not configured (stop succeeds).
pub fn del_ipv4(ip: Ipv4Addr) -> Result<bool, NetAddrError> {
    let Some((iface, prefix)) = has_ipv4(ip)? else {
        return Ok(false);
    };
    let idx = ifindex(&iface)?;
    match request(&addr_message(AddrOp::Del, 1, idx, ip, prefix, None, None)) {
        Ok(()) => Ok(true),
        // Gone meanwhile: stopped is stopped.
        Err(NetAddrError::Netlink(Errno::EADDRNOTAVAIL)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn request(msg: &[u8]) -> Result<(), NetAddrError> {
    let fd: OwnedFd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(NetAddrError::Netlink)?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(NetAddrError::Netlink)?;
    sendto(
        fd.as_raw_fd(),
        msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(NetAddrError::Netlink)?;
    let seq = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
    let mut buf = vec![0u8; 8192];
    // The kernel answers a request on a fresh socket synchronously; a bounded number of
    // reads guards against a reply we cannot recognise.
    for _ in 0..16 {
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(NetAddrError::Netlink(e)),
        };
        if let Some(r) = parse_ack(buf.get(..n).unwrap_or(&[]), seq) {
            return r.map_err(NetAddrError::Netlink);
        }
    }
    Err(NetAddrError::Netlink(Errno::EPROTO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_spec_forms() {
        let p = |s: &str| IpSpec::parse(s);
        let ip = Ipv4Addr::new(192, 0, 2, 100);
        assert_eq!(
            p("192.0.2.100"),
            Ok(IpSpec {
                ip,
                prefix: None,
                iface: None,
                label: None,
                broadcast: None
            })
        );
        let s = p("192.0.2.100/24/eth0").expect("ip/nm/if");
        assert_eq!((s.prefix, s.iface.as_deref()), (Some(24), Some("eth0")));
        let s = p("192.0.2.100/255.255.255.128/192.0.2.127").expect("ip/nm/bcast");
        assert_eq!(
            (s.prefix, s.iface, s.broadcast),
            (Some(25), None, Some(Ipv4Addr::new(192, 0, 2, 127)))
        );
        let s = p("192.0.2.100/24/eth0:web/192.0.2.255").expect("all");
        assert_eq!(
            (s.iface.as_deref(), s.label.as_deref(), s.broadcast),
            (
                Some("eth0"),
                Some("eth0:web"),
                Some(Ipv4Addr::new(192, 0, 2, 255))
            )
        );
        for bad in [
            "",
            "192.0.2",
            "192.0.2.300",
            "192.0.2.1/33",
            "192.0.2.1/255.0.255.0",
            "192.0.2.1/24/eth0/1.2.3",
            "192.0.2.1/24/averyveryverylongname",
            "3com.a.b.c",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn broadcast_defaults() {
        let ip = Ipv4Addr::new(192, 0, 2, 100);
        assert_eq!(
            default_broadcast(ip, 24),
            Some(Ipv4Addr::new(192, 0, 2, 255))
        );
        assert_eq!(
            default_broadcast(ip, 0),
            Some(Ipv4Addr::new(255, 255, 255, 255))
        );
        assert_eq!(default_broadcast(ip, 31), None);
        assert_eq!(mask_bits("0.0.0.0"), Some(0));
        assert_eq!(mask_bits("255.255.255.255"), Some(32));
    }

    #[test]
    fn netlink_request_layout() {
        let m = addr_message(
            AddrOp::Add,
            7,
            3,
            Ipv4Addr::new(10, 0, 0, 1),
            24,
            Some(Ipv4Addr::new(10, 0, 0, 255)),
            Some("eth0:x"),
        );
        assert_eq!(m.len(), 16 + 8 + 8 + 8 + 8 + 12);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap_or_default()),
            m.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWADDR);
        assert_eq!(
            u16::from_ne_bytes([m[6], m[7]]),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        assert_eq!(&m[16..20], &[AF_INET, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 3);
        assert_eq!(&m[28..32], &[10, 0, 0, 1]);
        assert_eq!(&m[52..59], b"eth0:x\0");
        let d = addr_message(
            AddrOp::Del,
            1,
            3,
            Ipv4Addr::new(10, 0, 0, 1),
            24,
            None,
            None,
        );
        assert_eq!(d.len(), 40);
    }

    #[test]
    fn acks_are_found_and_garbage_is_not_trusted() {
        let ack = |seq: u32, err: i32| {
            let mut b = Vec::new();
            b.extend_from_slice(&36u32.to_ne_bytes());
            b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            b.extend_from_slice(&0u16.to_ne_bytes());
            b.extend_from_slice(&seq.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&err.to_ne_bytes());
            b.extend_from_slice(&[0u8; 16]);
            b
        };
        assert_eq!(parse_ack(&ack(5, 0), 5), Some(Ok(())));
        assert_eq!(parse_ack(&ack(5, -17), 5), Some(Err(Errno::EEXIST)));
        assert_eq!(parse_ack(&ack(4, 0), 5), None);
        let mut two = ack(4, 0);
        two.extend(ack(5, -99));
        assert_eq!(parse_ack(&two, 5), Some(Err(Errno::from_raw(99))));
        assert_eq!(parse_ack(&[], 5), None);
        assert_eq!(parse_ack(&[0u8; 16], 5), None);
        assert_eq!(parse_ack(&ack(5, 0)[..18], 5), None);
        let mut huge = ack(4, 0);
        huge[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_ack(&huge, 5), None);
    }
}
