//! Serial heartbeat links (wire spec §11.4): a tty in raw mode at the configured `baud`,
//! carrying classic-format messages `>>>\n … <<<\n`.
//!
//! * Line setup as heartbeat: raw, CS8, no parity, `CREAD|CLOCAL|CRTSCTS`, input
//!   `INPCK|ISTRIP|IGNCR|BRKINT`, no XON/XOFF, VMIN=1, VTIME=1; a break is sent at open.
//! * Reading ([`FrameReader`]): discard lines until one starting with `>>>`, collect lines
//!   until one starting with `<<<`; the frame (markers included) goes to the core's classic
//!   parser, which checks the auth. Oversized frames are dropped, never buffered forever.
//! * Writing: 512-byte chunks with a pause of `512 / (baud/8)` s between chunks, paced by
//!   the event loop through [`SerialLink::flush`] (nothing here sleeps).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::sys::termios::{
    self, BaudRate, ControlFlags, InputFlags, LocalFlags, OutputFlags, SetArg,
    SpecialCharacterIndices,
};

use crate::config::Baud;
use crate::time::{Duration, Instant};

/// Bytes written per chunk.
pub const CHUNK: usize = 512;
/// The largest frame accepted; heartbeat's messages are far smaller (MAXMSG 40000).
pub const MAX_FRAME: usize = 64 * 1024;

fn baud_rate(b: Baud) -> BaudRate {
    match b {
        Baud::B9600 => BaudRate::B9600,
        Baud::B19200 => BaudRate::B19200,
        Baud::B38400 => BaudRate::B38400,
        Baud::B57600 => BaudRate::B57600,
        Baud::B115200 => BaudRate::B115200,
        Baud::B230400 => BaudRate::B230400,
        Baud::B460800 => BaudRate::B460800,
    }
}

/// The pause between two chunks: 512 bytes at baud/8 bytes per second.
pub fn chunk_gap(baud: Baud) -> Duration {
    Duration::from_micros((CHUNK as u64 * 8 * 1_000_000) / u64::from(baud.rate()))
}

/// The info line heartbeat's serial plugin logs when a tty starts.
pub fn started_message(path: &Path, baud: Baud) -> String {
    format!(
        "glib: Starting serial heartbeat on tty {} ({} baud)",
        path.display(),
        baud.rate()
    )
}

/// Splits a byte stream into classic frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    line: Vec<u8>,
    frame: Vec<u8>,
    in_frame: bool,
    /// Markers must be the whole line (the FIFO reader) rather than its start (serial).
    exact: bool,
    /// Frames dropped for exceeding [`MAX_FRAME`].
    pub oversized: u64,
}

impl FrameReader {
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// A reader whose `>>>` / `<<<` lines must be exactly that (the FIFO protocol, §8.4).
    pub fn exact_markers() -> FrameReader {
        FrameReader {
            exact: true,
            ..FrameReader::default()
        }
    }

    fn is_marker(&self, line: &[u8], marker: &[u8]) -> bool {
        if self.exact {
            line == marker
        } else {
            line.starts_with(marker)
        }
    }

    /// Feeds bytes; complete frames are appended to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.end_line(&line, out);
                self.line = line;
                self.line.clear();
            } else if self.line.len() <= MAX_FRAME {
                self.line.push(b);
            }
        }
    }

    fn end_line(&mut self, raw: &[u8], out: &mut Vec<Vec<u8>>) {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.is_marker(line, b">>>") {
            // A new start marker also restarts a frame whose end was lost.
            self.frame.clear();
            self.frame.extend_from_slice(b">>>\n");
            self.in_frame = true;
        } else if !self.in_frame {
            // Noise between frames.
        } else if self.is_marker(line, b"<<<") {
            self.frame.extend_from_slice(b"<<<\n");
            out.push(std::mem::take(&mut self.frame));
            self.in_frame = false;
        } else if self.frame.len() + line.len() + 1 > MAX_FRAME {
            self.oversized += 1;
            self.frame.clear();
            self.in_frame = false;
        } else {
            self.frame.extend_from_slice(line);
            self.frame.push(b'\n');
        }
    }
}

/// The UUCP lock directory heartbeat uses for ttys.
pub const LOCK_DIR: &str = "/var/lock";

/// A UUCP-style lock file `LOCK_DIR/LCK..NAME` holding our pid (same `%10d\n` layout and
/// link protocol as the pid file); removed when dropped.
#[derive(Debug)]
pub struct TtyLock {
    path: PathBuf,
}

