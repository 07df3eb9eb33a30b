//! The edge pieces composed the way the event loop will use them, before the core is wired
//! in: one mio `Poll` with signals, a UDP medium, the command FIFO and a timer taken from
//! `clock::poll_timeout`; a "keepalive" every 20 ms sends a datagram and kicks a (file)
//! watchdog. Checks that every source wakes the loop and that timers never fire early.

use std::net::Ipv4Addr;

use heartbeat_rs::sys::clock::{Clock, poll_timeout};
use heartbeat_rs::sys::fifo::CommandFifo;
use heartbeat_rs::sys::signals::{Sig, Signals};
use heartbeat_rs::sys::udp::UdpLink;
use heartbeat_rs::sys::watchdog::Watchdog;
use heartbeat_rs::time::Duration;
use mio::{Events, Interest, Poll, Token};

const SIGNALS: Token = Token(0);
const MEDIUM: Token = Token(1);
const FIFO: Token = Token(2);

#[test]
fn signals_media_fifo_and_timers_share_one_poll() {
    // Own thread: the signal mask is per thread.
    std::thread::spawn(run).join().expect("loop thread");
}

fn run() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut poll = Poll::new().unwrap();
    let mut sigs = Signals::new().unwrap();
    let mut link = UdpLink::ucast("lo", "127.0.0.1", port).unwrap();
    let (mut fifo, _) = CommandFifo::open(&dir.path().join("fifo")).unwrap();
    let wd_path = dir.path().join("watchdog");
    std::fs::write(&wd_path, b"").unwrap();
    let (wd, _) = Watchdog::open(&wd_path, Duration::from_secs(3));
    let mut wd = wd.expect("file watchdog");
    let reg = poll.registry();
    reg.register(&mut sigs, SIGNALS, Interest::READABLE)
        .unwrap();
    reg.register(&mut link, MEDIUM, Interest::READABLE).unwrap();
    reg.register(&mut fifo, FIFO, Interest::READABLE).unwrap();

    let clock = Clock::new();
    let keepalive = Duration::from_millis(20);
    let mut next = clock.now() + keepalive;
    let (mut sent, mut received, mut messages, mut usr1) = (0u32, 0u32, 0u32, false);
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 65536];
    while !(received >= 5 && messages == 1 && usr1) {
        assert!(
            sent < 200,
            "loop did not converge: {received} {messages} {usr1}"
        );
        poll.poll(&mut events, poll_timeout(clock.now(), Some(next)))
            .unwrap();
        let now = clock.now();
        if events.is_empty() {
            assert!(now >= next, "woke at {now} before the deadline {next}");
        }
        if now >= next {
            sent += 1;
            link.send(format!("hb {sent}").as_bytes()).unwrap();
            assert!(wd.kick().is_none());
            next += keepalive;
            if sent == 2 {
                nix::sys::signal::raise(nix::sys::signal::Signal::SIGUSR1).unwrap();
                use std::io::Write;
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(fifo.path())
                    .unwrap()
                    .write_all(b">>>\nt=hb_takeover\nrsc_hold=all\n<<<\n")
                    .unwrap();
            }
        }
        for ev in events.iter() {
            match ev.token() {
                SIGNALS => usr1 |= sigs.read().unwrap().contains(&Sig::Usr1),
                MEDIUM => {
                    while let Some((n, from)) = link.recv(&mut buf).unwrap() {
                        assert!(buf[..n].starts_with(b"hb "));
                        assert_eq!(from.ip(), std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
                        received += 1;
                    }
                }
                FIFO => messages += fifo.read_messages().unwrap().len() as u32,
                t => panic!("unexpected token {t:?}"),
            }
        }
    }
    // One NUL per keepalive, and the clean close adds the magic V.
    assert!(wd.close_clean().is_none());
    let bytes = std::fs::read(&wd_path).unwrap();
    assert_eq!(bytes.len() as u32, sent + 1);
    assert_eq!(bytes.last(), Some(&b'V'));
}
