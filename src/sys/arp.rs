//! Gratuitous ARP, for re-announcing a kept group's addresses after a split brain
//! (`Action::Announce`). Frames are those resource-agents' `send_arp` sends (checked against
//! the 3.0.6 captures): broadcast, an ARP REQUEST for our own address with a zero target MAC,
//! then an ARP REPLY with our MAC as target, repeated every 250 ms by the caller.
//!
//! Sent through an AF_PACKET socket bound to the interface (no `pnet`, no libnet).

// nix has no constructor for sockaddr_ll; the send goes through libc.
#![allow(unsafe_code)]

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

/// The gap send_arp leaves between frames.
pub const INTERVAL_MS: u64 = 250;

const ETH_P_ARP: u16 = 0x0806;

/// ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Request = 1,
    Reply = 2,
}

/// The 42-byte Ethernet frame of a gratuitous ARP for `ip` owned by `mac`.
pub fn gratuitous(op: Op, mac: [u8; 6], ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&(op as u16).to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    if op == Op::Reply {
        f[32..38].copy_from_slice(&mac);
    }
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// An AF_PACKET socket on one interface.
#[derive(Debug)]
pub struct ArpSender {
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
}

/// The interface's hardware address, from getifaddrs.
pub fn iface_mac(iface: &str) -> Option<[u8; 6]> {
    nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.as_ref()?.as_link_addr()?.addr())
}

impl ArpSender {
    pub fn open(iface: &str) -> io::Result<ArpSender> {
        let ifindex = nix::net::if_::if_nametoindex(iface)? as i32;
        let mac = iface_mac(iface).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{iface}: no hardware address"),
            )
        })?;
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )?;
        Ok(ArpSender { fd, ifindex, mac })
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Sends one gratuitous ARP frame for `ip`.
    pub fn send(&self, op: Op, ip: Ipv4Addr) -> io::Result<()> {
        let frame = gratuitous(op, self.mac, ip);
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid before we fill it in.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ARP.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: `frame` and `sll` are live for the call and the lengths passed are theirs.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x48, 0x42, 0x00, 0x00, 0x0b];
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn frames_match_send_arp_in_the_capture() {
        // bcast-sha1.pcap: node1 announcing 192.0.2.100.
        assert_eq!(
            gratuitous(Op::Request, MAC, VIP).to_vec(),
            hex(
                "ffffffffffff02484200000b0806000108000604000102484200000bc0000264000000000000c0000264"
            )
        );
        assert_eq!(
            gratuitous(Op::Reply, MAC, VIP).to_vec(),
            hex(
                "ffffffffffff02484200000b0806000108000604000202484200000bc000026402484200000bc0000264"
            )
        );
    }

    #[test]
    fn unknown_interface_is_an_error() {
        assert!(ArpSender::open("no-such-if0").is_err());
    }
}
