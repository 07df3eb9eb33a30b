//! `/var/lib/heartbeat` persistence: the generation counter (`hb_generation`) and the node
//! UUID (`hb_uuid`), in heartbeat's own on-disk formats (wire spec §8.4, §8.5), so a node
//! whose binary is swapped keeps its UUID and continues its generation.
//!
//! * `hb_generation`: 16 bytes, the decimal number right-aligned in 15 columns plus LF.
//! * `hb_uuid`: 16 raw bytes, in the order they go on the wire.
//!
//! Every write is atomic (temporary file, fsync, rename, directory fsync): a crash leaves
//! either the old or the new value, never a torn file, and a generation handed out has been
//! made durable first, so a restart can never reuse it.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The default state directory.
pub const STATE_DIR: &str = "/var/lib/heartbeat";
pub const GENERATION_FILE: &str = "hb_generation";
pub const UUID_FILE: &str = "hb_uuid";

/// What heartbeat logs (ERROR) before exiting when the generation cannot be read or stored;
/// log it followed by the [`StateError`] for the detail.
pub const GENERATION_FAILURE: &str = "Cannot get/increment generation number";

/// `hbgenmethod`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenMethod {
    /// The persisted counter (default).
    File,
    /// The current time, nothing persisted.
    Time,
}

/// `uuidfrom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UuidFrom {
    /// `hb_uuid` (default).
    File,
    /// Derived from the node name.
    NodeName,
}

/// A failure reading or writing the state directory.
#[derive(Debug)]
pub enum StateError {
    Io {
        path: PathBuf,
        op: &'static str,
        err: io::Error,
    },
    /// `hb_uuid` exists but does not hold exactly 16 bytes.
    BadUuidFile { path: PathBuf, len: u64 },
    /// The generation counter cannot be incremented any further.
    GenerationExhausted { path: PathBuf },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Io { path, op, err } => {
                write!(f, "cannot {op} {}: {err}", path.display())
            }
            StateError::BadUuidFile { path, len } => write!(
                f,
                "{} holds {len} bytes, not a 16-byte node uuid; restore it from a backup \
                 (or remove it to make this node a new cluster member)",
                path.display()
            ),
            StateError::GenerationExhausted { path } => {
                write!(f, "{}: generation counter exhausted", path.display())
            }
        }
    }
}

impl std::error::Error for StateError {}

fn io_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_owned();
    move |err| StateError::Io { path, op, err }
}

/// Writes `bytes` to `path` atomically and durably, mode 0644.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        f.write_all(bytes).map_err(io_err(&tmp, "write"))?;
        f.sync_all().map_err(io_err(&tmp, "fsync"))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path, "rename into place"))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir, "fsync directory"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What [`next_generation`] found, for the start-up log line heartbeat writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationOrigin {
    /// Read the previous value and added one: `info: Heartbeat generation: N`.
    Incremented,
    /// No file (or an empty one): `WARN: No Previous generation - starting at N`.
    NoPrevious,
    /// Unparsable file: `WARN: BROKEN previous generation - starting at N`.
    Broken,
    /// `hbgenmethod time`: the current time, nothing stored.
    Time,
}

/// The generation to run with, and how it was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation {
    pub value: u64,
    pub origin: GenerationOrigin,
}

impl Generation {
    /// The warning heartbeat logs before `Heartbeat generation: N`, if any.
    pub fn warning(&self) -> Option<String> {
        match self.origin {
            GenerationOrigin::NoPrevious => Some(format!(
                "No Previous generation - starting at {}",
                self.value
            )),
            GenerationOrigin::Broken => Some(format!(
                "BROKEN previous generation - starting at {}",
                self.value
            )),
            _ => None,
        }
    }
}

/// Heartbeat's generation file layout: `%15lu\n` (16 bytes for numbers up to 15 digits).
pub fn format_generation(n: u64) -> String {
    format!("{n:>15}\n")
}

