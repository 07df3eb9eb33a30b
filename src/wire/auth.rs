//! Heartbeat's authentication (spec §4): the `crc`, `md5` and `sha1` methods, the
//! `"<index> <digest>"` token, and the only way to obtain an [`Authenticated`] message.
//!
//! * `crc` is CRC-32/CKSUM (MSB-first, polynomial 0x04C11DB7, init 0, final XOR all ones,
//!   no length suffix), written `%lx`: lower-case, no zero padding. It is *not* the zlib CRC
//!   that `crc32fast` computes, hence the table below.
//! * `md5` / `sha1` are RFC 2104 HMACs keyed with the authkeys token, in lower-case hex.
//!
//! Digests are compared as heartbeat compares them (the exact lower-case hex text), in
//! constant time. Keys never leave this module in any printable form.

use std::fmt;
use std::ops::Deref;

use hmac::{KeyInit, Mac};

use super::classic;
use super::error::DropReason;
use super::message::{Message, Value};
use super::{Proof, Received};
use crate::config::{AuthKey, AuthKeys, AuthMethod, KeyIndex};

/// A message whose signature was checked against one of our keys. Only this module can
/// build one, so holding it proves the check happened.
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated<M> {
    message: M,
    index: KeyIndex,
    method: AuthMethod,
}

impl<M> Authenticated<M> {
    pub fn message(&self) -> &M {
        &self.message
    }
    pub fn into_message(self) -> M {
        self.message
    }
    /// The key index the sender used.
    pub fn key_index(&self) -> KeyIndex {
        self.index
    }
    pub fn method(&self) -> AuthMethod {
        self.method
    }
}

impl<M> Deref for Authenticated<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.message
    }
}

impl<M: fmt::Debug> fmt::Debug for Authenticated<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("index", &self.index)
            .field("method", &self.method)
            .field("message", &self.message)
            .finish()
    }
}

/// Checks the signature a received message carries: the trailer for netstring input, the
/// last inner `auth` field for classic input (what a 3.0.6 receiver checks, spec §0 item 2).
pub fn authenticate(
    received: Received<'_>,
    keys: &AuthKeys,
) -> Result<Authenticated<Message>, DropReason> {
    let (index, method) = match received.proof {
        Proof::Trailer { signed, trailer } => {
            check_token(keys, trailer.ok_or(DropReason::MissingAuth)?, signed)?
        }
        Proof::Inner => {
            let token = received
                .message
                .fields()
                .iter()
                .rev()
                .find(|f| f.is("auth"))
                .ok_or(DropReason::MissingAuth)?;
            let Value::String(token) = &token.value else {
                return Err(DropReason::BadAuthToken);
            };
            let mut text = Vec::with_capacity(512);
            // A decoded message always renders (its depth was checked on input).
            classic::signed_text_into(&received.message, &mut text).map_err(|_| {
                DropReason::Malformed {
                    offset: 0,
                    what: "unrenderable message",
                }
            })?;
            check_token(keys, token, &text)?
        }
    };
    Ok(Authenticated {
        message: received.message,
        index,
        method,
    })
}

