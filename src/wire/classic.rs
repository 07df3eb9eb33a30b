//! The classic ("nvpair") text encoding (spec §3.1): `>>>\n`, one `[(N)]name=value\n` line
//! per field, `<<<\n`. Serial lines, the FIFO and old senders use it, and the inner `auth`
//! signature is computed over it.
//!
//! String values travel with each LF replaced by byte 0x13 (and back on input); binary and
//! compressed values are base64; a nested message is its own classic text with every LF
//! replaced by `SYM(depth)`.

use super::base64;
use super::error::{DropReason, EncodeError};
use super::message::{Field, FieldType, Message, Value, intern, is_valid_name};
use super::netstring::{pack_list, unpack_list};
use super::{MAX_DEPTH, MAXMSG};

pub const START: &[u8; 4] = b">>>\n";
pub const END: &[u8; 4] = b"<<<\n";

/// What LF becomes inside string values.
const LF_ESCAPE: u8 = 0x13;

/// The byte that replaces LF in a nested message rendered inside a message at `depth`.
fn sym(depth: usize) -> u8 {
    match depth {
        0..=11 => 0x14 + depth as u8,
        _ => 0x0f + (depth as u8 - 12),
    }
}

/// Appends the full classic text of `m` (`>>>\n` … `<<<\n`, no NUL).
pub fn encode_into(m: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_at(m, 0, out, None)
}

/// As [`encode_into`], with the first `auth` field set to `auth` (appended if absent).
pub(crate) fn encode_with_auth(
    m: &Message,
    auth: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    encode_at(m, 0, out, Some(auth))
}

fn encode_at(
    m: &Message,
    depth: usize,
    out: &mut Vec<u8>,
    mut auth: Option<&[u8]>,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep);
    }
    out.extend_from_slice(START);
    for f in m.fields() {
        match auth {
            Some(token) if f.is("auth") => {
                put_string_line(out, &f.name, token);
                auth = None;
            }
            _ => encode_field(f, depth, out)?,
        }
    }
    if let Some(token) = auth {
        put_string_line(out, b"auth", token);
    }
    out.extend_from_slice(END);
    Ok(())
}

/// Appends the bytes the inner `auth` signature covers: every field's classic line except
/// those named `auth`, without the `>>>`/`<<<` lines (spec §4.3).
pub fn signed_text_into(m: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for f in m.fields().iter().filter(|f| !f.is("auth")) {
        encode_field(f, 0, out)?;
    }
    Ok(())
}

fn put_string_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.push(b'=');
    out.extend(
        value
            .iter()
            .map(|&b| if b == b'\n' { LF_ESCAPE } else { b }),
    );
    out.push(b'\n');
}

fn encode_field(f: &Field, depth: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let ty = f.value.field_type();
    if ty == FieldType::String {
        if let Value::String(v) = &f.value {
            put_string_line(out, &f.name, v);
        }
        return Ok(());
    }
    out.extend_from_slice(&[b'(', ty.digit(), b')']);
    out.extend_from_slice(&f.name);
    out.push(b'=');
    match &f.value {
        Value::String(_) => {}
        Value::Binary(v) | Value::Compressed(v) => base64::encode_into(v, out),
        Value::List(items) => out.extend_from_slice(&pack_list(items)),
        Value::Struct(child) => {
            let mut inner = Vec::new();
            encode_at(child, depth + 1, &mut inner, None)?;
            let s = sym(depth);
            out.extend(inner.iter().map(|&b| if b == b'\n' { s } else { b }));
        }
    }
    out.push(b'\n');
    Ok(())
}

/// Decodes one classic message occupying all of `data`: `>>>\n`, lines, `<<<\n`, then
/// nothing but NUL bytes (C senders count the terminating NUL).
pub fn decode(data: &[u8]) -> Result<Message, DropReason> {
    if data.len() > MAXMSG {
        return Err(DropReason::Oversized {
            len: data.len(),
            max: MAXMSG,
        });
    }
    let (m, used) = decode_at(data, 0)?;
    match data[used..].iter().position(|&b| b != 0) {
        None => Ok(m),
        Some(p) => Err(DropReason::Malformed {
            offset: used + p,
            what: "bytes after <<<",
        }),
    }
}

fn decode_at(data: &[u8], depth: usize) -> Result<(Message, usize), DropReason> {
    if depth > MAX_DEPTH {
        return Err(DropReason::TooDeep);
    }
    match data.get(..4) {
        Some(s) if s == START => {}
        Some(_) => {
            return Err(DropReason::Malformed {
                offset: 0,
                what: "missing >>>",
            });
        }
        None => return Err(DropReason::Truncated),
    }
    let mut fields = Vec::with_capacity(16);
    let mut pos = 4;
    loop {
        // Heartbeat skips empty lines between fields.
        while data.get(pos) == Some(&b'\n') {
            pos += 1;
        }
        let rest = data.get(pos..).unwrap_or_default();
        if rest.starts_with(END) {
            return Ok((Message::from_fields(fields), pos + 4));
        }
        // The end of the data, or a NUL where heartbeat would stop, before `<<<`: the
        // message was cut short.
        let lf = match rest.iter().position(|&b| b == b'\n' || b == 0) {
            Some(i) if rest[i] == b'\n' => i,
            _ => return Err(DropReason::Truncated),
        };
        fields.push(decode_line(&rest[..lf], pos, depth)?);
        pos += lf + 1;
    }
}

