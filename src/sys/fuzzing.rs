//! Entry points shared by the fuzz targets (`fuzz/fuzz_targets/sys_*.rs`) and the corpus
//! replay test, so CI runs the same code cargo-fuzz does. Each checks the invariants of its
//! parser on arbitrary bytes; a panic is a finding.

use crate::sys::{ping, serial};

/// Serial framing: the first byte picks a split point so chunk boundaries are explored too.
pub fn serial_frames(data: &[u8]) {
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut whole = serial::FrameReader::new();
    let mut in_one = Vec::new();
    whole.push(data, &mut in_one);
    let mut chunked = serial::FrameReader::new();
    let mut in_two = Vec::new();
    chunked.push(a, &mut in_two);
    chunked.push(b, &mut in_two);
    assert_eq!(in_one, in_two, "framing depends on chunking");
    for f in &in_one {
        assert!(f.starts_with(b">>>\n") && f.ends_with(b"<<<\n"));
        assert!(f.len() <= serial::MAX_FRAME + 8);
    }
}

/// ICMP reply parsing on arbitrary packets: never panics, and an accepted reply's payload is
/// a suffix of the packet that checksums with its header.
pub fn ping_reply(data: &[u8]) {
    let id = u16::from_ne_bytes([
        data.get(24).copied().unwrap_or(0),
        data.get(25).copied().unwrap_or(0),
    ]);
    if let Some(r) = ping::parse_reply(data, id) {
        assert!(data.ends_with(r.payload));
        let echo = ping::build_echo(id, r.seq, r.payload);
        assert_eq!(echo.len() + (data.len() - r.payload.len() - 8), data.len());
    }
}
