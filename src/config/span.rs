//! Source positions and diagnostics: `PATH:LINE:COL: error: MESSAGE`, the offending line and
//! a caret under the part to blame.
//!
//! Rendering is pure: the parsers attach the (already redacted, for authkeys) source line to
//! each diagnostic, so printing never needs the file again.

use std::fmt;
use std::path::{Path, PathBuf};

/// Heartbeat reads each line into a 5120-byte buffer; longer physical lines are split by it
/// (a quirk we refuse instead, see docs/configuration.md).
pub const MAX_LINE_BYTES: usize = 5119;

/// How much of a source line a diagnostic shows; a 1 MiB line must not flood the terminal.
const SHOWN_CHARS: usize = 120;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A position in a file: 1-based line and column (columns count characters). Line 0 means
/// "the file as a whole" (a missing directive, an unreadable file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    /// Characters the caret underlines (at least one is drawn).
    pub width: usize,
}

impl Pos {
    pub const FILE: Pos = Pos {
        line: 0,
        col: 0,
        width: 0,
    };

    /// The position of `part`, a sub-slice of `line_text`, on line `line`. Falls back to the
    /// start of the line if `part` does not point into `line_text`.
    pub fn of(line: usize, line_text: &str, part: &str) -> Pos {
        let base = line_text.as_ptr() as usize;
        let at = part.as_ptr() as usize;
        let offset = at
            .checked_sub(base)
            .filter(|o| *o <= line_text.len() && line_text.is_char_boundary(*o))
            .unwrap_or(0);
        let col = line_text.get(..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos {
            line,
            col,
            width: part.chars().count().max(1),
        }
    }

    /// Column `col` (1-based) of `line`, `width` characters wide.
    pub fn at(line: usize, col: usize, width: usize) -> Pos {
        Pos { line, col, width }
    }
}

/// One problem found in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub path: PathBuf,
    pub pos: Pos,
    pub message: String,
    /// The source line to show under the message (redacted where it could hold a key).
    pub source: Option<String>,
    /// Extra lines printed as `  = note: ...` (heartbeat's own wording, hints).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(path: &Path, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            path: path.to_path_buf(),
            pos,
            message: message.into(),
            source: None,
            notes: Vec::new(),
        }
    }
    pub fn warning(path: &Path, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, pos, message)
        }
    }
    pub fn with_source(mut self, source: &str) -> Diagnostic {
        self.source = Some(source.to_string());
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Characters a terminal shows as themselves; anything else is printed as `?` so that a NUL,
/// an escape sequence or a TAB cannot move the caret away from what it points at.
fn printable(c: char) -> char {
    if c.is_control() { '?' } else { c }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(
                f,
                "{}: {}: {}",
                self.path.display(),
                self.severity,
                self.message
            )?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.path.display(),
                self.pos.line,
                self.pos.col,
                self.severity,
                self.message
            )?;
        }
        if let (Some(src), true) = (&self.source, self.pos.line > 0) {
            // Show a window of the line that contains the caret.
            let col0 = self.pos.col.saturating_sub(1);
            let start = col0.saturating_sub(SHOWN_CHARS / 2);
            let total = src.chars().count();
            let shown: String = src
                .chars()
                .skip(start)
                .take(SHOWN_CHARS)
                .map(printable)
                .collect();
            let lead = if start > 0 { "..." } else { "" };
            let tail = if start + SHOWN_CHARS < total {
                "..."
            } else {
                ""
            };
            let num = self.pos.line.to_string();
            let pad = " ".repeat(num.len());
            write!(f, "\n{num} | {lead}{shown}{tail}")?;
            let caret_at = col0 - start + lead.len();
            let width = self
                .pos
                .width
                .clamp(1, SHOWN_CHARS.saturating_sub(col0 - start).max(1));
            write!(f, "\n{pad} | {}{}", " ".repeat(caret_at), "^".repeat(width))?;
        }
        for note in &self.notes {
            write!(f, "\n  = note: {note}")?;
        }
        Ok(())
    }
}

/// Quotes a found value for a message: `` `text` `` (shortened, control characters shown as
/// `?`), or "end of line" when empty.
pub fn found(text: &str) -> String {
    if text.is_empty() {
        return "end of line".to_string();
    }
    let mut s: String = text.chars().take(40).map(printable).collect();
    if text.chars().count() > 40 {
        s.push_str("...");
    }
    format!("`{s}`")
}

/// One physical line of a file, as the parsers see it.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// 1-based.
    pub number: usize,
    /// Without its LF (a CR, if any, is kept: each parser decides what it means).
    pub text: &'a str,
}

/// Splits text into physical lines. A final line without LF counts; an empty file has none.
pub fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    body.split('\n')
        .enumerate()
        .filter(move |_| !empty)
        .map(|(i, text)| Line {
            number: i + 1,
            text,
        })
}

/// Checks that apply to every line of every file: no NUL byte (heartbeat's C string handling
/// would silently cut the line there), and at most [`MAX_LINE_BYTES`] bytes.
pub fn check_line(path: &Path, line: &Line<'_>, shown: &str) -> Option<Diagnostic> {
    if let Some(i) = line.text.find('\0') {
        let col = line.text.get(..i).map_or(0, |s| s.chars().count()) + 1;
        return Some(
            Diagnostic::error(
                path,
                Pos::at(line.number, col, 1),
                "expected text, found a NUL byte",
            )
            .with_source(shown),
        );
    }
    if line.text.len() > MAX_LINE_BYTES {
        return Some(
            Diagnostic::error(
                path,
                Pos::at(line.number, 1, 1),
                format!(
                    "expected a line of at most {MAX_LINE_BYTES} bytes, found {} bytes",
                    line.text.len()
                ),
            )
            .with_source(shown)
            .with_note("heartbeat would split this line and parse the rest as a new line"),
        );
    }
    None
}

/// Renders a list of diagnostics, one block per diagnostic, each followed by a newline.
pub fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_source_and_caret() {
        let line = "keepalive 2x";
        let d = Diagnostic::error(
            Path::new("ha.cf"),
            Pos::of(3, line, &line[10..]),
            "expected a time, found `2x`",
        )
        .with_source(line);
        assert_eq!(
            d.to_string(),
            "ha.cf:3:11: error: expected a time, found `2x`\n3 | keepalive 2x\n  |           ^^"
        );
    }

    #[test]
    fn file_level_diagnostics_have_no_position() {
        let d = Diagnostic::error(Path::new("authkeys"), Pos::FILE, "missing auth directive");
        assert_eq!(d.to_string(), "authkeys: error: missing auth directive");
    }

    #[test]
    fn long_lines_are_windowed_and_controls_replaced() {
        let line = format!("{}\u{1b}x", "a".repeat(1000));
        let d = Diagnostic::error(Path::new("f"), Pos::at(1, 1001, 1), "m").with_source(&line);
        let s = d.to_string();
        assert!(s.len() < 400, "{s}");
        assert!(s.contains("?x"));
        assert!(!s.contains('\u{1b}'));
    }

    #[test]
    fn lines_counts_a_final_line_without_newline() {
        let v: Vec<_> = lines("a\nb").map(|l| (l.number, l.text)).collect();
        assert_eq!(v, vec![(1, "a"), (2, "b")]);
        assert_eq!(lines("").count(), 0);
        assert_eq!(lines("\n").count(), 1);
    }
}
