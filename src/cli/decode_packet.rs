//! `heartbeat --decode-packet [--config-dir DIR | --authkeys FILE] [FILE|-]`: decode and
//! verify one raw UDP payload (e.g. cut from a tcpdump capture).
//!
//! Prints the message as classic text (binary fields in base64; bytes outside printable
//! ASCII as `\xNN`), then `auth: ok (index N, METHOD)` or
//! `auth: FAILED (index N, METHOD): REASON`. Exit status: 0 authentic, 1 authentication
//! failed, 2 malformed or unreadable payload, 6 unusable authkeys (heartbeat's
//! configuration-error status).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_NOT_CONFIGURED, Mode, Options};
use crate::config::AuthKeys;
use crate::config::load::read_authkeys;
use crate::wire::{self, DropReason, MAXMSG, classic};

pub const EXIT_AUTHENTIC: u8 = 0;
pub const EXIT_AUTH_FAILED: u8 = 1;
pub const EXIT_MALFORMED: u8 = 2;

pub fn run(opts: &Options) -> ExitCode {
    let keyfile = opts
        .authkeys
        .clone()
        .unwrap_or_else(|| opts.config_dir.join("authkeys"));
    let keys = match read_authkeys(&keyfile) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_NOT_CONFIGURED);
        }
    };
    let input = match &opts.mode {
        Mode::DecodePacket { input } => input.clone(),
        _ => None,
    };
    let bytes = match read_input(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            return ExitCode::from(EXIT_MALFORMED);
        }
    };
    let (report, code) = report(&bytes, &keys);
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. piped into `head`) must not turn into a panic.
    let _ = out.write_all(report.as_bytes()).and_then(|()| out.flush());
    ExitCode::from(code)
}

/// Reads the payload from FILE or stdin, at most one byte more than heartbeat accepts (so an
/// oversized payload is reported as such without reading it all).
fn read_input(input: Option<PathBuf>) -> Result<Vec<u8>, String> {
    let limit = MAXMSG as u64 + 1;
    let mut bytes = Vec::new();
    let result = match &input {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        None => std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}")),
    };
    result.map(|_| bytes)
}

/// The text to print and the exit status for one payload. Pure, for tests.
pub fn report(bytes: &[u8], keys: &AuthKeys) -> (String, u8) {
    let received = match wire::parse(bytes) {
        Ok(r) => r,
        Err(e) => return (format!("malformed: {e}\n"), EXIT_MALFORMED),
    };
    let mut text = Vec::new();
    if let Err(e) = classic::encode_into(received.message(), &mut text) {
        return (format!("malformed: {e}\n"), EXIT_MALFORMED);
    }
    let mut out = printable(&text);
    match wire::auth::authenticate(received, keys) {
        Ok(m) => {
            out.push_str(&format!(
                "auth: ok (index {}, {})\n",
                m.key_index(),
                m.method()
            ));
            (out, EXIT_AUTHENTIC)
        }
        Err(e) => {
            let (index, method) = match e {
                DropReason::BadDigest { index, method } => {
                    (index.to_string(), method.name().to_owned())
                }
                DropReason::UnknownKeyIndex { index } => (index.to_string(), "-".to_owned()),
                _ => ("-".to_owned(), "-".to_owned()),
            };
            out.push_str(&format!("auth: FAILED (index {index}, {method}): {e}\n"));
            (out, EXIT_AUTH_FAILED)
        }
    }
}

/// Classic text made safe for a terminal: printable ASCII, LF and everything else as `\xNN`
/// (the notation of the fixture dumps).
fn printable(text: &[u8]) -> String {
    let mut s = String::with_capacity(text.len());
    for &b in text {
        if b == b'\n' || (0x20..0x7f).contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthKey, KeyIndex, Secret};

    fn sha1(secret: &str) -> AuthKeys {
        AuthKeys::single(
            KeyIndex::new(1).unwrap(),
            AuthKey::Sha1(Secret::new(secret)),
        )
    }

    fn sample() -> Vec<u8> {
        let mut m = wire::Message::new();
        m.set_str("t", "status")
            .set_binary("srcuuid", &[0xff; 3])
            .set_str("info", "a\nb");
        wire::encode_udp(&m, &sha1("k")).unwrap()
    }

    #[test]
    fn authentic() {
        let (text, code) = report(&sample(), &sha1("k"));
        assert_eq!(code, 0);
        assert!(
            text.starts_with(">>>\nt=status\n(1)srcuuid=////\ninfo=a\\x13b\nauth=1 "),
            "{text}"
        );
        assert!(text.ends_with("<<<\nauth: ok (index 1, sha1)\n"), "{text}");
    }

    #[test]
    fn failures() {
        let (text, code) = report(&sample(), &sha1("other"));
        assert_eq!(code, 1);
        assert!(
            text.ends_with("auth: FAILED (index 1, sha1): digest mismatch\n"),
            "{text}"
        );
        assert!(!text.contains("other"), "never print a key");
        let crc2 = AuthKeys::single(KeyIndex::new(2).unwrap(), AuthKey::Crc);
        let (text, code) = report(&sample(), &crc2);
        assert_eq!(code, 1);
        assert!(
            text.ends_with("auth: FAILED (index 1, -): no key with index 1\n"),
            "{text}"
        );
        let bytes = sample();
        let end = bytes.windows(4).position(|w| w == b"%%%\n").unwrap() + 4;
        let (text, code) = report(&bytes[..end], &sha1("k"));
        assert_eq!(code, 1);
        assert!(
            text.ends_with("auth: FAILED (index -, -): no authentication\n"),
            "{text}"
        );
    }

    #[test]
    fn malformed() {
        let (text, code) = report(b"###\n8:t=status,%%%\n", &sha1("k"));
        assert_eq!(code, 2);
        assert_eq!(
            text,
            "malformed: netstring field without (N) type prefix at byte 6\n"
        );
        assert_eq!(report(b"", &sha1("k")).1, 2);
        assert_eq!(report(&vec![b'#'; MAXMSG + 1], &sha1("k")).1, 2);
    }
}