/// Parses `"<index> <digest>"` strictly (decimal index, one space, a non-empty digest).
fn parse_token(token: &[u8]) -> Option<(u32, &[u8])> {
    let sp = token.iter().position(|&b| b == b' ')?;
    let (idx, digest) = (&token[..sp], &token[sp + 1..]);
    if idx.is_empty() || idx.len() > 9 || digest.is_empty() {
        return None;
    }
    if digest.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let mut n = 0u32;
    for &d in idx {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    Some((n, digest))
}

/// Verifies `token` over `data` with the receiver's key of the token's index.
pub fn check_token(
    keys: &AuthKeys,
    token: &[u8],
    data: &[u8],
) -> Result<(KeyIndex, AuthMethod), DropReason> {
    let (n, got) = parse_token(token).ok_or(DropReason::BadAuthToken)?;
    let unknown = DropReason::UnknownKeyIndex { index: n };
    let index = u8::try_from(n)
        .ok()
        .and_then(KeyIndex::new)
        .ok_or(unknown)?;
    let key = keys.get(index).ok_or(unknown)?;
    let want = digest(key, data);
    if ct_eq(want.as_bytes(), got) {
        Ok((index, key.method()))
    } else {
        Err(DropReason::BadDigest {
            index,
            method: key.method(),
        })
    }
}

/// Appends our token over `data`: `"<send index> <digest>"` with the `auth N` key.
pub fn write_token(keys: &AuthKeys, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(keys.send_index().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(digest(keys.send_key(), data).as_bytes());
}

/// Our token over `data`, as a new buffer.
pub fn token(keys: &AuthKeys, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    write_token(keys, data, &mut out);
    out
}

/// Equality whose running time does not depend on where the inputs differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A digest as heartbeat writes it (lower-case hex, at most 40 characters).
#[derive(Clone, Copy)]
pub struct Digest {
    buf: [u8; 40],
    len: usize,
}

impl Digest {
    /// Matches no received digest. HMAC accepts keys of every length, so this only stands
    /// in for an impossible key error without a panic path.
    const NONE: Digest = Digest {
        buf: [0; 40],
        len: 0,
    };
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
    fn from_bytes(raw: &[u8]) -> Digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut d = Digest {
            buf: [0; 40],
            len: 0,
        };
        for (&b, out) in raw.iter().zip(d.buf.chunks_exact_mut(2)) {
            out[0] = HEX[usize::from(b >> 4)];
            out[1] = HEX[usize::from(b & 15)];
            d.len += 2;
        }
        d
    }
    /// `%lx`: lower-case hex without leading zeros.
    fn from_crc(crc: u32) -> Digest {
        let mut d = Digest::NONE;
        let digits = (8 - crc.leading_zeros() as usize / 4).max(1);
        for (i, out) in d.buf[..digits].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - i);
            *out = b"0123456789abcdef"[((crc >> shift) & 15) as usize];
        }
        d.len = digits;
        d
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The digest of `data` with one key, as it appears in a token.
pub fn digest(key: &AuthKey, data: &[u8]) -> Digest {
    match key {
        AuthKey::Crc => Digest::from_crc(crc_cksum(data)),
        AuthKey::Md5(secret) => {
            // HMAC accepts keys of any length (long keys are hashed first).
            let Ok(mut mac) = hmac::Hmac::<md5::Md5>::new_from_slice(secret.expose()) else {
                return Digest::NONE;
            };
            mac.update(data);
            Digest::from_bytes(&mac.finalize().into_bytes())
        }
        AuthKey::Sha1(secret) => {
            let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.expose()) else {
                return Digest::NONE;
            };
            mac.update(data);
            Digest::from_bytes(&mac.finalize().into_bytes())
        }
    }
}

/// Heartbeat's `crc` method: CRC-32/CKSUM without the length suffix (check value for
/// `"123456789"` is 0x765e7680). Eight bytes per step ("slicing-by-8"), the rest bytewise.
pub fn crc_cksum(data: &[u8]) -> u32 {
    let mut reg = 0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let hi = reg ^ u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let t = |k: usize, b: u32| CRC_TABLES[k][(b & 0xff) as usize];
        reg = t(7, hi >> 24)
            ^ t(6, hi >> 16)
            ^ t(5, hi >> 8)
            ^ t(4, hi)
            ^ t(3, u32::from(c[4]))
            ^ t(2, u32::from(c[5]))
            ^ t(1, u32::from(c[6]))
            ^ t(0, u32::from(c[7]));
    }
    !chunks
        .remainder()
        .iter()
        .fold(reg, |reg, &b| crc_step(reg, b))
}

/// One byte of the MSB-first CRC: heartbeat's table step.
fn crc_step(reg: u32, b: u8) -> u32 {
    (reg << 8) ^ CRC_TABLES[0][usize::from((reg >> 24) as u8 ^ b)]
}

const CRC_POLY: u32 = 0x04C1_1DB7;

