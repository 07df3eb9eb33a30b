//! The one part of `config` that touches the filesystem and the host: it reads the three
//! files, checks authkeys' mode, asks the machine about interfaces, devices and its own name,
//! and hands text to the pure parsers.

use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::authkeys;
use super::ha_cf;
use super::haresources;
use super::model::AuthKeys;
use super::resolve::{self, HostFacts, Parsed};
use super::span::{Diagnostic, Pos, render_all};

pub use super::resolve::{CheckOptions, Loaded};

/// Files that are far bigger than any configuration are refused rather than read whole.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A configuration that cannot be used. `Display` renders every diagnostic (errors and the
/// warnings seen with them) in `PATH:LINE:COL: error: ...` form, one block per problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(render_all(&self.diagnostics).trim_end_matches('\n'))
    }
}

impl std::error::Error for ConfigError {}

impl From<Vec<Diagnostic>> for ConfigError {
    fn from(diagnostics: Vec<Diagnostic>) -> Self {
        ConfigError { diagnostics }
    }
}

/// Reads a file as text. Errors (missing, unreadable, too big, not UTF-8) become one
/// diagnostic naming the file, or the position of the first invalid byte.
pub(crate) fn read_text(path: &Path, what: &str) -> Result<String, Box<Diagnostic>> {
    let file = fs::File::open(path).map_err(|e| {
        Diagnostic::error(
            path,
            Pos::FILE,
            format!("cannot open {what}: {}", io_text(&e)),
        )
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Diagnostic::error(
                path,
                Pos::FILE,
                format!("cannot read {what}: {}", io_text(&e)),
            )
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Box::new(Diagnostic::error(
            path,
            Pos::FILE,
            format!("expected a {what} of at most {MAX_FILE_BYTES} bytes, found a bigger file"),
        )));
    }
    text_from_bytes(path, bytes)
}

/// UTF-8 decoding with a positioned error: heartbeat's files are ASCII in practice, and a
/// stray byte is more likely a corrupted file than intended Latin-1.
pub fn text_from_bytes(path: &Path, bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = bytes.get(..valid).unwrap_or(&[]);
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        // `before` is valid UTF-8, so its tail decodes.
        let col_text = std::str::from_utf8(before.get(line_start..).unwrap_or(&[])).unwrap_or("");
        let col = col_text.chars().count() + 1;
        let byte = bytes.get(valid).copied().unwrap_or(0);
        Box::new(Diagnostic::error(
            path,
            Pos::at(line, col, 1),
            format!("expected UTF-8 text, found byte 0x{byte:02x}"),
        ))
    })
}

fn io_text(e: &std::io::Error) -> String {
    // The OS message without Rust's " (os error N)" suffix, like heartbeat's strerror text.
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads `authkeys`: refuses the file if any group or other read bit is set (heartbeat's
/// rule; write bits are not checked), then parses it.
pub fn read_authkeys(path: &Path) -> Result<AuthKeys, ConfigError> {
    let (keys, diags) = read_authkeys_with_warnings(path);
    match keys {
        Some(k) if !diags.iter().any(Diagnostic::is_error) => Ok(k),
        _ => Err(ConfigError { diagnostics: diags }),
    }
}

pub(crate) fn read_authkeys_with_warnings(path: &Path) -> (Option<AuthKeys>, Vec<Diagnostic>) {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let d = Diagnostic::error(
                path,
                Pos::FILE,
                format!("cannot open keyfile: {}", io_text(&e)),
            )
            .with_note(format!(
                "heartbeat: Cannot open keyfile [{}].  Stop.",
                path.display()
            ));
            return (None, vec![d]);
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        let d = Diagnostic::error(
            path,
            Pos::FILE,
            format!(
                "expected a keyfile readable only by its owner (mode 600), found mode {mode:03o}"
            ),
        )
        .with_note(format!(
            "heartbeat: Bad permissions on keyfile [{}], 600 recommended.",
            path.display()
        ))
        .with_note(format!("fix: chmod 600 {}", path.display()));
        return (None, vec![d]);
    }
    match read_text(path, "keyfile") {
        Ok(text) => authkeys::parse_with_warnings(&text, path),
        Err(d) => (None, vec![*d]),
    }
}

/// Reads and checks `DIR/ha.cf`, `DIR/authkeys` and `DIR/haresources` as a start would, on
/// this machine. Every error of every file comes back in one `ConfigError`.
pub fn load(dir: &Path, opts: &CheckOptions) -> Result<Loaded, ConfigError> {
    load_with(dir, None, opts, &SystemHost { dir })
}

/// [`load`] with an authkeys path of its own (`--authkeys`) and injected host facts.
pub fn load_with(
    dir: &Path,
    authkeys_path: Option<&Path>,
    opts: &CheckOptions,
    facts: &dyn HostFacts,
) -> Result<Loaded, ConfigError> {
    let ha_cf_path = dir.join("ha.cf");
    let hr_path = dir.join("haresources");
    let ak_path = authkeys_path.map_or_else(|| dir.join("authkeys"), Path::to_path_buf);
    let parsed = Parsed {
        dir: dir.to_path_buf(),
        ha_cf: read_text(&ha_cf_path, "config file")
            .map(|t| ha_cf::parse(&t, &ha_cf_path))
            .map_err(|d| *d),
        authkeys: read_authkeys_with_warnings(&ak_path),
        haresources: read_text(&hr_path, "resources file")
            .map(|t| haresources::parse(&t, &hr_path))
            .map_err(|d| *d),
    };
    resolve::resolve(parsed, facts, opts).map_err(ConfigError::from)
}

/// The real machine.
pub struct SystemHost<'a> {
    /// Where `nodeinfo` is looked for.
    pub dir: &'a Path,
}