fn decode_line(line: &[u8], offset: usize, depth: usize) -> Result<Field, DropReason> {
    let malformed = |what| DropReason::Malformed { offset, what };
    let eq = line
        .iter()
        .position(|&b| b == b'=')
        .ok_or(malformed("line without '='"))?;
    let (mut name, raw) = (&line[..eq], &line[eq + 1..]);
    let mut ty = FieldType::String;
    if let [b'(', d, b')', rest @ ..] = name {
        ty = match FieldType::from_digit(*d) {
            // `(0)` is refused in classic text: strings carry no prefix there.
            Some(FieldType::String) | None => return Err(malformed("bad type prefix")),
            Some(t) => t,
        };
        name = rest;
    }
    if !is_valid_name(name) {
        return Err(malformed("invalid field name"));
    }
    let value_off = offset + eq + 1;
    let value = match ty {
        FieldType::String => Value::String(
            raw.iter()
                .map(|&b| if b == LF_ESCAPE { b'\n' } else { b })
                .collect(),
        ),
        FieldType::Binary => Value::Binary(base64::decode(raw).ok_or(malformed("bad base64"))?),
        FieldType::Compressed => {
            Value::Compressed(base64::decode(raw).ok_or(malformed("bad base64"))?)
        }
        FieldType::List => {
            Value::List(unpack_list(raw, value_off).map_err(|e| nested(e, value_off))?)
        }
        FieldType::Struct => {
            let s = sym(depth);
            let text: Vec<u8> = raw
                .iter()
                .map(|&b| if b == s { b'\n' } else { b })
                .collect();
            let (child, used) = decode_at(&text, depth + 1).map_err(|e| nested(e, value_off))?;
            if used != text.len() {
                return Err(DropReason::Malformed {
                    offset: value_off + used,
                    what: "bytes after a nested message",
                });
            }
            Value::Struct(child)
        }
    };
    Ok(Field {
        name: intern(name),
        value,
    })
}

/// Inside a complete field, running out of data means the field is malformed, not that
/// the datagram was cut short.
pub(crate) fn nested(e: DropReason, offset: usize) -> DropReason {
    match e {
        DropReason::Truncated => DropReason::Malformed {
            offset,
            what: "truncated nested message",
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(m, &mut out).unwrap();
        out
    }

    #[test]
    fn lf_in_strings_becomes_0x13_and_back() {
        let mut m = Message::new();
        m.set_str("t", "test").set_str("info", "a\nb=c");
        let text = enc(&m);
        assert_eq!(text, b">>>\nt=test\ninfo=a\x13b=c\n<<<\n");
        assert_eq!(decode(&text).unwrap(), m);
    }

    #[test]
    fn binary_is_base64_with_prefix_and_trailing_nul_is_accepted() {
        let mut m = Message::new();
        m.set_binary("srcuuid", &[0x2f, 0x1b, 0x4c]);
        let text = enc(&m);
        assert_eq!(text, b">>>\n(1)srcuuid=LxtM\n<<<\n");
        let mut with_nul = text.clone();
        with_nul.push(0);
        assert_eq!(decode(&with_nul).unwrap(), m);
    }

    #[test]
    fn nested_messages_use_sym_bytes() {
        let mut grandchild = Message::new();
        grandchild.set_str("g", "1");
        let mut child = Message::new();
        child.set_str("a", "x").set("gc", Value::Struct(grandchild));
        let mut m = Message::new();
        m.set("c", Value::Struct(child))
            .set("l", Value::List(vec![b"p".to_vec()]));
        let text = enc(&m);
        assert_eq!(
            text,
            &b">>>\n(2)c=>>>\x14a=x\x14(2)gc=>>>\x15g=1\x15<<<\x15\x14<<<\x14\n(3)l=1:p,\n<<<\n"[..]
        );
        assert_eq!(decode(&text).unwrap(), m);
    }

    #[test]
    fn blank_lines_are_skipped() {
        let m = decode(b">>>\n\n\nt=x\n\n<<<\n").unwrap();
        assert_eq!(m.get_str("t"), Some("x"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn rejections_are_typed() {
        let cases: &[(&[u8], DropReason)] = &[
            (b">>>\nt=x\n", DropReason::Truncated),
            (b">>>\nt=x", DropReason::Truncated),
            (b">>>\nt=x\n\0<<<\n", DropReason::Truncated),
            (b">>", DropReason::Truncated),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input).unwrap_err(), *want);
        }
        for bad in [
            &b"###\nt=x\n<<<\n"[..],
            b">>>\ntx\n<<<\n",
            b">>>\n=x\n<<<\n",
            b">>>\n(0)t=x\n<<<\n",
            b">>>\n(7)t=x\n<<<\n",
            b">>>\n(1)u=abc\n<<<\n",
            b">>>\n(1)=YQ==\n<<<\n",
            b">>>\nt=x\n<<<\nzz",
            b">>>\n(2)c=>>>\x14a=x\x14\n<<<\n",
        ] {
            assert!(
                matches!(decode(bad), Err(DropReason::Malformed { .. })),
                "{:?} -> {:?}",
                String::from_utf8_lossy(bad),
                decode(bad)
            );
        }
    }

    #[test]
    fn signed_text_skips_every_auth_field() {
        let mut m = Message::new();
        m.set_str("auth", "x")
            .set_str("t", "a")
            .push("auth", Value::String(b"y".to_vec()));
        m.set_binary("u", &[0xff]);
        let mut out = Vec::new();
        signed_text_into(&m, &mut out).unwrap();
        assert_eq!(out, b"t=a\n(1)u=/w==\n");
    }
}
