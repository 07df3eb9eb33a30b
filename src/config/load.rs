//! The one part of `config` that touches the filesystem and the host: it reads the three
//! files, checks authkeys' mode, asks the machine about interfaces, devices and its own name,
//! and hands text to the pure parsers.

use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::authkeys;
use super::model::AuthKeys;
use super::span::{Diagnostic, Pos, render_all};

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
    fn non_utf8_is_an_error_with_position() {
        let f = keyfile(0o600, b"auth 1\n1 sha1 k\xff\n");
        let e = read_authkeys(f.path()).unwrap_err().to_string();
        assert!(
            e.contains(":2:9: error: expected UTF-8 text, found byte 0xff"),
            "{e}"
        );
    }
}
