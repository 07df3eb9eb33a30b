//! The heartbeat message: an ordered list of typed `(name, value)` fields (spec §2).
//!
//! Heartbeat allows duplicate names; lookups return the first match, and modifying a field
//! changes the first match in place (its position matters: signatures cover the field order).
//! Values are kept as raw bytes wherever heartbeat allows arbitrary bytes, so a decoded
//! message re-encodes byte-identically.

use std::borrow::Cow;
use std::fmt;

/// The type digit of a field, as written in the `(N)` prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `(0)`: text (never prefixed in classic format).
    String = 0,
    /// `(1)`: raw bytes (base64 in classic format), e.g. `srcuuid`.
    Binary = 1,
    /// `(2)`: a nested message.
    Struct = 2,
    /// `(3)`: a list of strings, packed `len:elem,`.
    List = 3,
    /// `(4)`: the compressed bytes of a child message (kept opaque here).
    Compressed = 4,
}

impl FieldType {
    /// The digit used in `(N)` prefixes.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// Maps a prefix digit to a type. `5` (heartbeat's in-memory "uncompressed struct") is
    /// never sent, so it is refused like any other unknown digit.
    pub fn from_digit(d: u8) -> Option<FieldType> {
        Some(match d {
            b'0' => FieldType::String,
            b'1' => FieldType::Binary,
            b'2' => FieldType::Struct,
            b'3' => FieldType::List,
            b'4' => FieldType::Compressed,
            _ => return None,
        })
    }
}

/// A field value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// Text as raw bytes (heartbeat treats them as a C string; we keep them verbatim).
    String(Vec<u8>),
    Binary(Vec<u8>),
    Struct(Message),
    List(Vec<Vec<u8>>),
    Compressed(Vec<u8>),
}

impl Value {
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::String(_) => FieldType::String,
            Value::Binary(_) => FieldType::Binary,
            Value::Struct(_) => FieldType::Struct,
            Value::List(_) => FieldType::List,
            Value::Compressed(_) => FieldType::Compressed,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(v) => write!(f, "String({:?})", String::from_utf8_lossy(v)),
            Value::Binary(v) => write!(f, "Binary({v:02x?})"),
            Value::Struct(m) => f.debug_tuple("Struct").field(m).finish(),
            Value::List(l) => f
                .debug_list()
                .entries(l.iter().map(|e| String::from_utf8_lossy(e)))
                .finish(),
            Value::Compressed(v) => write!(f, "Compressed({} bytes)", v.len()),
        }
    }
}

/// One field. The name is raw bytes; decoders guarantee it is a valid name
/// (see [`is_valid_name`]). Names heartbeat uses are borrowed from a static table rather
/// than allocated, which keeps decoding fast.
#[derive(Clone, PartialEq, Eq)]
pub struct Field {
    pub name: Cow<'static, [u8]>,
    pub value: Value,
}

impl Field {
    pub fn new(name: impl Into<Cow<'static, [u8]>>, value: Value) -> Field {
        Field {
            name: name.into(),
            value,
        }
    }

    /// Whether the field is called `name`.
    pub fn is(&self, name: &str) -> bool {
        *self.name == *name.as_bytes()
    }
}

/// Field names of heartbeat's v1 messages (spec §5, §7).
const KNOWN_NAMES: &[&str] = &[
    "t",
    "st",
    "dt",
    "protocol",
    "src",
    "srcuuid",
    "seq",
    "hg",
    "ts",
    "ld",
    "ttl",
    "auth",
    "dest",
    "destuuid",
    "ackseq",
    "firstseq",
    "lastseq",
    "rsc_hold",
    "rtype",
    "isstable",
    "info",
    "nodelist",
    "delnodelist",
    "ipaddr",
    "weown",
    "ok",
    "node",
    "result",
    "from_id",
    "to_id",
    "client_gen",
    "cn",
    "cs",
    "weight",
    "site",
];

/// A decoded name: borrowed from [`KNOWN_NAMES`] when it is one, else copied.
pub(crate) fn intern(name: &[u8]) -> Cow<'static, [u8]> {
    match KNOWN_NAMES.iter().find(|k| k.as_bytes() == name) {
        Some(k) => Cow::Borrowed(k.as_bytes()),
        None => Cow::Owned(name.to_vec()),
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?}",
            String::from_utf8_lossy(&self.name),
            self.value
        )
    }
}

/// Whether `name` can be a field name in both encodings: non-empty, no `=` (the parsers
/// split at the first one), no LF or NUL (classic lines), and not starting with `(` (which
/// classic would read as a type prefix).
pub fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.first() != Some(&b'(')
        && !name.iter().any(|&b| b == b'=' || b == b'\n' || b == 0)
}

/// An ordered list of fields.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    fields: Vec<Field>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.fields).finish()
    }
}

impl Message {
    pub fn new() -> Message {
        Message::default()
    }

    /// Builds a message from fields in order. Names must satisfy [`is_valid_name`].
    pub fn from_fields(fields: Vec<Field>) -> Message {
        Message { fields }
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn into_fields(self) -> Vec<Field> {
        self.fields
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The first field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|f| f.is(name)).map(|f| &f.value)
    }

