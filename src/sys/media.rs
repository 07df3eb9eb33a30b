//! One configured medium (`config::Medium`) opened as the matching edge object, so the event
//! loop holds a uniform list of links indexed like `Config::media`.

use std::fmt;
use std::io;
use std::path::Path;

use crate::config::Medium;
use crate::sys::serial::SerialLink;
use crate::sys::udp::{UdpError, UdpLink};

/// An open medium.
#[derive(Debug)]
pub enum Link {
    Udp(UdpLink),
    Serial(SerialLink),
}

/// Why a medium could not be opened.
#[derive(Debug)]
pub enum MediaError {
    Udp(UdpError),
    Serial { device: String, err: io::Error },
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::Udp(e) => e.fmt(f),
            MediaError::Serial { device, err } => write!(f, "{device}: {err}"),
        }
    }
}

impl std::error::Error for MediaError {}

impl Link {
    /// Opens `medium`; serial devices are UUCP-locked in `lock_dir` when given.
    pub fn open(medium: &Medium, lock_dir: Option<&Path>) -> Result<Link, MediaError> {
        match medium {
            Medium::Bcast { iface, port } => UdpLink::bcast(iface, *port)
                .map(Link::Udp)
                .map_err(MediaError::Udp),
            Medium::Ucast { iface, peer, port } => UdpLink::ucast(iface, peer, *port)
                .map(Link::Udp)
                .map_err(MediaError::Udp),
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                loop_back,
            } => UdpLink::mcast(iface, *group, *port, *ttl, *loop_back)
                .map(Link::Udp)
                .map_err(MediaError::Udp),
            Medium::Serial { device, baud } => SerialLink::open(device, *baud, lock_dir)
                .map(Link::Serial)
                .map_err(|err| MediaError::Serial {
                    device: device.display().to_string(),
                    err,
                }),
            Medium::Ucast6 { iface, peer, port } => UdpLink::ucast6(iface, peer, *port)
                .map(Link::Udp)
                .map_err(MediaError::Udp),
            Medium::Mcast6 {
                iface,
                group,
                port,
                hops,
                loop_back,
            } => UdpLink::mcast6(iface, group, *port, *hops, *loop_back)
                .map(Link::Udp)
                .map_err(MediaError::Udp),
        }
    }

    /// The info lines heartbeat logs when this medium starts.
    pub fn started_messages(&self) -> Vec<String> {
        match self {
            Link::Udp(u) => u.started_messages().to_vec(),
            Link::Serial(s) => vec![s.started_message()],
        }
    }
}

impl mio::event::Source for Link {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        match self {
            Link::Udp(u) => u.register(registry, token, interests),
            Link::Serial(s) => s.register(registry, token, interests),
        }
    }
    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        match self {
            Link::Udp(u) => u.reregister(registry, token, interests),
            Link::Serial(s) => s.reregister(registry, token, interests),
        }
    }
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        match self {
            Link::Udp(u) => u.deregister(registry),
            Link::Serial(s) => s.deregister(registry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Baud;

    #[test]
    fn each_configured_medium_opens_as_its_link() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .unwrap();
        let ucast = Medium::Ucast {
            iface: "lo".into(),
            peer: "127.0.0.1".into(),
            port,
        };
        let link = Link::open(&ucast, None).unwrap();
        assert!(matches!(link, Link::Udp(_)));
        assert_eq!(
            link.started_messages().last().unwrap(),
            &format!("glib: ucast: started on port {port} interface lo to 127.0.0.1")
        );

        let pty = nix::pty::openpty(None, None).unwrap();
        let device = nix::unistd::ttyname(&pty.slave).unwrap();
        let serial = Medium::Serial {
            device: device.clone(),
            baud: Baud::B38400,
        };
        let link = Link::open(&serial, None).unwrap();
        assert_eq!(
            link.started_messages(),
            [format!(
                "glib: Starting serial heartbeat on tty {} (38400 baud)",
                device.display()
            )]
        );

        let v6 = Medium::Ucast6 {
            iface: "lo".into(),
            peer: "::1".into(),
            port,
        };
        let link = Link::open(&v6, None).expect("ucast6 on lo");
        assert_eq!(
            link.started_messages(),
            [format!(
                "heartbeat-rs: ucast6: started on port {port} interface lo to ::1"
            )]
        );
        let bad = Medium::Mcast6 {
            iface: "lo".into(),
            group: "2001:db8::1".into(),
            port,
            hops: 1,
            loop_back: false,
        };
        assert_eq!(
            Link::open(&bad, None).unwrap_err().to_string(),
            "mcast6 group 2001:db8::1 is not an IPv6 multicast address"
        );
        let bad = Medium::Bcast {
            iface: "no-such-if0".into(),
            port,
        };
        assert!(matches!(
            Link::open(&bad, None),
            Err(MediaError::Udp(UdpError::NoAddress { .. }))
        ));
    }
}
