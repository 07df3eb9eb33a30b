//! Standard base64 (RFC 4648 alphabet, `=` padding, no line breaks), as heartbeat writes
//! binary fields in classic text (spec §3.5).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

pub fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(data.len()));
    let sym = |v: u32| ALPHABET[(v & 63) as usize];
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let v = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[sym(v >> 18), sym(v >> 12), sym(v >> 6), sym(v)]);
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.extend_from_slice(&[sym(v >> 18), sym(v >> 12), b'=', b'=']);
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sym(v >> 18), sym(v >> 12), sym(v >> 6), b'=']);
        }
        _ => {}
    }
}

pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(data, &mut out);
    out
}

fn value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Strict decoding: length a multiple of 4, padding only at the end, and unused bits zero
/// (the canonical form heartbeat produces), so decode→encode gives the same text back.
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quads = text.chunks_exact(4).peekable();
    while let Some(q) = quads.next() {
        let last = quads.peek().is_none();
        let pad = match (q[2], q[3]) {
            (b'=', b'=') if last => 2,
            (_, b'=') if last => 1,
            _ => 0,
        };
        let mut v = 0u32;
        for &c in &q[..4 - pad] {
            v = v << 6 | value(c)?;
        }
        v <<= 6 * pad as u32;
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        let keep = 3 - pad;
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None; // non-canonical: stray bits in the padding
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc.as_bytes());
            assert_eq!(decode(enc.as_bytes()).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn uuid_from_spec() {
        let uuid = [
            0x2f, 0x1b, 0x4c, 0x7e, 0x91, 0x02, 0x4d, 0x3a, 0x8b, 0x55, 0x6c, 0x0d, 0xe1, 0xf2,
            0x33, 0x44,
        ];
        assert_eq!(encode(&uuid), b"LxtMfpECTTqLVWwN4fIzRA==");
    }

    #[test]
    fn rejects_bad_text() {
        for bad in ["Zg=", "Zg", "Z===", "Zh==", "Zm9=Zm9v", "Zm9v\n", "Zm-v"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad}");
        }
    }
}
