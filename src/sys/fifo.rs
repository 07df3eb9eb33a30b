//! `/var/lib/heartbeat/fifo`, the local admin command bus (behaviour spec §8.4): scripts such
//! as `hb_standby` append `>>>\n name=value … <<<\n` to it; the daemon reads the messages and
//! hands them to the core (which signs and sends them as if this node said them).
//!
//! The FIFO is created mode 0600 at start (re-created if something else sits at the path).
//! The daemon keeps a write descriptor of its own open so that writers coming and going never
//! make the read side report end-of-file (which would make poll spin).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

use crate::sys::serial::FrameReader;

/// The FIFO heartbeat's scripts write to.
pub const FIFO_PATH: &str = "/var/lib/heartbeat/fifo";

/// The daemon's end of the FIFO.
#[derive(Debug)]
pub struct CommandFifo {
    path: PathBuf,
    read: File,
    _keep_open: File,
    reader: FrameReader,
}

/// Whether opening had to create the FIFO (heartbeat then logs
/// `info: Creating FIFO /var/lib/heartbeat/fifo.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Yes,
    No,
}

impl CommandFifo {
    /// Creates the FIFO if needed (replacing a non-FIFO at `path`) and opens it.
    pub fn open(path: &Path) -> io::Result<(CommandFifo, Created)> {
        let created = match std::fs::symlink_metadata(path) {
            Ok(md) if md.file_type().is_fifo() => Created::No,
            Ok(_) => {
                std::fs::remove_file(path)?;
                Created::Yes
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Created::Yes,
            Err(e) => return Err(e),
        };
        if created == Created::Yes {
            nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))?;
        }
        let read = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        // Succeeds without blocking because a reader exists.
        let keep_open = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        Ok((
            CommandFifo {
                path: path.to_owned(),
                read,
                _keep_open: keep_open,
                reader: FrameReader::exact_markers(),
            },
            created,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every complete message available now, each as classic text `>>>\n…<<<\n`.
    pub fn read_messages(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.read.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.reader.push(&buf[..n], &mut out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

super::fd_source!(CommandFifo, read);

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Interest, Poll, Token};
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    const STANDBY: &[u8] = b">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n";

    #[test]
    fn script_messages_arrive_through_mio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let (mut fifo, created) = CommandFifo::open(&path).unwrap();
        assert_eq!(created, Created::Yes);
        let md = std::fs::metadata(&path).unwrap();
        assert!(md.file_type().is_fifo());
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut fifo, Token(4), Interest::READABLE)
            .unwrap();
        // As `echo ... >> fifo` in hb_standby: open for append, write, close.
        {
            let mut w = OpenOptions::new().append(true).open(&path).unwrap();
            w.write_all(b"junk\n>>> \n").unwrap();
            w.write_all(STANDBY).unwrap();
        }
        let mut events = Events::with_capacity(4);
        let mut got = Vec::new();
        while got.is_empty() {
            poll.poll(&mut events, Some(std::time::Duration::from_secs(5)))
                .unwrap();
            assert!(!events.is_empty(), "nothing within 5 s");
            got.extend(fifo.read_messages().unwrap());
        }
        assert_eq!(got, vec![STANDBY.to_vec()]);
        // The writer has gone, but we hold a write end: "no data yet", never end-of-file
        // (which a level-triggered reader would see as permanent readiness).
        let mut b = [0u8; 8];
        let e = fifo.read.read(&mut b).expect_err("no EOF");
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_regular_file_at_the_path_is_replaced_and_an_existing_fifo_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        std::fs::write(&path, "left by `>>` while the daemon was down").unwrap();
        let (fifo, created) = CommandFifo::open(&path).unwrap();
        assert_eq!(created, Created::Yes);
        drop(fifo);
        let (_fifo, created) = CommandFifo::open(&path).unwrap();
        assert_eq!(created, Created::No);
    }

    #[test]
    fn fifo_markers_must_be_whole_lines() {
        let mut r = FrameReader::exact_markers();
        let mut out = Vec::new();
        r.push(b">>>x\nt=a\n<<<\n>>>\nt=b\n<<<x\nt=c\n<<<\n", &mut out);
        assert_eq!(out, vec![b">>>\nt=b\n<<<x\nt=c\n<<<\n".to_vec()]);
    }
}
