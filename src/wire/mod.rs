//! Heartbeat's wire format: the message model, the classic and netstring codecs, and
//! authentication (crc / md5 / sha1). Pure: bytes in, values out — no IO, no clock, no log.
//!
//! # API for the rest of the daemon
//!
//! Building messages ([`Message`], first-match semantics like heartbeat; `set*` modifies
//! the first field of that name in place or appends): `m.set_str("t", "status")`,
//! `set_hex("seq", 0x1a)` (lower-case, unpadded), `set_dec("ttl", 3)`,
//! `set_binary("srcuuid", &uuid)`, `push` (always appends), `remove`; reading: `get_str`,
//! `get_bytes`, `get_hex`, `get_dec`, `get_binary`, `get_uuid` (exactly 16 bytes), `get`,
//! `fields()` (in wire order; `Field::is("auth")`).
//!
//! Sending:
//! * [`encode_udp`]`(&m, &keys) -> Result<Vec<u8>, EncodeError>` — what 3.0.6 puts in a UDP
//!   datagram (and an ICMP ping payload): netstring with the inner `auth` field set (modified
//!   in place or appended) and the trailer. Re-encoding a stored message gives the same bytes,
//!   as retransmissions require.
//! * [`encode_udp_trailer_only`] — the same without the inner `auth` (`msgfmt netstring`).
//! * [`encode_serial`]`(&m, &keys)` — classic text with the inner `auth`, no NUL.
//! * [`encode_classic_unsigned`] — classic text without signature (what the FIFO carries).
//! * [`sign_inner`]`(&mut m, &keys)` — sets the inner `auth` field on the message itself.
//!
//! Receiving:
//! * [`decode_udp`]`(&bytes, &keys) -> Result<Authenticated<Message>, DropReason>` — either
//!   format; netstring is checked by its trailer, classic by its inner `auth` (as 3.0.6 does).
//! * [`decode_serial`]`(&frame, &keys)` — one classic frame (the edge's
//!   `sys::serial::FrameReader` cuts a tty byte stream into frames).
//! * [`decode_unsigned`] — FIFO input (either format, no authentication).
//! * [`parse`] + [`auth::authenticate`] — the two steps of `decode_udp`, for tools that
//!   want to show a message whose signature fails (`--decode-packet`).
//!
//! Only [`auth`] can construct [`Authenticated`]; every rejection is a [`DropReason`].
//!
//! # Deliberately stricter than heartbeat 3.0.6
//!
//! Nothing a real 3.0.6 node sends is affected (every captured datagram and serial frame
//! round-trips); only hand-made input is refused where heartbeat would be lenient or crash:
//! * a netstring field without `(N)` is `MissingTypePrefix` (heartbeat aborts);
//! * a classic message must end with `<<<\n` (heartbeat also stops at a NUL or the end of
//!   the buffer); only NUL bytes may follow a message or its trailer;
//! * the auth token must be exactly `<decimal index> <digest>` (heartbeat's `sscanf("%d %s")`
//!   skips spaces and ignores what follows);
//! * base64 must be canonical (no stray bits in the padding), type digit 5 (heartbeat's
//!   in-memory "uncompressed struct") is refused, and field names may not contain LF or NUL
//!   or start with `(`, so every decoded message can be re-encoded in both formats.
//!
//! Like heartbeat, a netstring datagram is authenticated by its trailer only (its inner
//! `auth` is not checked) and a classic one by its last `auth` field.

pub mod auth;
pub mod base64;
pub mod classic;
pub mod error;
pub mod fuzzing;
pub mod message;
pub mod netstring;

pub use auth::Authenticated;
pub use error::{DropReason, EncodeError};
pub use message::{Field, FieldType, Message, Value};

use crate::config::AuthKeys;

/// Heartbeat's `MAXMSG`: the largest serialised message it reads or sends.
pub const MAXMSG: usize = 262_144;
/// The largest UDP payload over IPv4; heartbeat does not fragment on its own.
pub const UDP_MAX_PAYLOAD: usize = 65_507;
/// Deepest nesting level of a message (the top level is depth 0; heartbeat allows 16 levels).
pub const MAX_DEPTH: usize = 15;