impl TtyLock {
    /// Locks `device` (its file name) in `lock_dir`. A lock naming a dead process is taken
    /// over; one naming a live process is an error (`AddrInUse`).
    pub fn acquire(lock_dir: &Path, device: &Path) -> io::Result<TtyLock> {
        let name = device
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no device name"))?;
        let path = lock_dir.join(format!("LCK..{}", name.to_string_lossy()));
        match crate::sys::pidfile::lock(&path, std::process::id() as i32) {
            Ok(()) => Ok(TtyLock { path }),
            Err(crate::sys::pidfile::PidfileError::AlreadyRunning(pid)) => Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is locked by pid {pid}", device.display()),
            )),
            Err(crate::sys::pidfile::PidfileError::Io { err, .. }) => Err(err),
            Err(e @ crate::sys::pidfile::PidfileError::Refused(_)) => {
                Err(io::Error::other(e.to_string()))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TtyLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An open serial heartbeat link.
#[derive(Debug)]
pub struct SerialLink {
    path: PathBuf,
    file: File,
    /// Held for as long as the link is open.
    _lock: Option<TtyLock>,
    baud: Baud,
    reader: FrameReader,
    out: VecDeque<u8>,
    next_write: Instant,
}

impl SerialLink {
    /// Locks `path` in `lock_dir` (UUCP style; `None` = no lock), opens and configures it
    /// (non-blocking, no controlling tty, close-on-exec), then sends a break.
    pub fn open(path: &Path, baud: Baud, lock_dir: Option<&Path>) -> io::Result<SerialLink> {
        let lock = lock_dir.map(|d| TtyLock::acquire(d, path)).transpose()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)?;
        let mut t = termios::tcgetattr(&file)?;
        termios::cfmakeraw(&mut t);
        t.input_flags =
            InputFlags::INPCK | InputFlags::ISTRIP | InputFlags::IGNCR | InputFlags::BRKINT;
        t.output_flags.remove(OutputFlags::OPOST);
        t.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        t.control_flags
            .remove(ControlFlags::CSIZE | ControlFlags::PARENB);
        t.control_flags |=
            ControlFlags::CS8 | ControlFlags::CREAD | ControlFlags::CLOCAL | ControlFlags::CRTSCTS;
        t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        t.control_chars[SpecialCharacterIndices::VTIME as usize] = 1;
        termios::cfsetspeed(&mut t, baud_rate(baud))?;
        termios::tcsetattr(&file, SetArg::TCSANOW, &t)?;
        termios::tcsendbreak(&file, 0)?;
        Ok(SerialLink {
            path: path.to_owned(),
            file,
            _lock: lock,
            baud,
            reader: FrameReader::new(),
            out: VecDeque::new(),
            next_write: Instant::ZERO,
        })
    }

    /// The link name heartbeat uses (the device path).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The info line heartbeat logs at start.
    pub fn started_message(&self) -> String {
        started_message(&self.path, self.baud)
    }

    /// Reads everything available and returns the complete frames.
    pub fn read_frames(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.reader.push(&buf[..n], &mut frames),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(frames)
    }

    /// Queues a classic frame for sending; call [`SerialLink::flush`] to write it.
    pub fn queue(&mut self, frame: &[u8]) {
        self.out.extend(frame);
    }

    /// Whether bytes are waiting to be written.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Writes the next chunk if its time has come. Returns when to call again (`None` when
    /// the queue is empty).
    pub fn flush(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        while !self.out.is_empty() && now >= self.next_write {
            let n = self.out.len().min(CHUNK);
            let chunk: Vec<u8> = self.out.iter().take(n).copied().collect();
            match self.file.write(&chunk) {
                Ok(w) => {
                    self.out.drain(..w);
                    if !self.out.is_empty() {
                        self.next_write = now + chunk_gap(self.baud);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.next_write = now + chunk_gap(self.baud);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((!self.out.is_empty()).then_some(self.next_write))
    }
}

super::fd_source!(SerialLink, file);

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token};

    const FRAME: &[u8] = b">>>\nt=status\nst=active\nsrc=node1\nauth=1 5ce0fcc1\n<<<\n";

    #[test]
    fn frames_are_cut_between_markers_and_noise_is_skipped() {
        let mut r = FrameReader::new();
        let mut out = Vec::new();
        let mut stream = b"garbage\nmore<<<\n".to_vec();
        stream.extend_from_slice(FRAME);
        stream.extend_from_slice(b"noise\n");
        stream.extend_from_slice(FRAME);
        // Byte by byte, to exercise every split point.
        for b in &stream {
            r.push(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, vec![FRAME.to_vec(), FRAME.to_vec()]);
    }

    #[test]
    fn a_restarted_frame_replaces_one_whose_end_was_lost() {
        let mut r = FrameReader::new();
        let mut out = Vec::new();
        r.push(b">>>\nt=half\n", &mut out);
        r.push(FRAME, &mut out);
        assert_eq!(out, vec![FRAME.to_vec()]);
    }

    #[test]
    fn oversized_frames_are_dropped_and_counted() {
        let mut r = FrameReader::new();
        let mut out = Vec::new();
        r.push(b">>>\n", &mut out);
        let line = vec![b'a'; 1000];
        for _ in 0..100 {
            r.push(&line, &mut out);
            r.push(b"\n", &mut out);
        }
        r.push(b"<<<\n", &mut out);
        assert!(out.is_empty());
        assert_eq!(r.oversized, 1);
        r.push(FRAME, &mut out);
        assert_eq!(out.len(), 1, "recovers for the next frame");
    }

    proptest::proptest! {
        /// Any sequence of frames and noise lines, cut anywhere, yields exactly the frames.
        #[test]
        fn framing_is_independent_of_chunking(
            items in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec("[a-z=0-9 ]{0,20}", 0..6)),
                0..8,
            ),
            cuts in proptest::collection::vec(1usize..64, 0..20),
        ) {
            let mut stream = Vec::new();
            let mut want = Vec::new();
            for (is_frame, lines) in &items {
                if *is_frame {
                    let mut f = b">>>\n".to_vec();
                    for l in lines {
                        f.extend_from_slice(l.as_bytes());
                        f.push(b'\n');
                    }
                    f.extend_from_slice(b"<<<\n");
                    stream.extend_from_slice(&f);
                    want.push(f);
                } else {
                    for l in lines {
                        stream.extend_from_slice(l.as_bytes());
                        stream.push(b'\n');
                    }
                }
            }
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            let mut rest = &stream[..];
            for c in cuts {
                let (a, b) = rest.split_at(c.min(rest.len()));
                r.push(a, &mut got);
                rest = b;
            }
            r.push(rest, &mut got);
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn chunk_gap_matches_heartbeat() {
        assert_eq!(chunk_gap(Baud::B19200), Duration::from_micros(213_333));
        assert_eq!(chunk_gap(Baud::B115200), Duration::from_micros(35_555));
    }

    #[test]
    fn pty_pair_carries_frames_both_ways() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let locks = tempfile::tempdir().unwrap();
        let mut link =
            SerialLink::open(&slave_path, Baud::B19200, Some(locks.path())).expect("open pty");
        let lock_name = format!("LCK..{}", slave_path.file_name().unwrap().to_string_lossy());
        let lock_file = locks.path().join(&lock_name);
        assert_eq!(
            std::fs::read_to_string(&lock_file).unwrap(),
            crate::sys::pidfile::format_pid(std::process::id() as i32)
        );
        assert!(link.started_message().ends_with("(19200 baud)"));
        let t = termios::tcgetattr(&link.file).unwrap();
        assert!(
            t.input_flags
                .contains(InputFlags::ISTRIP | InputFlags::IGNCR)
        );
        assert!(!t.local_flags.contains(LocalFlags::ICANON));
        assert_eq!(termios::cfgetospeed(&t), BaudRate::B19200);
        let mut master = File::from(pty.master);

        // Peer → us, with a CR the line discipline drops (IGNCR).
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(4);
        poll.registry()
            .register(&mut link, Token(3), Interest::READABLE)
            .unwrap();
        master
            .write_all(b"noise\r\n>>>\r\nt=status\r\n<<<\r\n")
            .unwrap();
        let mut frames = Vec::new();
        while frames.is_empty() {
            poll.poll(&mut events, Some(std::time::Duration::from_secs(5)))
                .unwrap();
            assert!(!events.is_empty(), "no data within 5 s");
            frames.extend(link.read_frames().unwrap());
        }
        assert_eq!(frames, vec![b">>>\nt=status\n<<<\n".to_vec()]);

        // Us → peer, in paced chunks.
        let big: Vec<u8> = std::iter::repeat_n(b'x', 700).collect();
        link.queue(&big);
        let t0 = Instant::from_micros(1_000_000);
        let next = link.flush(t0).unwrap().expect("second chunk pending");
        assert_eq!(next, t0 + chunk_gap(Baud::B19200));
        assert_eq!(link.pending(), 700 - CHUNK);
        assert_eq!(link.flush(t0).unwrap(), Some(next), "not before the gap");
        assert_eq!(link.flush(next).unwrap(), None);
        let mut got = vec![0u8; 700];
        master.read_exact(&mut got).unwrap();
        assert_eq!(got, big);
        drop(link);
        assert!(!lock_file.exists(), "lock released on close");
    }

    #[test]
    fn a_tty_locked_by_a_live_process_is_refused() {
        let locks = tempfile::tempdir().unwrap();
        // pid 1 is always alive.
        std::fs::write(locks.path().join("LCK..ttyS0"), "         1\n").unwrap();
        let e = TtyLock::acquire(locks.path(), Path::new("/dev/ttyS0")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let l = TtyLock::acquire(locks.path(), Path::new("/dev/ttyS1")).unwrap();
        assert!(l.path().ends_with("LCK..ttyS1"));
    }
}
