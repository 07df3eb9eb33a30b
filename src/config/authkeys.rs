//! `authkeys` (behaviour spec §3, wire protocol §4.1): `auth N` selects the key used to sign
//! what we send; `N METHOD [KEY]` lines declare every key accepted on receive.
//!
//! Keys never reach a diagnostic: the source line shown under a message keeps only its first
//! two words, and messages quote at most the index and the method.

use std::collections::BTreeMap;
use std::path::Path;

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::tag;
use nom::character::complete::{digit1, space0};

use super::model::{AuthKey, AuthKeys, KeyIndex, Secret};
use super::span::{self, Diagnostic, Pos, found};

/// Parses an authkeys file. Pure: the caller reads the file and checks its mode.
pub fn parse(text: &str, path: &Path) -> Result<AuthKeys, Vec<Diagnostic>> {
    let (keys, diags) = parse_with_warnings(text, path);
    match keys {
        Some(k) if !diags.iter().any(Diagnostic::is_error) => Ok(k),
        _ => Err(diags),
    }
}

/// Like [`parse`], but also returns the warnings of a file that is accepted.
pub fn parse_with_warnings(text: &str, path: &Path) -> (Option<AuthKeys>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut keys = BTreeMap::new();
    // The index of the most recent `auth` line, and where it was.
    let mut auth: Option<(u64, Pos, String)> = None;
    // The index selected for sending: set when a key line matches the current `auth`.
    let mut selected: Option<KeyIndex> = None;

    for line in span::lines(text) {
        let shown = redact(line.text);
        if let Some(d) = span::check_line(path, &line, &shown) {
            diags.push(d);
            continue;
        }
        let body = line.text.trim_start_matches(is_space);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        // Positions are taken on the shown (redacted) line so the caret sits under it.
        let err = |word: usize, msg: String| {
            Diagnostic::error(path, word_pos(line.number, &shown, word), msg).with_source(&shown)
        };
        let words: Vec<&str> = body.split(is_space).filter(|w| !w.is_empty()).collect();
        if body.starts_with('a') {
            match auth_line(body) {
                Some((digits, trailing)) => {
                    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
                    if trailing {
                        diags.push(
                            Diagnostic::warning(
                                path,
                                Pos::at(line.number, 1, 1),
                                format!("ignored text after `auth {digits}`"),
                            )
                            .with_source(&shown),
                        );
                    }
                    let at = if words.first() == Some(&"auth") { 1 } else { 0 };
                    auth = Some((n, word_pos(line.number, &shown, at), shown.clone()));
                }
                None => {
                    let (at, what) = match words.as_slice() {
                        ["auth", w, ..] => (1, quoted(1, w)),
                        ["auth"] => (0, "end of line".to_string()),
                        [w, ..] => (0, quoted(0, w)),
                        [] => (0, "end of line".to_string()),
                    };
                    diags.push(
                        err(at, format!("expected `auth N` (N a number), found {what}")).with_note(
                            format!(
                                "heartbeat: Invalid auth line [{}] in {}",
                                shown.trim_matches(is_space),
                                path.display()
                            ),
                        ),
                    );
                }
            }
            continue;
        }

        let (index, method, key) = match words.as_slice() {
            [] => continue,
            [w] => {
                diags.push(
                    err(
                        0,
                        format!("expected `N METHOD [KEY]`, found only {}", quoted(0, w)),
                    )
                    .with_note("heartbeat: Auth line [...] is invalid."),
                );
                continue;
            }
            [i, m] => (*i, *m, None),
            [i, m, k, ..] => (*i, *m, Some(*k)),
        };
        let Some(n) = parse_index(index) else {
            diags.push(
                err(
                    0,
                    format!("expected a key index 0-15, found {}", quoted(0, index)),
                )
                .with_note("heartbeat: Invalid authnum [N] in authkeys"),
            );
            continue;
        };
        let parsed = match (method, key) {
            ("crc", None) => Ok(AuthKey::Crc),
            ("crc", Some(_)) => Err(
                err(2, "expected no key after `crc`, found a key".to_string())
                    .with_note("heartbeat: Auth method [crc] doesn't use a key"),
            ),
            ("md5" | "sha1", None) => Err(err(
                1,
                format!("expected a key after `{method}`, found end of line"),
            )
            .with_note(format!("heartbeat: Auth method [{method}] requires a key"))),
            ("md5", Some(k)) => Ok(AuthKey::Md5(Secret::new(k))),
            ("sha1", Some(k)) => Ok(AuthKey::Sha1(Secret::new(k))),
            (other, _) => Err(err(
                1,
                format!(
                    "expected an auth method (crc, md5 or sha1), found {}",
                    quoted(1, other)
                ),
            )
            .with_note("heartbeat: Invalid authtype [METHOD]; method names are case-sensitive")),
        };
        match parsed {
            Ok(k) => {
                if words.len() > 3 {
                    diags.push(
                        Diagnostic::warning(
                            path,
                            word_pos(line.number, &shown, 3),
                            "text after the key is ignored (a key cannot contain spaces)",
                        )
                        .with_source(&shown),
                    );
                }
                keys.insert(n, k);
                if auth
                    .as_ref()
                    .is_some_and(|(a, ..)| *a == u64::from(n.get()))
                {
                    selected = Some(n);
                }
            }
            Err(d) => diags.push(d),
        }
    }

    let result = match (&auth, selected) {
        (None, _) => {
            diags.push(
                Diagnostic::error(path, Pos::FILE, "expected an `auth N` line, found none")
                    .with_note(format!(
                        "heartbeat: Missing auth directive in keyfile [{}]",
                        path.display()
                    )),
            );
            None
        }
        (Some((n, pos, shown)), None) => {
            diags.push(
                Diagnostic::error(
                    path,
                    *pos,
                    format!("expected a key line `{n} METHOD [KEY]` after this line, found none"),
                )
                .with_source(shown)
                .with_note(format!(
                    "heartbeat: Auth Key [{n}] not found in keyfile [{}]",
                    path.display()
                ))
                .with_note("a key line counts only if it comes after its `auth` line"),
            );
            None
        }
        (Some(_), Some(idx)) => AuthKeys::new(idx, keys),
    };
    (result, diags)
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

/// `auth` [blanks] digits: the digits, and whether text follows them (heartbeat reads the
/// number and ignores the rest; we accept and warn).
fn auth_line(body: &str) -> Option<(&str, bool)> {
    let r: IResult<&str, &str> = (tag("auth"), space0, digit1).map(|(_, _, d)| d).parse(body);
    let (rest, digits) = r.ok()?;
    Some((digits, !rest.trim_matches(is_space).is_empty()))
}

/// The position of word `i` (0-based) of `shown`; the end of the line if it has fewer words.
fn word_pos(line: usize, shown: &str, i: usize) -> Pos {
    match shown.split(is_space).filter(|w| !w.is_empty()).nth(i) {
        Some(w) => Pos::of(line, shown, w),
        None => Pos::at(line, shown.chars().count() + 1, 1),
    }
}

fn parse_index(word: &str) -> Option<KeyIndex> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse::<u8>().ok().and_then(KeyIndex::new)
}

