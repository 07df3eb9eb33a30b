//! Heartbeat's UDP media (wire spec §11.1–11.3): `bcast`, `ucast`, `mcast`, and the optional
//! IPv6 media `ucast6` / `mcast6` (behaviour spec §1: `ucast6 DEV PEER6`, `mcast6 DEV GROUP
//! PORT HOPS LOOP`), set up like their IPv4 counterparts.
//!
//! Each medium is a send socket and a receive socket set up exactly as heartbeat's plugins
//! do (socket options, bound device, destination); the receive socket is the one registered
//! with mio. Receiving never filters on source address or port (authentication, in the
//! core, is the only check), with one exception that changes nothing but cost: a bcast
//! receive socket drops, in the kernel, the copies of our own broadcasts that the kernel
//! loops back (the core would only verify them and drop them as from ourselves). Heartbeat retries a busy bind up to 10 (mcast: 50) times a
//! second apart; here a failed bind is returned at once and the event loop decides whether
//! to retry, so nothing in this module sleeps.

// IP_MULTICAST_IF and SO_ATTACH_FILTER have no sockopt in nix.
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs, UdpSocket,
};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, IpMembershipRequest, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind,
    setsockopt, socket, sockopt,
};

/// Heartbeat's default `udpport` (`ha-cluster` in /etc/services).
pub const DEFAULT_PORT: u16 = 694;

/// IPTOS_LOWDELAY, set on ucast send sockets.
const IPTOS_LOWDELAY: libc::c_int = 0x10;

/// Which plugin a link emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bcast,
    Ucast,
    Mcast,
    Ucast6,
    Mcast6,
}

/// Why a medium could not be opened.
#[derive(Debug)]
pub enum UdpError {
    /// A syscall failed while setting up the medium.
    Sys {
        iface: String,
        what: &'static str,
        err: io::Error,
    },
    /// The interface has no IPv4 address (mcast) or broadcast address (bcast).
    NoAddress { iface: String, what: &'static str },
    /// The ucast peer did not resolve to an IPv4 address (ucast6: to an IPv6 unicast one).
    Resolve { peer: String },
    /// The mcast6 group is not an IPv6 multicast address.
    BadGroup { group: String },
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpError::Sys { iface, what, err } => write!(f, "{iface}: {what}: {err}"),
            UdpError::NoAddress { iface, what } => {
                write!(f, "{iface}: interface has no IPv4 {what} address")
            }
            UdpError::Resolve { peer } => write!(f, "cannot resolve ucast peer {peer}"),
            UdpError::BadGroup { group } => {
                write!(f, "mcast6 group {group} is not an IPv6 multicast address")
            }
        }
    }
}

impl std::error::Error for UdpError {}

fn sys(iface: &str, what: &'static str) -> impl FnOnce(nix::errno::Errno) -> UdpError {
    let iface = iface.to_owned();
    move |e| UdpError::Sys {
        iface,
        what,
        err: io::Error::from(e),
    }
}

fn udp_socket(iface: &str) -> Result<OwnedFd, UdpError> {
    socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(sys(iface, "socket"))
}

fn udp6_socket(iface: &str) -> Result<OwnedFd, UdpError> {
    let fd = socket(
        AddressFamily::Inet6,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(sys(iface, "socket"))?;
    // IPv6 only: an IPv4 medium on the same port is a different socket.
    setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(sys(iface, "IPV6_V6ONLY"))?;
    Ok(fd)
}

fn bind_v6(fd: &OwnedFd, iface: &str, addr: SocketAddrV6) -> Result<(), UdpError> {
    bind(fd.as_raw_fd(), &SockaddrIn6::from(addr)).map_err(sys(iface, "bind"))
}

fn if_index(iface: &str) -> Result<u32, UdpError> {
    nix::net::if_::if_nametoindex(iface).map_err(sys(iface, "if_nametoindex"))
}

/// Link-local addresses (unicast `fe80::/10`, multicast `ff02::/16`) need the interface as
/// their scope.
fn scope_for(ip: Ipv6Addr, index: u32) -> u32 {
    let s = ip.segments()[0];
    if (s & 0xffc0) == 0xfe80 || (s & 0xff0f) == 0xff02 {
        index
    } else {
        0
    }
}

fn bind_to_device(fd: &OwnedFd, iface: &str) -> Result<(), UdpError> {
    setsockopt(fd, sockopt::BindToDevice, &std::ffi::OsString::from(iface))
        .map_err(sys(iface, "SO_BINDTODEVICE"))
}

fn bind_v4(fd: &OwnedFd, iface: &str, addr: SocketAddrV4) -> Result<(), UdpError> {
    bind(fd.as_raw_fd(), &SockaddrIn::from(addr)).map_err(sys(iface, "bind"))
}

/// The interface's IPv4 address and broadcast address.
fn iface_addrs(iface: &str) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return (None, None);
    };
    for a in addrs.filter(|a| a.interface_name == iface) {
        let addr = a
            .address
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .map(|s| s.ip());
        if let Some(addr) = addr {
            let bcast = a
                .broadcast
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map(|s| s.ip())
                .filter(|_| {
                    a.flags
                        .contains(nix::net::if_::InterfaceFlags::IFF_BROADCAST)
                });
            return (Some(addr), bcast);
        }
    }
    (None, None)
}