/// Which of heartbeat's two encodings a message arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    /// `>>>` … `<<<` text.
    Classic,
    /// `###` … `%%%` netstrings.
    Netstring,
}

/// A parsed but not yet authenticated message, with what its signature covers.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    message: Message,
    format: WireFormat,
    proof: Proof<'a>,
}

/// What a received message's signature is checked against.
#[derive(Clone, Debug)]
enum Proof<'a> {
    /// Netstring: the trailer (if any) over the bytes `###\n` … `%%%\n`.
    Trailer {
        signed: &'a [u8],
        trailer: Option<&'a [u8]>,
    },
    /// Classic: the last inner `auth` field over the re-rendered other fields.
    Inner,
}

impl Received<'_> {
    /// The fields as received. Not authenticated: do not act on them.
    pub fn message(&self) -> &Message {
        &self.message
    }
    pub fn format(&self) -> WireFormat {
        self.format
    }
    /// The netstring trailer as received, if the message has one.
    pub fn trailer(&self) -> Option<&[u8]> {
        match self.proof {
            Proof::Trailer { trailer, .. } => trailer,
            Proof::Inner => None,
        }
    }
}

/// Rejects input above heartbeat's read buffer size.
fn check_size(bytes: &[u8]) -> Result<(), DropReason> {
    if bytes.len() > MAXMSG {
        return Err(DropReason::Oversized {
            len: bytes.len(),
            max: MAXMSG,
        });
    }
    Ok(())
}

/// Only NUL padding may follow a message (heartbeat's reader appends one NUL itself).
fn expect_end(bytes: &[u8], from: usize) -> Result<(), DropReason> {
    match bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .position(|&b| b != 0)
    {
        None => Ok(()),
        Some(p) => Err(DropReason::Malformed {
            offset: from + p,
            what: "bytes after the end of the message",
        }),
    }
}

/// Parses a datagram in either format (chosen by its first four bytes, like heartbeat)
/// without checking its signature.
pub fn parse(bytes: &[u8]) -> Result<Received<'_>, DropReason> {
    check_size(bytes)?;
    if bytes.starts_with(netstring::START) {
        let (message, end) = netstring::decode_prefix(bytes)?;
        let signed = bytes.get(..end).unwrap_or_default();
        let trailer = if bytes.get(end..).unwrap_or_default().iter().all(|&b| b == 0) {
            None
        } else {
            let (payload, next) = netstring::read_netstring(bytes, end, 0)?;
            expect_end(bytes, next)?;
            Some(payload)
        };
        Ok(Received {
            message,
            format: WireFormat::Netstring,
            proof: Proof::Trailer { signed, trailer },
        })
    } else if bytes.starts_with(classic::START) {
        Ok(Received {
            message: classic::decode(bytes)?,
            format: WireFormat::Classic,
            proof: Proof::Inner,
        })
    } else if bytes.len() < 4
        && (netstring::START.starts_with(bytes) || classic::START.starts_with(bytes))
    {
        Err(DropReason::Truncated)
    } else {
        Err(DropReason::Malformed {
            offset: 0,
            what: "neither ### nor >>> at the start",
        })
    }
}

/// Decodes and authenticates one UDP (or ICMP ping) payload.
pub fn decode_udp(bytes: &[u8], keys: &AuthKeys) -> Result<Authenticated<Message>, DropReason> {
    auth::authenticate(parse(bytes)?, keys)
}

/// Decodes and authenticates one serial frame (classic text only, checked by its inner
/// `auth` field).
pub fn decode_serial(frame: &[u8], keys: &AuthKeys) -> Result<Authenticated<Message>, DropReason> {
    check_size(frame)?;
    let received = Received {
        message: classic::decode(frame)?,
        format: WireFormat::Classic,
        proof: Proof::Inner,
    };
    auth::authenticate(received, keys)
}

/// Decodes local, unsigned input (the FIFO): either format; a trailer, if any, is ignored.
pub fn decode_unsigned(bytes: &[u8]) -> Result<Message, DropReason> {
    parse(bytes).map(|r| r.message)
}

/// The inner `auth` token of `m`: our signature over its classic text without `auth` fields.
fn inner_token(m: &Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let mut text = Vec::with_capacity(512);
    classic::signed_text_into(m, &mut text)?;
    Ok(auth::token(keys, &text))
}

