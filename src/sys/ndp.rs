//! Unsolicited neighbour advertisement: the IPv6 counterpart of a gratuitous ARP (what
//! resource-agents' `send_ua` does for IPv6addr). An ICMPv6 Neighbor Advertisement for our
//! address with the Override flag and our MAC as target link-layer address, sent to
//! all-nodes (ff02::1) with hop limit 255 (receivers drop ND messages with any other).
//! The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::OwnedFd;

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn6, bind, sendto,
    setsockopt, socket, sockopt,
};

const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Override flag: replace what caches hold for this address.
const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
const OPT_TARGET_LLADDR: u8 = 2;
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The ICMPv6 message (checksum left 0 for the kernel).
pub fn neighbor_advert(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = ND_NEIGHBOR_ADVERT;
    m[4..8].copy_from_slice(&NA_FLAG_OVERRIDE.to_be_bytes());
    m[8..24].copy_from_slice(&target.octets());
    m[24] = OPT_TARGET_LLADDR;
    m[25] = 1; // in units of 8 octets
    m[26..32].copy_from_slice(&mac);
    m
}

/// A socket sending advertisements from `addr` on `iface`.
#[derive(Debug)]
pub struct NaSender {
    fd: OwnedFd,
    target: Ipv6Addr,
    msg: [u8; 32],
    to: SockaddrIn6,
}

impl NaSender {
    /// `addr` must already be configured on `iface` (added `nodad`, it is usable at once).
    pub fn open(iface: &str, addr: Ipv6Addr) -> std::io::Result<NaSender> {
        let ifindex = nix::net::if_::if_nametoindex(iface)?;
        let mac = crate::sys::arp::iface_mac(iface).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{iface}: no hardware address"),
            )
        })?;
        let fd = socket(
            AddressFamily::Inet6,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::IcmpV6,
        )?;
        setsockopt(&fd, sockopt::Ipv6MulticastHops, &255)?;
        setsockopt(&fd, sockopt::Ipv6Ttl, &255)?;
        setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(iface))?;
        let scope = if addr.is_unicast_link_local() {
            ifindex
        } else {
            0
        };
        bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn6::from(SocketAddrV6::new(addr, 0, 0, scope)),
        )?;
        Ok(NaSender {
            fd,
            target: addr,
            msg: neighbor_advert(addr, mac),
            to: SockaddrIn6::from(SocketAddrV6::new(ALL_NODES, 0, 0, ifindex)),
        })
    }

    pub fn target(&self) -> Ipv6Addr {
        self.target
    }

    pub fn send(&self) -> std::io::Result<()> {
        sendto(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            &self.msg,
            &self.to,
            MsgFlags::empty(),
        )?;
        Ok(())
    }
}

/// `send_ua [-i MS] [-c COUNT] ADDRESS PREFIX INTERFACE` (resource-agents' command line;
/// the interval is in milliseconds, count defaults to 5 and interval to 1000 ms, PREFIX
/// is accepted and unused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendUaArgs {
    pub interval: std::time::Duration,
    pub count: u32,
    pub addr: Ipv6Addr,
    pub iface: String,
}

impl SendUaArgs {
    pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<SendUaArgs, String> {
        use lexopt::prelude::*;
        let mut p = lexopt::Parser::from_args(args);
        let (mut interval_ms, mut count) = (1000u64, 5u32);
        let mut pos: Vec<String> = Vec::new();
        let num = |p: &mut lexopt::Parser| -> Result<u64, String> {
            p.value()
                .map_err(|e| e.to_string())?
                .parse::<u64>()
                .map_err(|e| e.to_string())
        };
        while let Some(arg) = p.next().map_err(|e| e.to_string())? {
            match arg {
                Short('i') => interval_ms = num(&mut p)?,
                Short('c') => count = u32::try_from(num(&mut p)?).map_err(|e| e.to_string())?,
                Value(v) => pos.push(v.string().map_err(|e| e.to_string())?),
                other => return Err(other.unexpected().to_string()),
            }
        }
        let [addr, prefix, iface] = pos.as_slice() else {
            return Err(format!("expected 3 arguments, got {}", pos.len()));
        };
        prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 128)
            .ok_or_else(|| format!("bad prefix length: {prefix}"))?;
        Ok(SendUaArgs {
            interval: std::time::Duration::from_millis(interval_ms),
            count,
            addr: addr
                .parse()
                .map_err(|_| format!("bad IPv6 address: {addr}"))?,
            iface: iface.clone(),
        })
    }
}

pub const SEND_UA_USAGE: &str =
    "usage: send_ua [-i interval-ms] [-c count] IPv6-Address Prefix Interface";

/// The whole `send_ua` command; returns the exit status.
#[allow(clippy::disallowed_methods)] // a command-line tool may sleep
pub fn send_ua_main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let a = match SendUaArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("send_ua: {e}\n{SEND_UA_USAGE}");
            return 1;
        }
    };
    let res = NaSender::open(&a.iface, a.addr).and_then(|s| {
        for i in 0..a.count {
            s.send()?;
            if i + 1 < a.count {
                std::thread::sleep(a.interval);
            }
        }
        Ok(())
    });
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("send_ua: {}: {e}", a.iface);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_layout() {
        let t: Ipv6Addr = "2001:db8::100".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let m = neighbor_advert(t, [2, 0x48, 0x42, 0, 0, 0x0b]);
        assert_eq!(&m[..8], &[136, 0, 0, 0, 0x20, 0, 0, 0]);
        assert_eq!(&m[8..24], &t.octets());
        assert_eq!(&m[24..], &[2, 1, 2, 0x48, 0x42, 0, 0, 0x0b]);
    }

    fn args(s: &str) -> Vec<std::ffi::OsString> {
        s.split_whitespace().map(Into::into).collect()
    }

    #[test]
    fn send_ua_command_line() {
        let a = SendUaArgs::parse(args("-i 200 -c 5 2001:db8::100 64 eth0")).expect("ours");
        assert_eq!(a.interval, std::time::Duration::from_millis(200));
        assert_eq!((a.count, a.iface.as_str()), (5, "eth0"));
        let d = SendUaArgs::parse(args("2001:db8::100 64 eth0")).expect("defaults");
        assert_eq!((d.count, d.interval.as_millis()), (5, 1000));
        for bad in [
            "2001:db8::100 64",
            "10.0.0.1 24 eth0",
            "2001:db8::1 129 eth0",
            "-c x a 1 b",
            "",
        ] {
            assert!(SendUaArgs::parse(args(bad)).is_err(), "{bad}");
        }
    }
}