/// The info lines heartbeat's bcast plugin logs when it starts.
pub fn bcast_started(iface: &str, port: u16) -> Vec<String> {
    vec![format!(
        "glib: UDP Broadcast heartbeat started on port {port} ({port}) interface {iface}"
    )]
}

/// The info lines heartbeat's ucast plugin logs when it starts, in its order.
pub fn ucast_started(iface: &str, peer: &str, port: u16) -> Vec<String> {
    vec![
        format!("glib: ucast: write socket priority set to IPTOS_LOWDELAY on {iface}"),
        format!("glib: ucast: bound send socket to device: {iface}"),
        "glib: ucast: set SO_REUSEPORT(w)".to_owned(),
        "glib: ucast: set SO_REUSEADDR".to_owned(),
        format!("glib: ucast: bound receive socket to device: {iface}"),
        "glib: ucast: set SO_REUSEPORT".to_owned(),
        format!("glib: ucast: started on port {port} interface {iface} to {peer}"),
    ]
}

/// The info line heartbeat's mcast plugin logs when it starts.
pub fn mcast_started(
    iface: &str,
    group: Ipv4Addr,
    port: u16,
    ttl: u8,
    loop_back: bool,
) -> Vec<String> {
    vec![format!(
        "glib: UDP multicast heartbeat started for group {group} port {port} interface {iface} (ttl={ttl} loop={})",
        u8::from(loop_back)
    )]
}

/// The info line heartbeat-rs logs when a `ucast6` medium starts (heartbeat's own plugin
/// lines were not captured, so this one is ours).
pub fn ucast6_started(iface: &str, peer: &str, port: u16) -> Vec<String> {
    vec![format!(
        "heartbeat-rs: ucast6: started on port {port} interface {iface} to {peer}"
    )]
}

/// The info line heartbeat-rs logs when a `mcast6` medium starts (ours, as for ucast6).
pub fn mcast6_started(
    iface: &str,
    group: Ipv6Addr,
    port: u16,
    hops: u8,
    loop_back: bool,
) -> Vec<String> {
    vec![format!(
        "heartbeat-rs: mcast6: started for group {group} port {port} interface {iface} (hops={hops} loop={})",
        u8::from(loop_back)
    )]
}

/// One UDP heartbeat medium.
#[derive(Debug)]
pub struct UdpLink {
    kind: Kind,
    iface: String,
    dest: SocketAddr,
    send: UdpSocket,
    recv: mio::net::UdpSocket,
    started: Vec<String>,
}