/// Sets the inner `auth` field (modify-or-append) to our signature, as heartbeat's sender
/// does before storing a message in its history.
pub fn sign_inner(m: &mut Message, keys: &AuthKeys) -> Result<(), EncodeError> {
    let token = inner_token(m, keys)?;
    m.set("auth", Value::String(token));
    Ok(())
}

fn check_len(out: Vec<u8>, max: usize) -> Result<Vec<u8>, EncodeError> {
    if out.len() > max {
        return Err(EncodeError::Oversized {
            len: out.len(),
            max,
        });
    }
    Ok(out)
}

fn append_trailer(out: &mut Vec<u8>, keys: &AuthKeys) {
    let token = auth::token(keys, out);
    netstring::put_netstring(out, &token);
}

/// A UDP payload exactly as heartbeat 3.0.6 sends it: netstring fields with the inner `auth`
/// set to our signature, `%%%\n`, and the trailer over everything before it.
pub fn encode_udp(m: &Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let token = inner_token(m, keys)?;
    let mut out = Vec::with_capacity(512);
    netstring::encode_with_auth(m, &token, &mut out)?;
    append_trailer(&mut out, keys);
    check_len(out, UDP_MAX_PAYLOAD)
}

/// A netstring datagram re-signed with `keys`: its fields (inner `auth` included) exactly
/// as they are, and a fresh trailer. heartbeat's retransmission re-serialises the stored
/// message, whose trailer is computed with the keys in use at that moment (wire spec §8.1,
/// §4.3): byte-identical while the keys are unchanged, accepted by peers that verify with
/// the new key after a SIGHUP changed them (a netstring receiver checks only the trailer).
pub fn resign_udp(datagram: &[u8], keys: &AuthKeys) -> Result<Vec<u8>, DropReason> {
    let (_, body) = netstring::decode_prefix(datagram)?;
    let (_, end) = netstring::read_netstring(datagram, body, 0)?;
    if end != datagram.len() {
        return Err(DropReason::Malformed {
            offset: end,
            what: "bytes after the trailer",
        });
    }
    let mut out = Vec::with_capacity(datagram.len());
    out.extend_from_slice(&datagram[..body]);
    append_trailer(&mut out, keys);
    Ok(out)
}

/// A UDP payload as sent with `msgfmt netstring`: the fields as they are (no inner `auth`
/// is added), `%%%\n` and the trailer.
pub fn encode_udp_trailer_only(m: &Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(512);
    netstring::encode_into(m, &mut out)?;
    append_trailer(&mut out, keys);
    check_len(out, UDP_MAX_PAYLOAD)
}

/// One serial frame: classic text with the inner `auth` set to our signature, no NUL.
pub fn encode_serial(m: &Message, keys: &AuthKeys) -> Result<Vec<u8>, EncodeError> {
    let token = inner_token(m, keys)?;
    let mut out = Vec::with_capacity(512);
    classic::encode_with_auth(m, &token, &mut out)?;
    check_len(out, MAXMSG)
}

