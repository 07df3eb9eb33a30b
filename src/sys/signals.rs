//! The daemon's signals (behaviour spec §8.6) as mio events, through a `signalfd`.
//!
//! SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD and SIGALRM are blocked in the calling thread
//! (the daemon has only one) and read from the signalfd, so no code runs in signal context.
//! SIGINT, SIGPIPE, SIGTTIN and SIGTTOU are ignored as heartbeat ignores them
//! ([`ignore_heartbeat_ignored`]). Both the blocked mask and ignored dispositions survive
//! fork and exec (std's `Command` resets neither, except SIGPIPE), so `sys::spawn` clears
//! them in the child before exec; tested there.

// Changing a signal disposition is `unsafe` in nix.
#![allow(unsafe_code)]

use std::io;

use nix::sys::signal::{SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// A signal the daemon acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sig {
    /// Graceful shutdown.
    Term,
    /// Reload (§4.12).
    Hup,
    /// Debug level +1.
    Usr1,
    /// Debug level −1.
    Usr2,
    /// A child exited: reap.
    Chld,
    /// `ERROR: Unexpected alarm in process PID`.
    Alrm,
}

impl Sig {
    fn from_signal(s: Signal) -> Option<Sig> {
        Some(match s {
            Signal::SIGTERM => Sig::Term,
            Signal::SIGHUP => Sig::Hup,
            Signal::SIGUSR1 => Sig::Usr1,
            Signal::SIGUSR2 => Sig::Usr2,
            Signal::SIGCHLD => Sig::Chld,
            Signal::SIGALRM => Sig::Alrm,
            _ => return None,
        })
    }
}

const HANDLED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCHLD,
    Signal::SIGALRM,
];

/// Signals heartbeat ignores.
pub const IGNORED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGPIPE,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in HANDLED {
        set.add(s);
    }
    set
}

/// Sets SIGINT, SIGPIPE, SIGTTIN and SIGTTOU to SIG_IGN (process-wide).
pub fn ignore_heartbeat_ignored() -> io::Result<()> {
    for s in IGNORED {
        // SAFETY: SIG_IGN installs no handler code, so no async-signal-safety rule can be
        // broken; the previous disposition is not needed.
        unsafe { nix::sys::signal::signal(s, SigHandler::SigIgn) }?;
    }
    Ok(())
}

/// The handled signals, readable through mio.
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks the handled signals in the calling thread and opens a non-blocking signalfd.
    pub fn new() -> io::Result<Signals> {
        let set = handled_set();
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    /// Every pending signal (the kernel hands them out by number, not arrival; standard
    /// signals coalesce: two SIGCHLDs may
    /// arrive as one, so SIGCHLD means "reap until nothing is left").
    pub fn read(&mut self) -> io::Result<Vec<Sig>> {
        let mut out = Vec::new();
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    let sig = Signal::try_from(info.ssi_signo as i32)
                        .ok()
                        .and_then(Sig::from_signal);
                    out.extend(sig);
                }
                Ok(None) => return Ok(out),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

super::fd_source!(Signals, fd);

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token};
    use nix::sys::signal::raise;

    #[test]
    fn raised_signals_arrive_through_mio() {
        // Runs on its own thread so the blocked mask stays there.
        std::thread::spawn(|| {
            let mut sigs = Signals::new().expect("signalfd");
            let mut poll = Poll::new().unwrap();
            poll.registry()
                .register(&mut sigs, Token(9), Interest::READABLE)
                .unwrap();
            assert!(sigs.read().unwrap().is_empty());
            raise(Signal::SIGUSR1).unwrap();
            raise(Signal::SIGHUP).unwrap();
            raise(Signal::SIGTERM).unwrap();
            raise(Signal::SIGCHLD).unwrap();
            let mut events = Events::with_capacity(4);
            poll.poll(&mut events, Some(std::time::Duration::from_secs(5)))
                .unwrap();
            assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(9)));
            let mut got = sigs.read().unwrap();
            got.sort_by_key(|s| *s as u8);
            assert_eq!(got, vec![Sig::Term, Sig::Hup, Sig::Usr1, Sig::Chld]);
            assert!(sigs.read().unwrap().is_empty());
        })
        .join()
        .expect("signal thread");
    }

    #[test]
    fn unhandled_signals_map_to_nothing() {
        assert_eq!(Sig::from_signal(Signal::SIGINT), None);
        assert_eq!(Sig::from_signal(Signal::SIGUSR2), Some(Sig::Usr2));
        assert_eq!(Sig::from_signal(Signal::SIGALRM), Some(Sig::Alrm));
    }
}
