//! UDP media across two network namespaces joined by a veth pair: bcast, ucast and mcast
//! sockets as `sys::udp` sets them up, on a real (virtual) wire.
//!
//! Needs root and iproute2, so the tests are `#[ignore]`d:
//! `cargo test --test lab_udp -- --ignored --test-threads=1`.
//! The namespaces are this test's own (`hbrs-udp-<pid>-a|b`), created and deleted here;
//! nothing touches the machine's interfaces or netlab's `hb-*` namespaces.
#![allow(clippy::disallowed_methods)] // runs `ip` to build the lab

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use heartbeat_rs::sys::udp::UdpLink;
use mio::{Events, Interest, Poll, Token};
use nix::sched::{CloneFlags, setns};

const A: Ipv4Addr = Ipv4Addr::new(10, 199, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 199, 0, 2);

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {}", args.join(" "));
}

/// Two namespaces, `veth-a` (10.199.0.1/24) in one and `veth-b` (10.199.0.2/24) in the other.
struct Lab {
    ns: [String; 2],
}

impl Lab {
    fn up() -> Lab {
        let base = format!("hbrs-udp-{}", std::process::id());
        let ns = [format!("{base}-a"), format!("{base}-b")];
        let lab = Lab { ns };
        let [a, b] = &lab.ns;
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        ip(&[
            "link", "add", "veth-a", "netns", a, "type", "veth", "peer", "name", "veth-b", "netns",
            b,
        ]);
        for (n, dev, addr) in [(a, "veth-a", A), (b, "veth-b", B)] {
            ip(&[
                "-n",
                n,
                "addr",
                "add",
                &format!("{addr}/24"),
                "brd",
                "+",
                "dev",
                dev,
            ]);
            ip(&["-n", n, "link", "set", dev, "up"]);
            ip(&["-n", n, "link", "set", "lo", "up"]);
        }
        lab
    }