/// Parses a generation file as heartbeat does (`sscanf("%lu")`: leading blanks allowed,
/// the first run of digits counts). `None` if there is no number or it overflows.
pub fn parse_generation(bytes: &[u8]) -> Option<u64> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits: Vec<u8> = bytes[start..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Reads, increments and durably stores the generation (`hbgenmethod file`), or returns the
/// current time (`hbgenmethod time`). `now_unix` is the wall-clock time in seconds.
///
/// Deliberate difference: for an unparsable file heartbeat 3.0.6 logs "starting at
/// time+1" but really uses 1, which peers that remember the old generation reject as a
/// replay; heartbeat-rs uses the time+1 it logs.
pub fn next_generation(
    dir: &Path,
    method: GenMethod,
    now_unix: u64,
) -> Result<Generation, StateError> {
    if method == GenMethod::Time {
        return Ok(Generation {
            value: now_unix,
            origin: GenerationOrigin::Time,
        });
    }
    let path = dir.join(GENERATION_FILE);
    let (value, origin) = match fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            (now_unix.saturating_add(1), GenerationOrigin::NoPrevious)
        }
        Err(e) => return Err(io_err(&path, "read")(e)),
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {
            (now_unix.saturating_add(1), GenerationOrigin::NoPrevious)
        }
        Ok(bytes) => match parse_generation(&bytes) {
            Some(prev) => (
                prev.checked_add(1)
                    .ok_or_else(|| StateError::GenerationExhausted { path: path.clone() })?,
                GenerationOrigin::Incremented,
            ),
            None => (now_unix.saturating_add(1), GenerationOrigin::Broken),
        },
    };
    write_atomic(&path, format_generation(value).as_bytes())?;
    Ok(Generation { value, origin })
}

/// A node UUID: 16 bytes in wire (RFC 4122 textual) order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeUuid(pub [u8; 16]);

impl fmt::Display for NodeUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeUuid({self})")
    }
}

impl NodeUuid {
    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn parse(text: &str) -> Option<NodeUuid> {
        let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
        if hex.len() != 32 || text.len() != 36 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(NodeUuid(out))
    }
}

/// How [`load_uuid`] obtained the UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UuidOrigin {
    /// Read from `hb_uuid`.
    Stored,
    /// No file: generated and stored
    /// (`info: No uuid found for current node - generating a new uuid.`).
    Generated,
    /// `uuidfrom nodename`, with the seed heartbeat logs (`info: seed is N`).
    FromNodeName { seed: i32 },
}

/// Loads (or on first start creates) the node UUID.
pub fn load_uuid(
    dir: &Path,
    from: UuidFrom,
    node_name: &str,
) -> Result<(NodeUuid, UuidOrigin), StateError> {
    if from == UuidFrom::NodeName {
        let (uuid, seed) = uuid_from_nodename(node_name);
        return Ok((uuid, UuidOrigin::FromNodeName { seed }));
    }
    let path = dir.join(UUID_FILE);
    match File::open(&path) {
        Ok(mut f) => {
            let mut buf = Vec::with_capacity(17);
            Read::by_ref(&mut f)
                .take(17)
                .read_to_end(&mut buf)
                .map_err(io_err(&path, "read"))?;
            let bytes: [u8; 16] = buf.as_slice().try_into().map_err(|_| {
                let len = f.metadata().map(|m| m.len()).unwrap_or(buf.len() as u64);
                StateError::BadUuidFile {
                    path: path.clone(),
                    len,
                }
            })?;
            Ok((NodeUuid(bytes), UuidOrigin::Stored))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let uuid = random_uuid().map_err(io_err(Path::new("/dev/urandom"), "read"))?;
            write_atomic(&path, &uuid.0)?;
            Ok((uuid, UuidOrigin::Generated))
        }
        Err(e) => Err(io_err(&path, "open")(e)),
    }
}

/// A random (version 4, RFC 4122 variant) UUID, as libuuid's `uuid_generate` makes.
pub fn random_uuid() -> io::Result<NodeUuid> {
    let mut b = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(NodeUuid(b))
}