/// Whether word number `i` (0-based) of an authkeys line may be shown: an index, `auth`,
/// `authN` or a method-like word. Anything else could be (part of) a key.
fn showable(i: usize, word: &str) -> bool {
    let digits = |w: &str| !w.is_empty() && w.len() <= 4 && w.bytes().all(|b| b.is_ascii_digit());
    match i {
        0 => digits(word) || word == "auth" || word.strip_prefix("auth").is_some_and(digits),
        1 => digits(word) || ["crc", "md5", "sha1"].contains(&word.to_ascii_lowercase().as_str()),
        _ => false,
    }
}

/// `word`, quoted, if it may be shown; otherwise a neutral description.
fn quoted(i: usize, word: &str) -> String {
    if showable(i, word) {
        found(word)
    } else {
        "a word that is not shown (it could be a key)".to_string()
    }
}

/// The line as it may be shown: every word that could be a key replaced by `<redacted>`.
pub(crate) fn redact(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut i = 0;
    while !rest.is_empty() {
        let ws_len = rest.len() - rest.trim_start_matches(is_space).len();
        out.push_str(&rest[..ws_len]);
        rest = &rest[ws_len..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find(is_space).unwrap_or(rest.len());
        let word = &rest[..end];
        if showable(i, word) {
            out.push_str(word);
        } else {
            out.push_str("<redacted>");
        }
        rest = &rest[end..];
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::AuthMethod;

    fn p(text: &str) -> Result<AuthKeys, Vec<Diagnostic>> {
        parse(text, Path::new("authkeys"))
    }

    fn first_error(text: &str) -> String {
        let e = p(text).unwrap_err();
        e.iter().find(|d| d.is_error()).unwrap().to_string()
    }

    #[test]
    fn selects_the_auth_key_and_keeps_all_keys() {
        let k = p("# comment\nauth 2\n1 md5 old\n2 sha1 new\n3 crc\n").unwrap();
        assert_eq!(k.send_index().get(), 2);
        assert_eq!(k.send_key().method(), AuthMethod::Sha1);
        assert_eq!(k.iter().count(), 3);
    }

    #[test]
    fn auth_without_space_and_crlf_work() {
        let k = p("auth1\r\n1 crc\r\n").unwrap();
        assert_eq!(k.send_key(), &AuthKey::Crc);
    }

    #[test]
    fn key_before_auth_is_not_selected() {
        let e = first_error("1 sha1 secret\nauth 1\n");
        assert!(e.starts_with("authkeys:2:6: error: expected a key line `1 METHOD [KEY]` after this line, found none"), "{e}");
        assert!(e.contains("Auth Key [1] not found"));
    }

    #[test]
    fn missing_auth_directive() {
        assert!(first_error("1 crc\n").starts_with("authkeys: error: expected an `auth N` line"));
    }

    #[test]
    fn crc_with_key_is_rejected_without_showing_the_key() {
        let e = first_error("auth 1\n1 crc hunter2\n");
        assert!(
            e.starts_with("authkeys:2:7: error: expected no key after `crc`"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("1 crc <redacted>"));
    }

    #[test]
    fn md5_needs_a_key() {
        let e = first_error("auth 1\n1 md5\n");
        assert!(
            e.starts_with("authkeys:2:3: error: expected a key after `md5`, found end of line"),
            "{e}"
        );
    }

    #[test]
    fn index_out_of_range_and_unknown_method() {
        let e = first_error("auth 1\n16 md5 k\n1 crc\n");
        assert!(
            e.starts_with("authkeys:2:1: error: expected a key index 0-15, found `16`"),
            "{e}"
        );
        let e = first_error("auth 1\n1 SHA1 k\n");
        assert!(e.contains("found `SHA1`"), "{e}");
        let e = first_error("auth 1\nmypassword\n");
        assert!(!e.contains("mypassword"), "{e}");
    }

    #[test]
    fn bad_auth_line() {
        let e = first_error("auth x\n1 crc\n");
        assert!(e.starts_with("authkeys:1:6: error: expected `auth N` (N a number), found a word that is not shown"), "{e}");
        let e = first_error("alphasecret\n1 crc\n");
        assert!(!e.contains("alphasecret"), "{e}");
        assert!(
            e.starts_with("authkeys:1:1: error: expected `auth N`"),
            "{e}"
        );
    }

    #[test]
    fn later_key_line_wins_and_trailing_words_warn() {
        let (k, d) = parse_with_warnings("auth 1\n1 md5 a\n1 sha1 b # note\n", Path::new("k"));
        let k = k.unwrap();
        assert_eq!(k.send_key().method(), AuthMethod::Sha1);
        assert_eq!(d.len(), 1);
        assert!(!d[0].is_error());
        assert!(!d[0].to_string().contains(" b"));
    }

    #[test]
    fn all_errors_are_reported() {
        let e = p("auth 1\n1 crc x\n2 md5\n99 sha1 k\n").unwrap_err();
        assert_eq!(e.iter().filter(|d| d.is_error()).count(), 4);
    }

    #[test]
    fn redaction_keeps_two_words() {
        assert_eq!(
            redact("  1 sha1 secret more"),
            "  1 sha1 <redacted> <redacted>"
        );
        assert_eq!(redact("1 blowfish k"), "1 <redacted> <redacted>");
        assert_eq!(redact("auth 3"), "auth 3");
        assert_eq!(redact("1 crc"), "1 crc");
    }
}
