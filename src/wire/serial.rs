//! Cutting a serial byte stream into classic frames, as heartbeat's serial reader does:
//! discard lines until one starting with `>>>`, then collect lines up to one starting with
//! `<<<` (spec §11.4). Pure: the edge feeds bytes read from the tty.

use super::MAXMSG;

/// Accumulates tty bytes and yields complete `>>>`…`<<<` frames.
#[derive(Debug, Default)]
pub struct SerialFramer {
    buf: Vec<u8>,
    /// Bytes of `buf` already split into lines.
    scanned: usize,
    /// Start of the frame being collected, if a `>>>` line was seen.
    start: Option<usize>,
    discarded: u64,
}

impl SerialFramer {
    pub fn new() -> SerialFramer {
        SerialFramer::default()
    }

    /// Adds bytes read from the line.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// How many incomplete or oversized frames were thrown away so far.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// The next complete frame (from `>>>` through the `<<<` line's LF), if one is buffered.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        let mut frame = None;
        while let Some(lf) = self
            .buf
            .get(self.scanned..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            let line_start = self.scanned;
            let line_end = line_start + lf + 1;
            self.scanned = line_end;
            let line = &self.buf[line_start..line_end];
            if line.starts_with(b">>>") {
                if self.start.is_some() {
                    // A new frame began before the old one ended: the old one is lost.
                    self.discarded += 1;
                }
                self.start = Some(line_start);
            } else if line.starts_with(b"<<<")
                && let Some(start) = self.start.take()
            {
                frame = Some(self.buf[start..line_end].to_vec());
                break;
            }
        }
        self.compact();
        frame
    }

    /// Drops bytes no frame can need any more, and bounds memory on garbage input.
    fn compact(&mut self) {
        let keep_from = self.start.unwrap_or(self.scanned);
        self.buf.drain(..keep_from);
        self.scanned -= keep_from;
        if let Some(s) = self.start.as_mut() {
            *s = 0;
        }
        if self.buf.len() > MAXMSG {
            if self.start.is_some() {
                self.discarded += 1;
            }
            self.buf.clear();
            self.scanned = 0;
            self.start = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_across_arbitrary_chunks_and_noise() {
        let stream = b"noise\n<<<\n>>>\nt=a\n<<<\n>>>\nt=b\n<<<\n>>>\nt=c\n";
        for chunk in 1..stream.len() {
            let mut f = SerialFramer::new();
            let mut frames = Vec::new();
            for c in stream.chunks(chunk) {
                f.push(c);
                while let Some(fr) = f.next_frame() {
                    frames.push(fr);
                }
            }
            assert_eq!(
                frames,
                vec![b">>>\nt=a\n<<<\n".to_vec(), b">>>\nt=b\n<<<\n".to_vec()],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn restart_and_overflow_discard() {
        let mut f = SerialFramer::new();
        f.push(b">>>\nt=a\n>>>\nt=b\n<<<\n");
        assert_eq!(f.next_frame().as_deref(), Some(&b">>>\nt=b\n<<<\n"[..]));
        assert_eq!(f.discarded(), 1);
        f.push(b">>>\n");
        f.push(&vec![b'x'; MAXMSG + 1]);
        assert_eq!(f.next_frame(), None);
        assert_eq!(f.discarded(), 2);
        assert!(f.buf.is_empty());
        f.push(b"\n>>>\nt=c\n<<<\n");
        assert_eq!(f.next_frame().as_deref(), Some(&b">>>\nt=c\n<<<\n"[..]));
    }
}