    /// Runs `f` on a thread inside namespace `i`; sockets made there stay in it.
    fn within<T: Send + 'static>(&self, i: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.ns[i]);
        std::thread::spawn(move || {
            let fd = File::open(&path).expect("netns handle");
            setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Sends `msg` on `from` and returns what `to` receives (payload, source address).
fn exchange(from: &UdpLink, to: &mut UdpLink, msg: &[u8]) -> (Vec<u8>, IpAddr) {
    from.send(msg).expect("send");
    receive(to)
}

/// The next datagram on `to`, waiting up to 5 s for it.
fn receive(to: &mut UdpLink) -> (Vec<u8>, IpAddr) {
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(to, Token(0), Interest::READABLE)
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut events = Events::with_capacity(4);
    loop {
        if let Some((n, src)) = to.recv(&mut buf).expect("recv") {
            poll.registry().deregister(to).unwrap();
            return (buf[..n].to_vec(), src.ip());
        }
        poll.poll(&mut events, Some(std::time::Duration::from_secs(5)))
            .unwrap();
        assert!(!events.is_empty(), "nothing received within 5 s");
    }
}

#[test]
#[ignore = "needs root and iproute2; creates its own network namespaces"]
fn bcast_reaches_the_peer_and_not_ourselves() {
    let lab = Lab::up();
    let mut a = lab.within(0, || UdpLink::bcast("veth-a", 694).expect("bcast a"));
    let mut b = lab.within(1, || UdpLink::bcast("veth-b", 694).expect("bcast b"));
    assert_eq!(
        a.destination().ip(),
        std::net::IpAddr::V4(Ipv4Addr::new(10, 199, 0, 255))
    );
    assert_eq!(
        a.started_messages(),
        ["glib: UDP Broadcast heartbeat started on port 694 (694) interface veth-a"]
    );
    assert_eq!(
        exchange(&a, &mut b, b"from a"),
        (b"from a".to_vec(), IpAddr::V4(A))
    );
    // The kernel loops our own broadcast back to us (heartbeat hears it and logs "Link
    // node1:eth0 up." for itself); our socket filter drops it before it wakes the daemon.
    // The local copy is delivered within `sendto`, so it would be queued by now.
    let mut buf = vec![0u8; 1024];
    assert!(
        a.recv(&mut buf).unwrap().is_none(),
        "own broadcast filtered out"
    );
    assert_eq!(
        exchange(&b, &mut a, b"from b"),
        (b"from b".to_vec(), IpAddr::V4(B))
    );
}

#[test]
#[ignore = "needs root and iproute2; creates its own network namespaces"]
fn ucast_reaches_the_configured_peer() {
    let lab = Lab::up();
    let a = lab.within(0, || {
        UdpLink::ucast("veth-a", "10.199.0.2", 694).expect("ucast a")
    });
    let mut b = lab.within(1, || {
        UdpLink::ucast("veth-b", "10.199.0.1", 694).expect("ucast b")
    });
    assert_eq!(exchange(&a, &mut b, b"hb"), (b"hb".to_vec(), IpAddr::V4(A)));
    // A medium whose interface goes down reports it on send (the loop logs and carries on)
    // and works again once the link is back.
    ip(&["-n", &lab.ns[0], "link", "set", "veth-a", "down"]);
    let err = a.send(b"lost").expect_err("interface down");
    assert!(
        matches!(err.raw_os_error(), Some(libc::ENETDOWN | libc::ENETUNREACH)),
        "{err}"
    );
    ip(&["-n", &lab.ns[0], "link", "set", "veth-a", "up"]);
    assert_eq!(
        exchange(&a, &mut b, b"back"),
        (b"back".to_vec(), IpAddr::V4(A))
    );
}

#[test]
#[ignore = "needs root and iproute2; creates its own network namespaces"]
fn mcast_reaches_group_members_on_the_interface() {
    let lab = Lab::up();
    let group = Ipv4Addr::new(225, 0, 0, 1);
    let mut a = lab.within(0, move || {
        UdpLink::mcast("veth-a", group, 694, 1, false).expect("mcast a")
    });
    let mut b = lab.within(1, move || {
        UdpLink::mcast("veth-b", group, 694, 1, false).expect("mcast b")
    });
    assert_eq!(
        a.started_messages(),
        [
            "glib: UDP multicast heartbeat started for group 225.0.0.1 port 694 interface veth-a (ttl=1 loop=0)"
        ]
    );
    assert_eq!(exchange(&a, &mut b, b"m1"), (b"m1".to_vec(), IpAddr::V4(A)));
    assert_eq!(exchange(&b, &mut a, b"m2"), (b"m2".to_vec(), IpAddr::V4(B)));
    // loop=0: our own datagrams do not come back.
    let mut buf = [0u8; 64];
    assert!(a.recv(&mut buf).unwrap().is_none());
}

#[test]
#[ignore = "needs root and iproute2; creates its own network namespaces"]
fn gratuitous_arp_leaves_the_interface_as_send_arp_frames() {
    use heartbeat_rs::sys::arp::{ArpSender, Op, gratuitous};
    use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
    let lab = Lab::up();
    // A packet socket on the peer's side sees every frame arriving on veth-b.
    let rx = lab.within(1, || {
        nix::sys::socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )
        .expect("packet socket")
    });
    nix::sys::socket::setsockopt(
        &rx,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(5, 0),
    )
    .unwrap();
    let tx = lab.within(0, || ArpSender::open("veth-a").expect("arp sender"));
    let vip = Ipv4Addr::new(10, 199, 0, 100);
    tx.send(Op::Request, vip).unwrap();
    tx.send(Op::Reply, vip).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1600];
    while got.len() < 2 {
        let n = nix::sys::socket::recv(
            std::os::fd::AsRawFd::as_raw_fd(&rx),
            &mut buf,
            MsgFlags::empty(),
        )
        .expect("frame within 5 s");
        if buf.get(12..14) == Some(&[0x08, 0x06][..]) {
            got.push(buf[..n].to_vec());
        }
    }
    assert_eq!(got[0], gratuitous(Op::Request, tx.mac(), vip).to_vec());
    assert_eq!(got[1], gratuitous(Op::Reply, tx.mac(), vip).to_vec());
}