/// `uuidfrom nodename` (wire spec §8.5): a hash of the name seeds glibc's `srand`, 32 draws
/// of `rand() % 16` give the hex digits. Returns the UUID and the seed heartbeat logs.
pub fn uuid_from_nodename(name: &str) -> (NodeUuid, i32) {
    let bytes = name.as_bytes();
    let mut h: u32 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // C `char` is signed on x86: bytes ≥ 0x80 are sign-extended.
        let c = i32::from(b as i8) as u32;
        h = if i == 0 {
            c
        } else {
            h.wrapping_mul(31).wrapping_add(c)
        };
    }
    let mut rng = GlibcRandom::new(h);
    let mut out = [0u8; 16];
    for byte in out.iter_mut() {
        let hi = (rng.next() % 16) as u8;
        let lo = (rng.next() % 16) as u8;
        *byte = (hi << 4) | lo;
    }
    (NodeUuid(out), h as i32)
}

/// glibc's `random()` with the default TYPE_3 state (degree 31, separation 3), which is
/// what `srand`/`rand` use.
struct GlibcRandom {
    r: [u32; 34],
    i: usize,
}

impl GlibcRandom {
    fn new(seed: u32) -> GlibcRandom {
        let seed = if seed == 0 { 1 } else { seed };
        let mut init = [0i32; 31];
        init[0] = seed as i32;
        for i in 1..31 {
            let prev = i64::from(init[i - 1]);
            let hi = prev / 127_773;
            let lo = prev % 127_773;
            let mut word = 16_807 * lo - 2_836 * hi;
            if word < 0 {
                word += 2_147_483_647;
            }
            init[i] = word as i32;
        }
        // Ring of the last 34 outputs of r[i] = r[i-31] + r[i-3].
        let mut r = [0u32; 34];
        for (k, slot) in r.iter_mut().enumerate().take(31) {
            *slot = init[k] as u32;
        }
        let mut g = GlibcRandom { r, i: 31 };
        for k in 31..34 {
            g.r[k] = g.r[k - 31];
        }
        g.i = 34;
        // glibc discards the first 310 outputs.
        for _ in 0..310 {
            g.step();
        }
        g
    }

    fn step(&mut self) -> u32 {
        let n = self.r.len();
        let v = self.r[(self.i + n - 31) % n].wrapping_add(self.r[(self.i + n - 3) % n]);
        self.r[self.i % n] = v;
        self.i = (self.i + 1) % n;
        v
    }