/// `CRC_TABLES[0][i]` = the MSB-first CRC of `i << 24` (heartbeat's table);
/// `CRC_TABLES[k][i]` = the effect of byte `i` followed by `k` zero bytes.
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut reg = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            reg = if reg & 0x8000_0000 != 0 {
                (reg << 1) ^ CRC_POLY
            } else {
                reg << 1
            };
            bit += 1;
        }
        tables[0][i] = reg;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev << 8) ^ tables[0][(prev >> 24) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog";

    #[test]
    fn crc_table_matches_the_spec() {
        assert_eq!(CRC_TABLES[0][1], 0x04C1_1DB7);
        assert_eq!(CRC_TABLES[0][255], 0xB1F7_40B4);
    }

    /// The sliced CRC equals the plain bytewise one at every length and alignment.
    #[test]
    fn sliced_crc_equals_bytewise() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..9 {
            for end in start..data.len() {
                let d = &data[start..end];
                let bytewise = !d.iter().fold(0u32, |r, &b| crc_step(r, b));
                assert_eq!(crc_cksum(d), bytewise, "{start}..{end}");
            }
        }
    }

    /// Spec §4.5, produced by heartbeat's own plugins.
    #[test]
    fn spec_test_vectors() {
        let crc = |d: &[u8]| digest(&AuthKey::Crc, d).to_string();
        assert_eq!(crc(b"123456789"), "765e7680");
        assert_eq!(crc(b""), "ffffffff");
        assert_eq!(crc(b"a"), "579b24df");
        assert_eq!(crc(&[0xff, 0x80]), "d84c3bd8");
        assert_eq!(crc(b"x40"), "6a039b");
        assert_ne!(crc32fast::hash(b"123456789"), crc_cksum(b"123456789"));

        let md5 = |k: &[u8]| digest(&AuthKey::Md5(Secret::new(k)), FOX).to_string();
        let sha1 = |k: &[u8]| digest(&AuthKey::Sha1(Secret::new(k)), FOX).to_string();
        assert_eq!(md5(b"key"), "80070713463e7749b90c2dc24911e275");
        assert_eq!(sha1(b"key"), "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
        let long = b"0123456789".repeat(7);
        assert_eq!(sha1(&long), "23e6006940be81575ce4909efcf337802df0dafa");
        assert_eq!(md5(&long), "bc6eb69fb9269f0049e085d7e0cd4091");
    }

    fn keys(entries: &[(u8, AuthKey)], send: u8) -> AuthKeys {
        let map = entries
            .iter()
            .map(|(i, k)| (KeyIndex::new(*i).unwrap(), k.clone()))
            .collect();
        AuthKeys::new(KeyIndex::new(send).unwrap(), map).unwrap()
    }

    #[test]
    fn tokens_and_rollover() {
        let old = AuthKey::Md5(Secret::new("old"));
        let new = AuthKey::Sha1(Secret::new("new"));
        let sender = keys(&[(1, old.clone()), (2, new.clone())], 2);
        let receiver = keys(&[(1, old.clone()), (2, new)], 1);
        let t = token(&sender, b"data");
        assert!(t.starts_with(b"2 "));
        assert_eq!(t.len(), 42);
        assert_eq!(
            check_token(&receiver, &t, b"data"),
            Ok((KeyIndex::new(2).unwrap(), AuthMethod::Sha1))
        );
        let only_old = keys(&[(1, old)], 1);
        assert_eq!(
            check_token(&only_old, &t, b"data"),
            Err(DropReason::UnknownKeyIndex { index: 2 })
        );
        assert_eq!(
            check_token(&receiver, &t, b"Data"),
            Err(DropReason::BadDigest {
                index: KeyIndex::new(2).unwrap(),
                method: AuthMethod::Sha1
            })
        );
    }

    #[test]
    fn bad_tokens() {
        let k = keys(&[(1, AuthKey::Crc)], 1);
        let good = token(&k, b"x");
        assert!(check_token(&k, &good, b"x").is_ok());
        let upper = String::from_utf8(good.clone()).unwrap().to_uppercase();
        if upper.as_bytes() != good.as_slice() {
            assert!(matches!(
                check_token(&k, upper.as_bytes(), b"x"),
                Err(DropReason::BadDigest { .. })
            ));
        }
        for bad in [
            &b""[..],
            b"1",
            b"1 ",
            b" abc",
            b"x abc",
            b"1  abc",
            b"1 ab c",
            b"-1 abc",
        ] {
            assert_eq!(
                check_token(&k, bad, b"x"),
                Err(DropReason::BadAuthToken),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_token(&k, b"16 abc", b"x"),
            Err(DropReason::UnknownKeyIndex { index: 16 })
        );
        assert_eq!(
            check_token(&k, b"999999999 abc", b"x"),
            Err(DropReason::UnknownKeyIndex { index: 999999999 })
        );
    }

    #[test]
    fn crc_is_unpadded() {
        assert_eq!(Digest::from_crc(0x006a_039b).as_str(), "6a039b");
        assert_eq!(Digest::from_crc(0).as_str(), "0");
        assert_eq!(Digest::from_crc(0xf).as_str(), "f");
        assert_eq!(Digest::from_crc(0x10).as_str(), "10");
        assert_eq!(Digest::from_crc(0xffff_ffff).as_str(), "ffffffff");
        assert_eq!(Digest::from_crc(0x0800_0000).as_str(), "8000000");
    }
}