impl UdpLink {
    /// `bcast IFACE`: send to the interface's broadcast address from an unbound
    /// SO_BROADCAST|SO_DONTROUTE socket, receive on `0.0.0.0:port` bound to the device.
    pub fn bcast(iface: &str, port: u16) -> Result<UdpLink, UdpError> {
        let (own, bcast) = iface_addrs(iface);
        let bcast = bcast.ok_or_else(|| UdpError::NoAddress {
            iface: iface.to_owned(),
            what: "broadcast",
        })?;
        let send = udp_socket(iface)?;
        setsockopt(&send, sockopt::Broadcast, &true).map_err(sys(iface, "SO_BROADCAST"))?;
        setsockopt(&send, sockopt::DontRoute, &true).map_err(sys(iface, "SO_DONTROUTE"))?;
        bind_to_device(&send, iface)?;
        let recv = udp_socket(iface)?;
        setsockopt(&recv, sockopt::ReuseAddr, &true).map_err(sys(iface, "SO_REUSEADDR"))?;
        bind_to_device(&recv, iface)?;
        bind_v4(&recv, iface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        // Only an optimisation: without it our echoes reach the core, which drops them.
        let _ = drop_own_echoes(&send, &recv, own);
        Ok(UdpLink::new(
            Kind::Bcast,
            iface,
            SocketAddr::V4(SocketAddrV4::new(bcast, port)),
            send,
            recv,
            bcast_started(iface, port),
        ))
    }

    /// `ucast IFACE PEER`: send to `PEER:port` (resolved once) from an unbound socket with
    /// IPTOS_LOWDELAY, SO_BINDTODEVICE and SO_REUSEPORT; receive on `0.0.0.0:port` with
    /// SO_REUSEADDR, SO_REUSEPORT and SO_BINDTODEVICE.
    pub fn ucast(iface: &str, peer: &str, port: u16) -> Result<UdpLink, UdpError> {
        let peer_ip = (peer, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| {
                it.find_map(|a| match a {
                    SocketAddr::V4(v4) => Some(*v4.ip()),
                    SocketAddr::V6(_) => None,
                })
            })
            .ok_or_else(|| UdpError::Resolve {
                peer: peer.to_owned(),
            })?;
        let send = udp_socket(iface)?;
        setsockopt(&send, sockopt::Ipv4Tos, &IPTOS_LOWDELAY).map_err(sys(iface, "IP_TOS"))?;
        bind_to_device(&send, iface)?;
        setsockopt(&send, sockopt::ReusePort, &true).map_err(sys(iface, "SO_REUSEPORT"))?;
        let recv = udp_socket(iface)?;
        setsockopt(&recv, sockopt::ReuseAddr, &true).map_err(sys(iface, "SO_REUSEADDR"))?;
        bind_to_device(&recv, iface)?;
        match setsockopt(&recv, sockopt::ReusePort, &true) {
            Ok(()) | Err(nix::errno::Errno::ENOPROTOOPT) => {}
            Err(e) => return Err(sys(iface, "SO_REUSEPORT")(e)),
        }
        bind_v4(&recv, iface, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
        let started = ucast_started(iface, peer, port);
        Ok(UdpLink::new(
            Kind::Ucast,
            iface,
            SocketAddr::V4(SocketAddrV4::new(peer_ip, port)),
            send,
            recv,
            started,
        ))
    }

    /// `mcast IFACE GROUP PORT TTL LOOP`: send to `GROUP:PORT` with IP_MULTICAST_IF (the
    /// interface's address), TTL and LOOP; receive on `GROUP:PORT` after joining the group
    /// on that interface.
    pub fn mcast(
        iface: &str,
        group: Ipv4Addr,
        port: u16,
        ttl: u8,
        loop_back: bool,
    ) -> Result<UdpLink, UdpError> {
        let (addr, _) = iface_addrs(iface);
        let if_addr = addr.ok_or_else(|| UdpError::NoAddress {
            iface: iface.to_owned(),
            what: "interface",
        })?;
        let send = udp_socket(iface)?;
        set_multicast_if(&send, if_addr).map_err(|err| UdpError::Sys {
            iface: iface.to_owned(),
            what: "IP_MULTICAST_IF",
            err,
        })?;
        setsockopt(&send, sockopt::IpMulticastLoop, &loop_back)
            .map_err(sys(iface, "IP_MULTICAST_LOOP"))?;
        setsockopt(&send, sockopt::IpMulticastTtl, &ttl).map_err(sys(iface, "IP_MULTICAST_TTL"))?;
        let recv = udp_socket(iface)?;
        setsockopt(&recv, sockopt::ReuseAddr, &true).map_err(sys(iface, "SO_REUSEADDR"))?;
        bind_v4(&recv, iface, SocketAddrV4::new(group, port))?;
        setsockopt(
            &recv,
            sockopt::IpAddMembership,
            &IpMembershipRequest::new(group, Some(if_addr)),
        )
        .map_err(sys(iface, "IP_ADD_MEMBERSHIP"))?;
        Ok(UdpLink::new(
            Kind::Mcast,
            iface,
            SocketAddr::V4(SocketAddrV4::new(group, port)),
            send,
            recv,
            mcast_started(iface, group, port, ttl, loop_back),
        ))
    }

    /// `ucast6 IFACE PEER6` (port: `udpport`): as `ucast`, over IPv6. A link-local peer is
    /// reached through IFACE (its scope).
    pub fn ucast6(iface: &str, peer: &str, port: u16) -> Result<UdpLink, UdpError> {
        let resolve = || UdpError::Resolve {
            peer: peer.to_owned(),
        };
        let peer_ip = match peer.parse::<Ipv6Addr>() {
            Ok(ip) => ip,
            Err(_) => (peer, port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| {
                    it.find_map(|a| match a {
                        SocketAddr::V6(v6) => Some(*v6.ip()),
                        SocketAddr::V4(_) => None,
                    })
                })
                .ok_or_else(resolve)?,
        };
        if peer_ip.is_multicast() || peer_ip.is_unspecified() {
            return Err(resolve());
        }
        let index = if_index(iface)?;
        let send = udp6_socket(iface)?;
        bind_to_device(&send, iface)?;
        setsockopt(&send, sockopt::ReusePort, &true).map_err(sys(iface, "SO_REUSEPORT"))?;
        let recv = udp6_socket(iface)?;
        setsockopt(&recv, sockopt::ReuseAddr, &true).map_err(sys(iface, "SO_REUSEADDR"))?;
        bind_to_device(&recv, iface)?;
        match setsockopt(&recv, sockopt::ReusePort, &true) {
            Ok(()) | Err(nix::errno::Errno::ENOPROTOOPT) => {}
            Err(e) => return Err(sys(iface, "SO_REUSEPORT")(e)),
        }
        bind_v6(
            &recv,
            iface,
            SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0),
        )?;
        let dest = SocketAddrV6::new(peer_ip, port, 0, scope_for(peer_ip, index));
        Ok(UdpLink::new(
            Kind::Ucast6,
            iface,
            SocketAddr::V6(dest),
            send,
            recv,
            ucast6_started(iface, peer, port),
        ))
    }

    /// `mcast6 IFACE GROUP PORT HOPS LOOP`: as `mcast`, over IPv6: send to `[GROUP]:PORT`
    /// through IFACE (IPV6_MULTICAST_IF) with HOPS and LOOP; receive on `[GROUP]:PORT`
    /// after joining the group on IFACE.
    pub fn mcast6(
        iface: &str,
        group: &str,
        port: u16,
        hops: u8,
        loop_back: bool,
    ) -> Result<UdpLink, UdpError> {
        let group_ip = group
            .parse::<Ipv6Addr>()
            .ok()
            .filter(Ipv6Addr::is_multicast)
            .ok_or_else(|| UdpError::BadGroup {
                group: group.to_owned(),
            })?;
        let index = if_index(iface)?;
        let send = udp6_socket(iface)?;
        set_multicast_if6(&send, index).map_err(|err| UdpError::Sys {
            iface: iface.to_owned(),
            what: "IPV6_MULTICAST_IF",
            err,
        })?;
        setsockopt(&send, sockopt::Ipv6MulticastHops, &libc::c_int::from(hops))
            .map_err(sys(iface, "IPV6_MULTICAST_HOPS"))?;
        let send = UdpSocket::from(send);
        send.set_multicast_loop_v6(loop_back)
            .map_err(|err| UdpError::Sys {
                iface: iface.to_owned(),
                what: "IPV6_MULTICAST_LOOP",
                err,
            })?;
        let recv = udp6_socket(iface)?;
        setsockopt(&recv, sockopt::ReuseAddr, &true).map_err(sys(iface, "SO_REUSEADDR"))?;
        let scope = scope_for(group_ip, index);
        bind_v6(&recv, iface, SocketAddrV6::new(group_ip, port, 0, scope))?;
        let recv = UdpSocket::from(recv);
        recv.join_multicast_v6(&group_ip, index)
            .map_err(|err| UdpError::Sys {
                iface: iface.to_owned(),
                what: "IPV6_JOIN_GROUP",
                err,
            })?;
        Ok(UdpLink::new(
            Kind::Mcast6,
            iface,
            SocketAddr::V6(SocketAddrV6::new(group_ip, port, 0, scope)),
            send.into(),
            recv.into(),
            mcast6_started(iface, group_ip, port, hops, loop_back),
        ))
    }

    fn new(
        kind: Kind,
        iface: &str,
        dest: SocketAddr,
        send: OwnedFd,
        recv: OwnedFd,
        started: Vec<String>,
    ) -> UdpLink {
        UdpLink {
            kind,
            iface: iface.to_owned(),
            dest,
            send: UdpSocket::from(send),
            recv: mio::net::UdpSocket::from_std(UdpSocket::from(recv)),
            started,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The link name heartbeat uses (the interface).
    pub fn name(&self) -> &str {
        &self.iface
    }

    pub fn destination(&self) -> SocketAddr {
        self.dest
    }

    /// The receive socket's local address (the bound port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.recv.local_addr()
    }

    /// The info lines heartbeat's plugin logs when the medium starts.
    pub fn started_messages(&self) -> &[String] {
        &self.started
    }

    /// The ERROR line heartbeat's plugin logs for a failed send (text from the 3.0.6
    /// plugins' string table; the function name is the plugin's write routine).
    pub fn send_error_message(&self, len: usize, err: &io::Error) -> String {
        let func = match self.kind {
            Kind::Bcast => "bcast_write",
            Kind::Ucast => "ucast_write",
            Kind::Mcast => "mcast_write",
            Kind::Ucast6 => "ucast6_write",
            Kind::Mcast6 => "mcast6_write",
        };
        format!(
            "glib: {func}: Unable to send HBcomm packet {} {}:{} len={len} [-1]: {}",
            self.iface,
            self.dest.ip(),
            self.dest.port(),
            crate::sys::log::strerror(err.raw_os_error().unwrap_or(0))
        )
    }

    /// Sends one heartbeat datagram to the medium's destination.
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let n = self.send.send_to(bytes, self.dest)?;
        if n == bytes.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short datagram write",
            ))
        }
    }

    /// Receives one datagram, from any source. `Ok(None)` when nothing is pending.
    /// `buf` should be 64 KiB so no datagram is truncated.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.recv.recv_from(buf) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn set_multicast_if6(fd: &OwnedFd, index: u32) -> io::Result<()> {
    let index =
        libc::c_int::try_from(index).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is an open socket; `index` is a live c_int and the length passed is its
    // size, which is what IPV6_MULTICAST_IF accepts (an interface index).
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            (&index as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives `send` its ephemeral port now (what its first `sendto` would do) and attaches to
/// `recv` a classic BPF filter that drops datagrams from `own`:that port, i.e. our own
/// broadcasts looped back by the kernel: one wake-up and two `recvfrom` less per keepalive.
fn drop_own_echoes(send: &OwnedFd, recv: &OwnedFd, own: Option<Ipv4Addr>) -> io::Result<()> {
    let own = own.ok_or(io::ErrorKind::AddrNotAvailable)?;
    bind(
        send.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
    )?;
    let port = nix::sys::socket::getsockname::<SockaddrIn>(send.as_raw_fd())?.port();
    attach_filter(recv, &echo_filter(own, port))
}

/// The program: accept unless IPv4 source == `own` and UDP source port == `port`. A UDP
/// socket's filter sees the packet from the UDP header; the IP header is reached through
/// the kernel's SKF_NET_OFF base.
fn echo_filter(own: Ipv4Addr, port: u16) -> [libc::sock_filter; 6] {
    const SKF_NET_OFF: i32 = -0x10_0000;
    let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    use libc::{BPF_ABS, BPF_H, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    [
        op(BPF_LD | BPF_W | BPF_ABS, 0, 0, (SKF_NET_OFF + 12) as u32), // A = ip saddr
        op(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, u32::from(own)),           // not us: accept
        op(BPF_LD | BPF_H | BPF_ABS, 0, 0, 0),                         // A = udp sport
        op(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, u32::from(port)),          // other port: accept
        op(BPF_RET | BPF_K, 0, 0, 0),                                  // our echo: drop
        op(BPF_RET | BPF_K, 0, 0, u32::MAX),                           // accept whole
    ]
}

fn attach_filter(fd: &impl AsRawFd, prog: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_multicast_if(fd: &OwnedFd, addr: Ipv4Addr) -> io::Result<()> {
    let inaddr = libc::in_addr {
        s_addr: u32::from(addr).to_be(),
    };
    // SAFETY: `fd` is an open socket; `inaddr` is a live in_addr and the length passed is
    // its size, which is what IP_MULTICAST_IF accepts.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&inaddr as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl mio::event::Source for UdpLink {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.recv.register(registry, token, interests)
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.recv.reregister(registry, token, interests)
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.recv.deregister(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token};

    /// A UDP port free on loopback right now.
    fn free_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("ephemeral port")
    }

    fn wait_readable(poll: &mut Poll, events: &mut Events) {
        poll.poll(events, Some(std::time::Duration::from_secs(5)))
            .expect("poll");
        assert!(!events.is_empty(), "no datagram within 5 s");
    }

    #[test]
    fn ucast_on_loopback_sends_to_itself_and_is_readable_through_mio() {
        let port = free_port();
        let mut link = UdpLink::ucast("lo", "127.0.0.1", port).expect("ucast on lo");
        assert_eq!(link.kind(), Kind::Ucast);
        assert_eq!(link.name(), "lo");
        assert_eq!(
            link.destination(),
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        );
        assert_eq!(
            link.started_messages().last().unwrap(),
            &format!("glib: ucast: started on port {port} interface lo to 127.0.0.1")
        );
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        poll.registry()
            .register(&mut link, Token(7), Interest::READABLE)
            .unwrap();
        let mut buf = vec![0u8; 65536];
        assert!(link.recv(&mut buf).unwrap().is_none(), "nothing yet");
        link.send(b"###\nhello,%%%\n").unwrap();
        wait_readable(&mut poll, &mut events);
        assert_eq!(events.iter().next().unwrap().token(), Token(7));
        let (n, from) = link.recv(&mut buf).unwrap().expect("datagram");
        assert_eq!(&buf[..n], b"###\nhello,%%%\n");
        assert_eq!(from.ip(), std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(from.port(), port, "sent from an unbound (ephemeral) socket");
        assert_eq!(
            link.send_error_message(230, &io::Error::from_raw_os_error(libc::ENETUNREACH)),
            format!(
                "glib: ucast_write: Unable to send HBcomm packet lo 127.0.0.1:{port} len=230 [-1]: Network is unreachable"
            )
        );
    }

    #[test]
    fn ucast6_on_loopback_sends_to_itself() {
        let port = free_port();
        let mut link = UdpLink::ucast6("lo", "::1", port).expect("ucast6 on lo");
        assert_eq!(link.kind(), Kind::Ucast6);
        assert_eq!(
            link.destination(),
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0))
        );
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        poll.registry()
            .register(&mut link, Token(3), Interest::READABLE)
            .unwrap();
        link.send(b"###\nv6,%%%\n").unwrap();
        wait_readable(&mut poll, &mut events);
        let mut buf = vec![0u8; 65536];
        let (n, from) = link.recv(&mut buf).unwrap().expect("datagram");
        assert_eq!(&buf[..n], b"###\nv6,%%%\n");
        assert_eq!(from.ip(), std::net::IpAddr::V6(Ipv6Addr::LOCALHOST));
        // An IPv4 ucast medium on the same port is a separate socket.
        let v4 = UdpLink::ucast("lo", "127.0.0.1", port).expect("ucast on the same port");
        assert!(
            v4.recv(&mut buf).unwrap().is_none(),
            "v6 traffic is not seen on v4"
        );
        // A link-local peer gets the interface as its scope.
        let ll = UdpLink::ucast6("lo", "fe80::1", port).expect("link-local peer");
        match ll.destination() {
            SocketAddr::V6(d) => assert_ne!(d.scope_id(), 0),
            other => panic!("{other}"),
        }
        assert!(matches!(
            UdpLink::ucast6("lo", "ff02::1", port),
            Err(UdpError::Resolve { .. })
        ));
        assert!(matches!(
            UdpLink::mcast6("lo", "2001:db8::1", port, 1, false),
            Err(UdpError::BadGroup { .. })
        ));
        assert!(UdpLink::ucast6("no-such-if0", "::1", port).is_err());
    }

    /// mcast6 between the two ends of a veth pair in a private network namespace (root
    /// only; nothing outside the namespace is touched).
    #[test]
    #[allow(clippy::disallowed_methods)] // the test sets up its namespace with iproute2
    fn mcast6_reaches_the_other_end_of_a_veth_pair() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIP: needs root (a private network namespace)");
            return;
        }
        let r = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let ok = std::process::Command::new("sh")
                .args([
                    "-c",
                    "ip link set lo up && ip link add m0 type veth peer name m1 && \
                     ip link set m0 up && ip link set m1 up && \
                     ip addr add fd00:6::1/64 dev m0 nodad && ip addr add fd00:6::2/64 dev m1 nodad",
                ])
                .status()
                .expect("sh")
                .success();
            assert!(ok, "namespace set-up");
            let group = "ff02::1:6";
            let port = 6940;
            let a = UdpLink::mcast6("m0", group, port, 1, false).expect("mcast6 on m0");
            let mut b = UdpLink::mcast6("m1", group, port, 1, false).expect("mcast6 on m1");
            assert_eq!(
                a.started_messages(),
                [format!(
                    "heartbeat-rs: mcast6: started for group {group} port {port} interface m0 (hops=1 loop=0)"
                )]
            );
            let mut poll = Poll::new().unwrap();
            let mut events = Events::with_capacity(4);
            poll.registry()
                .register(&mut b, Token(1), Interest::READABLE)
                .unwrap();
            let mut buf = vec![0u8; 65536];
            // The veth may need a moment before it carries multicast: resend until heard.
            for _ in 0..50 {
                a.send(b"###\nm6,%%%\n").unwrap();
                poll.poll(&mut events, Some(std::time::Duration::from_millis(100)))
                    .expect("poll");
                if let Some((n, _)) = b.recv(&mut buf).unwrap() {
                    return buf[..n].to_vec();
                }
            }
            Vec::new()
        })
        .join()
        .expect("namespace thread");
        assert_eq!(r, b"###\nm6,%%%\n");
    }

    #[test]
    fn the_echo_filter_drops_only_our_own_address_and_send_port() {
        let recv = UdpSocket::bind("127.0.0.1:0").unwrap();
        recv.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let ours = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = ours.local_addr().unwrap().port();
        attach_filter(&recv, &echo_filter(Ipv4Addr::LOCALHOST, port)).unwrap();
        let to = recv.local_addr().unwrap();
        ours.send_to(b"echo", to).unwrap();
        other.send_to(b"peer", to).unwrap();
        // Had the filter let ours through, it would be read first.
        let mut buf = [0u8; 16];
        let (n, from) = recv.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"peer"[..], other.local_addr().unwrap())
        );
        recv.set_nonblocking(true).unwrap();
        assert!(
            recv.recv_from(&mut buf).is_err(),
            "our own datagram got through"
        );
    }

    #[test]
    fn the_echo_filter_keeps_another_address_with_our_port() {
        let recv = UdpSocket::bind("127.0.0.1:0").unwrap();
        recv.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sender.local_addr().unwrap().port();
        attach_filter(&recv, &echo_filter(Ipv4Addr::new(192, 0, 2, 11), port)).unwrap();
        sender.send_to(b"peer", recv.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = recv.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"peer");
    }

    #[test]
    fn receive_accepts_any_source_port() {
        let port = free_port();
        let link = UdpLink::ucast("lo", "127.0.0.1", port).expect("ucast on lo");
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        other.send_to(b"x", ("127.0.0.1", port)).unwrap();
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        let mut link = link;
        poll.registry()
            .register(&mut link, Token(1), Interest::READABLE)
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let got = match link.recv(&mut buf).unwrap() {
            Some(r) => r,
            None => {
                wait_readable(&mut poll, &mut events);
                link.recv(&mut buf).unwrap().expect("datagram")
            }
        };
        assert_eq!(got.0, 1);
        assert_eq!(got.1, other.local_addr().unwrap());
    }

    #[test]
    fn bcast_on_an_interface_without_broadcast_is_an_error() {
        match UdpLink::bcast("lo", free_port()) {
            Err(UdpError::NoAddress { iface, what }) => {
                assert_eq!((iface.as_str(), what), ("lo", "broadcast"))
            }
            other => panic!("{other:?}"),
        }
        assert!(UdpLink::bcast("no-such-if0", 694).is_err());
    }

    #[test]
    fn unknown_interface_and_peer_are_errors() {
        let e = UdpLink::ucast("no-such-if0", "127.0.0.1", free_port()).unwrap_err();
        assert!(
            e.to_string().contains("no-such-if0: SO_BINDTODEVICE"),
            "{e}"
        );
        let e = UdpLink::ucast("lo", "::1", free_port()).unwrap_err();
        assert!(matches!(e, UdpError::Resolve { .. }));
        let e =
            UdpLink::mcast("no-such-if0", Ipv4Addr::new(225, 0, 0, 1), 694, 1, false).unwrap_err();
        assert!(matches!(e, UdpError::NoAddress { .. }));
    }
}