    fn next(&mut self) -> u32 {
        self.step() >> 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_303_294;

    #[test]
    fn generation_file_layout_is_heartbeats() {
        assert_eq!(format_generation(1_732_230_001), "     1732230001\n");
        assert_eq!(format_generation(1).len(), 16);
        assert_eq!(parse_generation(b"     1732230001\n"), Some(1_732_230_001));
        assert_eq!(parse_generation(b"42"), Some(42));
        assert_eq!(parse_generation(b"  \n"), None);
        assert_eq!(parse_generation(b"abc"), None);
        assert_eq!(parse_generation(b"99999999999999999999999"), None);
    }

    #[test]
    fn first_start_uses_time_plus_one_then_increments() {
        let dir = tempfile::tempdir().unwrap();
        let g = next_generation(dir.path(), GenMethod::File, NOW).unwrap();
        assert_eq!(g.value, NOW + 1);
        assert_eq!(g.origin, GenerationOrigin::NoPrevious);
        assert_eq!(
            g.warning().as_deref(),
            Some("No Previous generation - starting at 1795303295")
        );
        let stored = fs::read(dir.path().join(GENERATION_FILE)).unwrap();
        assert_eq!(stored, b"     1795303295\n");
        // A later start, even with the clock set back, continues the counter.
        let g2 = next_generation(dir.path(), GenMethod::File, 5).unwrap();
        assert_eq!(g2.value, NOW + 2);
        assert_eq!(g2.origin, GenerationOrigin::Incremented);
        assert_eq!(g2.warning(), None);
    }

    #[test]
    fn a_file_written_by_heartbeat_is_continued() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(GENERATION_FILE), "     1795303295\n").unwrap();
        let g = next_generation(dir.path(), GenMethod::File, NOW).unwrap();
        assert_eq!(g.value, 1_795_303_296);
    }

    #[test]
    fn broken_and_empty_files_restart_from_time() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(GENERATION_FILE);
        fs::write(&p, b"\xff\x00garbage").unwrap();
        let g = next_generation(dir.path(), GenMethod::File, NOW).unwrap();
        assert_eq!((g.value, g.origin), (NOW + 1, GenerationOrigin::Broken));
        assert!(
            g.warning()
                .unwrap()
                .starts_with("BROKEN previous generation")
        );
        fs::write(&p, b"").unwrap();
        let g = next_generation(dir.path(), GenMethod::File, NOW).unwrap();
        assert_eq!(g.origin, GenerationOrigin::NoPrevious);
        fs::write(&p, format_generation(u64::MAX)).unwrap();
        assert!(matches!(
            next_generation(dir.path(), GenMethod::File, NOW),
            Err(StateError::GenerationExhausted { .. })
        ));
    }

    #[test]
    fn time_method_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let g = next_generation(dir.path(), GenMethod::Time, NOW).unwrap();
        assert_eq!((g.value, g.origin), (NOW, GenerationOrigin::Time));
        assert!(!dir.path().join(GENERATION_FILE).exists());
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let err = next_generation(Path::new("/nonexistent/hb"), GenMethod::File, NOW)
            .expect_err("no directory");
        assert!(err.to_string().contains("/nonexistent/hb"), "{err}");
    }

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn uuid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (u1, o1) = load_uuid(dir.path(), UuidFrom::File, "node1").unwrap();
        assert_eq!(o1, UuidOrigin::Generated);
        assert_eq!(u1.0[6] >> 4, 4, "version 4");
        let raw = fs::read(dir.path().join(UUID_FILE)).unwrap();
        assert_eq!(raw, u1.0);
        let (u2, o2) = load_uuid(dir.path(), UuidFrom::File, "node1").unwrap();
        assert_eq!((u2, o2), (u1, UuidOrigin::Stored));
    }

    #[test]
    fn a_uuid_file_written_by_heartbeat_is_used_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = *b"/\x1bL~\x91\x02M:\x8bUl\x0d\xe1\xf23D";
        fs::write(dir.path().join(UUID_FILE), bytes).unwrap();
        let (u, _) = load_uuid(dir.path(), UuidFrom::File, "x").unwrap();
        assert_eq!(u.0, bytes);
    }

    #[test]
    fn short_long_and_empty_uuid_files_are_errors_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(UUID_FILE);
        for content in [&b""[..], b"short", &[7u8; 17][..]] {
            fs::write(&p, content).unwrap();
            match load_uuid(dir.path(), UuidFrom::File, "n") {
                Err(StateError::BadUuidFile { len, .. }) => {
                    assert_eq!(len, content.len() as u64)
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(fs::read(&p).unwrap(), content, "file left untouched");
        }
    }

    #[test]
    fn uuid_from_nodename_matches_heartbeat() {
        let (u, seed) = uuid_from_nodename("node1");
        assert_eq!(seed, 104_993_391);
        assert_eq!(u.to_string(), "90b8de77-08c8-7a6c-fef1-993a43051dba");
        let (u2, _) = uuid_from_nodename("node2");
        assert_eq!(u2.to_string(), "f3727cf5-aae8-2f22-b5f6-03e93235dadc");
        let (u3, o) = load_uuid(Path::new("/nonexistent"), UuidFrom::NodeName, "node1").unwrap();
        assert_eq!(u3, u);
        assert_eq!(o, UuidOrigin::FromNodeName { seed: 104_993_391 });
    }

    #[test]
    fn uuid_text_round_trips() {
        let u = NodeUuid::parse("90b8de77-08c8-7a6c-fef1-993a43051dba").unwrap();
        assert_eq!(u.to_string(), "90b8de77-08c8-7a6c-fef1-993a43051dba");
        assert_eq!(NodeUuid::parse("90b8de77"), None);
        assert_eq!(
            NodeUuid::parse("zzb8de77-08c8-7a6c-fef1-993a43051dba"),
            None
        );
    }
}
