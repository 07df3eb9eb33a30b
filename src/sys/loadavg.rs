//! `/proc/loadavg` for the `ld` field heartbeat puts in every numbered message (wire spec
//! §5): its first line without the line feed, or nothing (the core then sends `n/a`).

use std::io::Read;
use std::path::Path;

pub const LOADAVG: &str = "/proc/loadavg";

/// The kernel updates the averages every 5 s; reading more often than this buys nothing.
pub const REFRESH: crate::time::Duration = crate::time::Duration::from_secs(1);

/// The first line of `path`, without its line feed; `None` if it cannot be read or is empty.
pub fn read(path: &Path) -> Option<String> {
    let mut buf = Vec::with_capacity(128);
    // The whole file is one short line; a bounded read keeps a wrong path harmless.
    std::fs::File::open(path)
        .ok()?
        .take(256)
        .read_to_end(&mut buf)
        .ok()?;
    first_line(&buf)
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    if line.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_without_its_line_feed() {
        assert_eq!(
            first_line(b"0.08 0.03 0.01 1/123 4567\n").as_deref(),
            Some("0.08 0.03 0.01 1/123 4567")
        );
        assert_eq!(first_line(b"a\nb\n").as_deref(), Some("a"));
        assert_eq!(first_line(b""), None);
        assert_eq!(first_line(b"\n"), None);
    }

    #[test]
    fn the_real_file_reads_or_gives_none() {
        let dir = std::env::temp_dir().join(format!("hbrs-loadavg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("loadavg");
        std::fs::write(&f, "1.00 2.00 3.00 4/5 6\n").unwrap();
        assert_eq!(read(&f).as_deref(), Some("1.00 2.00 3.00 4/5 6"));
        assert_eq!(read(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
        if Path::new(LOADAVG).exists() {
            let l = read(Path::new(LOADAVG)).unwrap_or_default();
            assert_eq!(l.split(' ').count(), 5, "{l}");
        }
    }
}
