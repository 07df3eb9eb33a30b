//! The netstring encoding (spec §3.2): `###\n`, one `len:(N)name=value,` per field, `%%%\n`.
//!
//! Every field carries its `(N)` type prefix, strings included; values are raw bytes and
//! their length comes from the netstring, so they may contain `,` `=` LF or NUL.

use super::error::{DropReason, EncodeError};
use super::message::{Field, FieldType, Message, Value, intern, is_valid_name};
use super::{MAX_DEPTH, MAXMSG};

pub const START: &[u8; 4] = b"###\n";
pub const END: &[u8; 4] = b"%%%\n";

/// Appends the netstring form of `m` (from `###\n` through `%%%\n`, no trailer).
pub fn encode_into(m: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_at(m, 0, out, None)
}

/// As [`encode_into`], but the first field named `auth` gets `auth` as its value (appended
/// at the end if absent): heartbeat's modify-or-add of the inner signature, without
/// copying the message.
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
                put_field(out, FieldType::String, &f.name, token);
                auth = None;
            }
            _ => encode_field(f, depth, out)?,
        }
    }
    if let Some(token) = auth {
        put_field(out, FieldType::String, b"auth", token);
    }
    out.extend_from_slice(END);
    Ok(())
}

fn encode_field(f: &Field, depth: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match &f.value {
        Value::String(v) | Value::Binary(v) | Value::Compressed(v) => {
            put_field(out, f.value.field_type(), &f.name, v);
        }
        Value::Struct(child) => {
            let mut inner = Vec::new();
            encode_at(child, depth + 1, &mut inner, None)?;
            put_field(out, FieldType::Struct, &f.name, &inner);
        }
        Value::List(items) => {
            put_field(out, FieldType::List, &f.name, &pack_list(items));
        }
    }
    Ok(())
}

fn put_field(out: &mut Vec<u8>, ty: FieldType, name: &[u8], value: &[u8]) {
    let len = 3 + name.len() + 1 + value.len();
    push_decimal(out, len);
    out.extend_from_slice(b":(");
    out.push(ty.digit());
    out.push(b')');
    out.extend_from_slice(name);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b',');
}

/// Appends one netstring `len:payload,`.
pub(crate) fn put_netstring(out: &mut Vec<u8>, payload: &[u8]) {
    push_decimal(out, payload.len());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The packed form of a list value, used by both encodings: `len:elem,` per element.
pub(crate) fn pack_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        put_netstring(&mut out, item);
    }
    out
}

/// Reverses [`pack_list`]; `base` is the offset of `packed` in the datagram, for errors.
pub(crate) fn unpack_list(packed: &[u8], base: usize) -> Result<Vec<Vec<u8>>, DropReason> {
    let mut items = Vec::new();
    let mut pos = 0;
    while pos < packed.len() {
        let (item, next) = read_netstring(packed, pos, base)?;
        items.push(item.to_vec());
        pos = next;
    }
    Ok(items)
}

/// Reads one netstring starting at `pos`; returns its payload and the position after the
/// `,`. Leading zeros in the length are tolerated (heartbeat's reader does too).
pub(crate) fn read_netstring(
    data: &[u8],
    pos: usize,
    base: usize,
) -> Result<(&[u8], usize), DropReason> {
    let rest = data.get(pos..).ok_or(DropReason::Truncated)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == rest.len() {
        return Err(DropReason::Truncated);
    }
    let malformed = |what| DropReason::Malformed {
        offset: base + pos,
        what,
    };
    if digits == 0 {
        return Err(malformed("expected a netstring length"));
    }
    if digits > 9 {
        return Err(malformed("netstring length too long"));
    }
    if rest.get(digits) != Some(&b':') {
        return Err(malformed("expected ':' after the netstring length"));
    }
    let len = rest[..digits]
        .iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
    let start = digits + 1;
    let end = start + len;
    let payload = rest.get(start..end).ok_or(DropReason::Truncated)?;
    match rest.get(end) {
        Some(b',') => Ok((payload, pos + end + 1)),
        Some(_) => Err(DropReason::Malformed {
            offset: base + pos + end,
            what: "expected ',' after the netstring payload",
        }),
        None => Err(DropReason::Truncated),
    }
}

/// Decodes one netstring message at the start of `data` (which must begin with `###\n`).
/// Returns the message and the number of bytes up to and including `%%%\n`.
pub fn decode_prefix(data: &[u8]) -> Result<(Message, usize), DropReason> {
    if data.len() > MAXMSG {
        return Err(DropReason::Oversized {
            len: data.len(),
            max: MAXMSG,
        });
    }
    decode_at(data, 0, 0)
}