/// Classic text without any signature (the FIFO format).
pub fn encode_classic_unsigned(m: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(512);
    classic::encode_into(m, &mut out)?;
    check_len(out, MAXMSG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthKey, KeyIndex, Secret};

    fn keys() -> AuthKeys {
        AuthKeys::single(KeyIndex::new(1).unwrap(), AuthKey::Sha1(Secret::new("k")))
    }

    fn status() -> Message {
        let mut m = Message::new();
        m.set_str("t", "status").set_str("src", "node1");
        m
    }

    #[test]
    fn resigning_keeps_the_fields_and_renews_only_the_trailer() {
        let m = status();
        let sent = encode_udp(&m, &keys()).unwrap();
        assert_eq!(
            resign_udp(&sent, &keys()).unwrap(),
            sent,
            "same keys: byte-identical"
        );
        let new = AuthKeys::single(KeyIndex::new(2).unwrap(), AuthKey::Sha1(Secret::new("n")));
        let again = resign_udp(&sent, &new).unwrap();
        let body = netstring::decode_prefix(&sent).unwrap().1;
        assert_eq!(
            again[..body],
            sent[..body],
            "fields and inner auth as stored"
        );
        let got = decode_udp(&again, &new).expect("verifies with the new key alone");
        assert_eq!(got.message().get_str("auth").map(|a| &a[..2]), Some("1 "));
        assert!(
            decode_udp(&again, &keys()).is_err(),
            "the old key no longer signs it"
        );
        assert!(resign_udp(b"###\n%%%\n3:1 x,junk", &new).is_err());
        assert!(resign_udp(b"no netstring", &new).is_err());
    }

    #[test]
    fn size_limits() {
        let mut big = vec![b'#'; MAXMSG + 1];
        big[..4].copy_from_slice(b"###\n");
        assert_eq!(
            parse(&big).unwrap_err(),
            DropReason::Oversized {
                len: MAXMSG + 1,
                max: MAXMSG
            }
        );
        assert!(matches!(
            decode_serial(&big, &keys()),
            Err(DropReason::Oversized { .. })
        ));
        let mut m = status();
        m.set_binary("blob", &vec![0; UDP_MAX_PAYLOAD]);
        assert!(matches!(
            encode_udp(&m, &keys()),
            Err(EncodeError::Oversized {
                max: UDP_MAX_PAYLOAD,
                ..
            })
        ));
        m.set_binary("blob", &vec![0; MAXMSG]);
        assert!(matches!(
            encode_serial(&m, &keys()),
            Err(EncodeError::Oversized { max: MAXMSG, .. })
        ));
    }

    #[test]
    fn trailer_rules() {
        let bytes = encode_udp(&status(), &keys()).unwrap();
        let end = bytes.windows(4).position(|w| w == b"%%%\n").unwrap() + 4;
        // Without the trailer a netstring datagram is refused, even with a valid inner auth.
        assert_eq!(
            decode_udp(&bytes[..end], &keys()).unwrap_err(),
            DropReason::MissingAuth
        );
        // Trailing NULs (heartbeat's reader appends one) are fine; anything else is not.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0, 0]);
        assert!(decode_udp(&padded, &keys()).is_ok());
        let mut junk = bytes.clone();
        junk.push(b'x');
        assert!(matches!(
            decode_udp(&junk, &keys()),
            Err(DropReason::Malformed { .. })
        ));
        assert_eq!(
            decode_udp(&bytes[..bytes.len() - 1], &keys()).unwrap_err(),
            DropReason::Truncated
        );
    }

    #[test]
    fn classic_datagrams_are_checked_by_their_inner_auth() {
        let bytes = encode_serial(&status(), &keys()).unwrap();
        let m = decode_udp(&bytes, &keys()).unwrap();
        assert_eq!(m.get_str("src"), Some("node1"));
        let unsigned = encode_classic_unsigned(&status()).unwrap();
        assert_eq!(
            decode_udp(&unsigned, &keys()).unwrap_err(),
            DropReason::MissingAuth
        );
        assert_eq!(decode_unsigned(&unsigned).unwrap(), status());
        // The last auth field is the one checked (heartbeat's rule).
        let mut two = decode_unsigned(&bytes).unwrap();
        two.push("auth", Value::String(b"1 0000".to_vec()));
        let bytes = encode_classic_unsigned(&two).unwrap();
        assert!(matches!(
            decode_udp(&bytes, &keys()),
            Err(DropReason::BadDigest { .. })
        ));
    }

    #[test]
    fn trailer_only_encoding_for_msgfmt_netstring() {
        let bytes = encode_udp_trailer_only(&status(), &keys()).unwrap();
        let m = decode_udp(&bytes, &keys()).unwrap();
        assert_eq!(m.message(), &status());
        let mut signed = status();
        sign_inner(&mut signed, &keys()).unwrap();
        assert_eq!(
            encode_udp_trailer_only(&signed, &keys()).unwrap(),
            encode_udp(&status(), &keys()).unwrap()
        );
    }

    #[test]
    fn start_markers() {
        assert_eq!(parse(b"##").unwrap_err(), DropReason::Truncated);
        assert_eq!(parse(b">").unwrap_err(), DropReason::Truncated);
        assert!(matches!(
            parse(b"GET / HTTP/1.0\r\n"),
            Err(DropReason::Malformed { offset: 0, .. })
        ));
    }
}