    /// The raw bytes of the first field called `name` if it is a string field.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// The first field called `name` if it is a string field holding UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.get_bytes(name)?).ok()
    }

    /// The first field called `name` if it is a binary field.
    pub fn get_binary(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::Binary(v) => Some(v),
            _ => None,
        }
    }

    /// A binary field of exactly 16 bytes (`srcuuid`, `destuuid`); other lengths are
    /// `None`, as heartbeat ignores them ("Binary field srcuuid is not a uuid").
    pub fn get_uuid(&self, name: &str) -> Option<[u8; 16]> {
        self.get_binary(name)?.try_into().ok()
    }

    /// A string field read as a hexadecimal number (`seq`, `hg`, `ts`, `dt`, `ackseq`).
    /// Either case is accepted; no prefix, no sign, at most 16 digits.
    pub fn get_hex(&self, name: &str) -> Option<u64> {
        parse_number(self.get_bytes(name)?, 16)
    }

    /// A string field read as a decimal number (`ttl`, `protocol`, `NS_rexmit` ranges).
    pub fn get_dec(&self, name: &str) -> Option<u64> {
        parse_number(self.get_bytes(name)?, 10)
    }

    /// Appends a field, even if one with that name exists.
    pub fn push(&mut self, name: &str, value: Value) -> &mut Message {
        self.fields.push(Field {
            name: intern(name.as_bytes()),
            value,
        });
        self
    }

    /// Heartbeat's modify-or-add: replaces the first field called `name` in place, or
    /// appends it when absent.
    pub fn set(&mut self, name: &str, value: Value) -> &mut Message {
        match self.fields.iter_mut().find(|f| f.is(name)) {
            Some(f) => {
                f.value = value;
                self
            }
            None => self.push(name, value),
        }
    }

    pub fn set_str(&mut self, name: &str, value: &str) -> &mut Message {
        self.set(name, Value::String(value.as_bytes().to_vec()))
    }

    pub fn set_binary(&mut self, name: &str, value: &[u8]) -> &mut Message {
        self.set(name, Value::Binary(value.to_vec()))
    }

    /// Sets a string field to lower-case hex without padding, as heartbeat's `%lx`.
    pub fn set_hex(&mut self, name: &str, value: u64) -> &mut Message {
        self.set(name, Value::String(format!("{value:x}").into_bytes()))
    }

    /// Sets a string field to plain decimal.
    pub fn set_dec(&mut self, name: &str, value: u64) -> &mut Message {
        self.set(name, Value::String(value.to_string().into_bytes()))
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: &str) -> &mut Message {
        self.fields.retain(|f| !f.is(name));
        self
    }
}

/// Strict unsigned parse: 1+ digits of `radix`, nothing else, no overflow.
fn parse_number(bytes: &[u8], radix: u32) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        let d = u64::from(char::from(b).to_digit(radix)?);
        n = n.checked_mul(u64::from(radix))?.checked_add(d)?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_valid_and_interned() {
        for k in KNOWN_NAMES {
            assert!(is_valid_name(k.as_bytes()));
            assert!(matches!(intern(k.as_bytes()), Cow::Borrowed(_)));
        }
        assert!(matches!(intern(b"x-custom"), Cow::Owned(_)));
    }

    #[test]
    fn first_match_wins_and_set_modifies_in_place() {
        let mut m = Message::new();
        m.set_str("t", "status")
            .set_str("seq", "1a")
            .push("t", Value::String(b"other".to_vec()));
        assert_eq!(m.get_str("t"), Some("status"));
        m.set_str("t", "resource").set_hex("hg", 0x65a1b2c4);
        let names: Vec<&[u8]> = m.fields().iter().map(|f| &*f.name).collect();
        assert_eq!(names, [&b"t"[..], b"seq", b"t", b"hg"]);
        assert_eq!(m.get_str("t"), Some("resource"));
        assert_eq!(m.get_str("hg"), Some("65a1b2c4"));
        assert_eq!(m.get_hex("seq"), Some(0x1a));
        assert_eq!(m.get_dec("seq"), None);
        m.remove("t");
        assert_eq!(m.get("t"), None);
    }

    #[test]
    fn numbers_are_strict() {
        let mut m = Message::new();
        m.set_str("a", "")
            .set_str("b", "+1")
            .set_str("c", "ffffffffffffffffff");
        m.set_dec("d", 42).set_binary("e", b"12");
        assert_eq!(m.get_hex("a"), None);
        assert_eq!(m.get_dec("b"), None);
        assert_eq!(m.get_hex("c"), None);
        assert_eq!(m.get_dec("d"), Some(42));
        assert_eq!(m.get_hex("D"), None);
        assert_eq!(m.get_hex("e"), None, "binary fields are not numbers");
        assert_eq!(m.get_binary("e"), Some(&b"12"[..]));
        assert_eq!(m.get_uuid("e"), None);
        m.set_binary("u", &[7; 16]);
        assert_eq!(m.get_uuid("u"), Some([7; 16]));
    }

    #[test]
    fn names() {
        assert!(is_valid_name(b"srcuuid"));
        for bad in [&b""[..], b"a=b", b"(1)x", b"a\nb", b"a\0"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