fn decode_at(data: &[u8], depth: usize, base: usize) -> Result<(Message, usize), DropReason> {
    if depth > MAX_DEPTH {
        return Err(DropReason::TooDeep);
    }
    match data.get(..4) {
        Some(s) if s == START => {}
        Some(_) => {
            return Err(DropReason::Malformed {
                offset: base,
                what: "missing ###",
            });
        }
        None => return Err(DropReason::Truncated),
    }
    let mut fields = Vec::with_capacity(16);
    let mut pos = 4;
    loop {
        match data.get(pos..pos + 4) {
            Some(s) if s == END => return Ok((Message::from_fields(fields), pos + 4)),
            _ if data.len() <= pos => return Err(DropReason::Truncated),
            _ => {}
        }
        let (payload, next) = read_netstring(data, pos, base)?;
        let payload_off = base + next - 1 - payload.len();
        fields.push(decode_field(payload, payload_off, depth)?);
        pos = next;
    }
}

fn decode_field(payload: &[u8], offset: usize, depth: usize) -> Result<Field, DropReason> {
    let ty = match payload {
        [b'(', d, b')', ..] => FieldType::from_digit(*d).ok_or(DropReason::Malformed {
            offset,
            what: "unknown field type",
        })?,
        _ => return Err(DropReason::MissingTypePrefix { offset }),
    };
    let body = payload.get(3..).unwrap_or_default();
    let eq = body
        .iter()
        .position(|&b| b == b'=')
        .ok_or(DropReason::Malformed {
            offset,
            what: "field without '='",
        })?;
    let (name, value) = (&body[..eq], &body[eq + 1..]);
    if !is_valid_name(name) {
        return Err(DropReason::Malformed {
            offset,
            what: "invalid field name",
        });
    }
    let value_off = offset + 3 + eq + 1;
    let value = match ty {
        FieldType::String => Value::String(value.to_vec()),
        FieldType::Binary => Value::Binary(value.to_vec()),
        FieldType::Compressed => Value::Compressed(value.to_vec()),
        FieldType::List => Value::List(
            unpack_list(value, value_off).map_err(|e| super::classic::nested(e, value_off))?,
        ),
        FieldType::Struct => {
            let (child, used) = decode_at(value, depth + 1, value_off)
                .map_err(|e| super::classic::nested(e, value_off))?;
            if used != value.len() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(m, &mut out).unwrap();
        out
    }

    #[test]
    fn string_and_binary_fields() {
        let mut m = Message::new();
        m.set_str("t", "status").set_binary("srcuuid", b"a,b=c\n\0");
        let bytes = enc(&m);
        assert_eq!(bytes, b"###\n11:(0)t=status,18:(1)srcuuid=a,b=c\n\0,%%%\n");
        assert_eq!(decode_prefix(&bytes).unwrap(), (m, bytes.len()));
    }

    #[test]
    fn nested_and_list_fields() {
        let mut child = Message::new();
        child.set_str("a", "1");
        let mut m = Message::new();
        m.set("c", Value::Struct(child))
            .set("l", Value::List(vec![b"x".to_vec(), b"".to_vec()]))
            .set("z", Value::Compressed(vec![1, 2]));
        let bytes = enc(&m);
        assert_eq!(
            bytes,
            &b"###\n22:(2)c=###\n6:(0)a=1,%%%\n,12:(3)l=1:x,0:,,7:(4)z=\x01\x02,%%%\n"[..]
        );
        assert_eq!(decode_prefix(&bytes).unwrap().0, m);
    }

    #[test]
    fn rejections_are_typed() {
        type Check = fn(&DropReason) -> bool;
        let cases: &[(&[u8], Check)] = &[
            (b"###\n8:t=status,%%%\n", |e| {
                matches!(e, DropReason::MissingTypePrefix { offset: 6 })
            }),
            (b"###\n11:(0)t=status", |e| *e == DropReason::Truncated),
            (b"###\n99:(0)t=status,%%%\n", |e| {
                *e == DropReason::Truncated
            }),
            (b"###\n11:(0)t=status,", |e| *e == DropReason::Truncated),
            (b"###\n11:(0)t=status;%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n10:(0)tstatus,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n11:(9)t=status,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n11:(5)t=status,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n5:(0)=x,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n:(0)a=x,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n9999999999:x,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"##x\n", |e| matches!(e, DropReason::Malformed { .. })),
            (b"##", |e| *e == DropReason::Truncated),
            (b"###\n9:(2)c=###\n,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
            (b"###\n8:(3)l=1:,,%%%\n", |e| {
                matches!(e, DropReason::Malformed { .. })
            }),
        ];
        for (input, ok) in cases {
            let got = decode_prefix(input).unwrap_err();
            assert!(ok(&got), "{:?} -> {got:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn depth_is_limited() {
        let mut m = Message::new();
        m.set_str("a", "b");
        for _ in 0..MAX_DEPTH {
            let mut outer = Message::new();
            outer.set("c", Value::Struct(m));
            m = outer;
        }
        let bytes = enc(&m);
        assert_eq!(decode_prefix(&bytes).unwrap().0, m);
        let mut outer = Message::new();
        outer.set("c", Value::Struct(m));
        let mut out = Vec::new();
        assert_eq!(encode_into(&outer, &mut out), Err(EncodeError::TooDeep));
    }

    #[test]
    fn leading_zeros_in_lengths_are_tolerated() {
        let (m, _) = decode_prefix(b"###\n011:(0)t=status,%%%\n").unwrap();
        assert_eq!(m.get_str("t"), Some("status"));
    }
}
