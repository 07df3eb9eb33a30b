//! ICMP echo for `ping` / `ping_group` nodes (wire spec §11.5).
//!
//! A raw ICMP socket (root, as heartbeat). Each echo request carries a heartbeat message
//! (`t=NS_st`, signed by the core) as its payload; the identifier is the daemon's pid & 0xFFFF
//! stored in **host** byte order (heartbeat's quirk), the sequence a per-socket counter from 0
//! in network order, and the checksum the standard Internet checksum. Replies are echo
//! replies with our identifier; their payload goes back to the core, which authenticates it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn, recvfrom, sendto, socket,
};

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const HEADER: usize = 8;

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request as heartbeat builds it.
pub fn build_echo(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(HEADER + payload.len());
    p.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&id.to_ne_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// An echo reply for us.
#[derive(Debug, PartialEq, Eq)]
pub struct EchoReply<'a> {
    pub seq: u16,
    pub payload: &'a [u8],
}

/// Parses what a raw ICMP socket returns (IPv4 header + ICMP). `None` for anything but an
/// intact echo reply carrying `id`.
pub fn parse_reply(packet: &[u8], id: u16) -> Option<EchoReply<'_>> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    if ihl < 20 || packet.first()? >> 4 != 4 {
        return None;
    }
    let icmp = packet.get(ihl..)?;
    if icmp.len() < HEADER || icmp[0] != ECHO_REPLY || icmp[1] != 0 {
        return None;
    }
    if checksum(icmp) != 0 {
        return None;
    }
    if u16::from_ne_bytes([icmp[4], icmp[5]]) != id {
        return None;
    }
    Some(EchoReply {
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: &icmp[HEADER..],
    })
}

/// A raw ICMP socket for ping nodes.
#[derive(Debug)]
pub struct PingSocket {
    fd: OwnedFd,
    id: u16,
    seq: u16,
}

impl PingSocket {
    /// Opens the socket; `id` is the daemon's pid (truncated to 16 bits).
    pub fn open(pid: u32) -> io::Result<PingSocket> {
        let fd = socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::Icmp,
        )?;
        Ok(PingSocket {
            fd,
            id: (pid & 0xffff) as u16,
            seq: 0,
        })
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    /// Sends one echo request carrying `payload` to `target`.
    pub fn send(&mut self, target: Ipv4Addr, payload: &[u8]) -> io::Result<()> {
        let packet = build_echo(self.id, self.seq, payload);
        self.seq = self.seq.wrapping_add(1);
        let addr = SockaddrIn::from(SocketAddrV4::new(target, 0));
        sendto(self.fd.as_raw_fd(), &packet, &addr, MsgFlags::empty())?;
        Ok(())
    }

    /// Receives one packet; `Ok(None)` when nothing is pending. Packets that are not our
    /// echo replies (other ICMP traffic the raw socket sees) come back as `Some((from,
    /// None))` so the caller keeps draining.
    pub fn recv<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> io::Result<Option<(Ipv4Addr, Option<EchoReply<'b>>)>> {
        match recvfrom::<SockaddrIn>(self.fd.as_raw_fd(), buf) {
            Ok((n, from)) => {
                let from = from.map(|a| a.ip()).unwrap_or(Ipv4Addr::UNSPECIFIED);
                let id = self.id;
                Ok(Some((from, parse_reply(&buf[..n], id))))
            }
            Err(nix::errno::Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Resolves a ping host as written in ha.cf to an IPv4 address.
pub fn resolve(host: &str) -> Option<Ipv4Addr> {
    use std::net::ToSocketAddrs;
    (host, 0).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(_) => None,
    })
}

super::fd_source!(PingSocket, fd);

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token};

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    #[test]
    fn echo_layout_has_host_order_id_and_network_order_seq() {
        let p = build_echo(0x1234, 0x0102, b"payload");
        assert_eq!(p[0..2], [8, 0]);
        assert_eq!(p[4..6], 0x1234u16.to_ne_bytes());
        assert_eq!(p[6..8], [1, 2]);
        assert_eq!(&p[8..], b"payload");
        assert_eq!(checksum(&p), 0, "a correct checksum sums to zero");
    }

    fn as_reply(mut icmp: Vec<u8>) -> Vec<u8> {
        icmp[0] = 0;
        icmp[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut ip = vec![0x45u8];
        ip.extend_from_slice(&[0; 19]);
        ip.extend(icmp);
        ip
    }

    #[test]
    fn replies_are_matched_on_type_id_and_checksum() {
        let pkt = as_reply(build_echo(77, 5, b"###\nx"));
        assert_eq!(
            parse_reply(&pkt, 77),
            Some(EchoReply {
                seq: 5,
                payload: b"###\nx"
            })
        );
        assert_eq!(parse_reply(&pkt, 78), None, "someone else's ping");
        let mut bad = pkt.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse_reply(&bad, 77), None, "corrupted");
        let mut req = vec![0x45u8];
        req.extend_from_slice(&[0; 19]);
        req.extend(build_echo(77, 5, b"x"));
        assert_eq!(parse_reply(&req, 77), None, "a request is no reply");
        assert_eq!(parse_reply(&[], 77), None);
        assert_eq!(parse_reply(&[0x4f; 10], 77), None);
        assert_eq!(parse_reply(&pkt[..24], 77), None);
    }

    #[test]
    fn loopback_echo_carries_the_payload_back() {
        let mut sock = PingSocket::open(std::process::id()).expect("raw socket (root)");
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut sock, Token(2), Interest::READABLE)
            .unwrap();
        sock.send(Ipv4Addr::LOCALHOST, b"t=NS_st payload").unwrap();
        let mut events = Events::with_capacity(4);
        let mut buf = vec![0u8; 65536];
        loop {
            poll.poll(&mut events, Some(std::time::Duration::from_secs(5)))
                .unwrap();
            assert!(!events.is_empty(), "no reply within 5 s");
            while let Some((from, reply)) = sock.recv(&mut buf).unwrap() {
                if let Some(r) = reply {
                    assert_eq!(from, Ipv4Addr::LOCALHOST);
                    assert_eq!(r.seq, 0);
                    assert_eq!(r.payload, b"t=NS_st payload");
                    return;
                }
            }
        }
    }

    #[test]
    fn resolve_accepts_literal_addresses() {
        assert_eq!(resolve("192.0.2.254"), Some(Ipv4Addr::new(192, 0, 2, 254)));
        assert_eq!(resolve("::1"), None);
    }
}