impl HostFacts for SystemHost<'_> {
    fn node_name(&self) -> String {
        // §0: the first line of nodeinfo if the file exists, is non-empty and the line is
        // newline-terminated; otherwise `uname -n`.
        if let Ok(text) = fs::read_to_string(self.dir.join("nodeinfo"))
            && let Some((first, _)) = text.split_once('\n')
            && !first.is_empty()
        {
            return first.to_string();
        }
        nix::sys::utsname::uname()
            .map(|u| u.nodename().to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    fn interface_exists(&self, name: &str) -> bool {
        !name.is_empty()
            && !name.contains('/')
            && name != "."
            && name != ".."
            && Path::new("/sys/class/net").join(name).exists()
    }
    fn device_exists(&self, path: &str) -> bool {
        Path::new(path).exists()
    }
    fn resolves(&self, host: &str) -> bool {
        use std::net::ToSocketAddrs;
        (host, 0u16)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.next().is_some())
    }
    fn service_port(&self, service: &str) -> Option<u16> {
        let text = fs::read_to_string("/etc/services").ok()?;
        services_port(&text, service)
    }
    fn user_exists(&self, user: &str) -> bool {
        matches!(nix::unistd::User::from_name(user), Ok(Some(_)))
    }
    fn is_executable(&self, path: &str) -> bool {
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    fn file_exists(&self, path: &str) -> bool {
        Path::new(path).is_file()
    }
    fn dir_exists(&self, path: &str) -> bool {
        Path::new(path).is_dir()
    }
}

/// The UDP port of `service` in an `/etc/services` text.
pub fn services_port(text: &str, service: &str) -> Option<u16> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut w = line.split_whitespace();
        let name = w.next()?;
        let (port, proto) = w.next()?.split_once('/')?;
        (name == service && proto == "udp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn keyfile(mode: u32, body: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(body).unwrap();
        fs::set_permissions(f.path(), fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn mode_600_and_620_are_accepted() {
        for mode in [0o600, 0o400, 0o620, 0o602] {
            let f = keyfile(mode, b"auth 1\n1 sha1 k\n");
            assert!(read_authkeys(f.path()).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn group_or_other_read_bit_is_refused() {
        for mode in [0o640, 0o604, 0o644] {
            let f = keyfile(mode, b"auth 1\n1 sha1 k\n");
            let e = read_authkeys(f.path()).unwrap_err().to_string();
            assert!(e.contains(&format!("found mode {mode:03o}")), "{e}");
            assert!(e.contains("600 recommended"), "{e}");
        }
    }

    #[test]
    fn missing_file_names_it() {
        let e = read_authkeys(Path::new("/nonexistent/authkeys"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/nonexistent/authkeys: error: cannot open keyfile: No such file"),
            "{e}"
        );
    }

    #[test]
    fn nodeinfo_first_line_only_if_newline_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let host = SystemHost { dir: dir.path() };
        let uname = nix::sys::utsname::uname().unwrap();
        let uname = uname.nodename().to_string_lossy().into_owned();
        assert_eq!(host.node_name(), uname);
        fs::write(dir.path().join("nodeinfo"), "Node7\nignored\n").unwrap();
        assert_eq!(host.node_name(), "Node7");
        fs::write(dir.path().join("nodeinfo"), "Node7").unwrap();
        assert_eq!(host.node_name(), uname);
        fs::write(dir.path().join("nodeinfo"), "\n").unwrap();
        assert_eq!(host.node_name(), uname);
    }

    #[test]
    fn interfaces_are_looked_up_safely() {
        let host = SystemHost {
            dir: Path::new("/nonexistent"),
        };
        assert!(host.interface_exists("lo"));
        assert!(!host.interface_exists("nosuch0"));
        for bad in ["", ".", "..", "../lo", "lo/."] {
            assert!(!host.interface_exists(bad), "{bad}");
        }
    }

    #[test]
    fn load_reads_all_three_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("ha.cf"),
            "node n1\nbcast lo\nauto_failback on\nlogfile /x\n",
        )
        .unwrap();
        fs::write(dir.path().join("haresources"), "n1 10.0.0.1\n").unwrap();
        let keys = dir.path().join("authkeys");
        fs::write(&keys, "auth 1\n1 crc\n").unwrap();
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).unwrap();
        let opts = CheckOptions {
            node: Some("N1".into()),
            skip_host_checks: false,
        };
        let l = load(dir.path(), &opts).unwrap();
        assert_eq!(l.config.groups.len(), 1);
        assert_eq!(l.config.local_node.as_str(), "n1");
    }

    #[test]
    fn services_lookup() {
        let t = "# c\nssh 22/tcp\nha-cluster\t694/udp # heartbeat\n";
        assert_eq!(services_port(t, "ha-cluster"), Some(694));
        assert_eq!(services_port(t, "ssh"), None);
    }

    #[test]
    fn non_utf8_is_an_error_with_position() {
        let f = keyfile(0o600, b"auth 1\n1 sha1 k\xff\n");
        let e = read_authkeys(f.path()).unwrap_err().to_string();
        assert!(
            e.contains(":2:9: error: expected UTF-8 text, found byte 0xff"),
            "{e}"
        );
    }
}
