//! Golden tests of the edge's framing against traffic captured from heartbeat 3.0.6:
//! ICMP echo packets of the ping node (pcap) and the serial byte streams.

mod common;

use heartbeat_rs::sys::ping::{build_echo, checksum, parse_reply};
use heartbeat_rs::sys::serial::FrameReader;

/// IPv4 packets of an Ethernet pcap (classic libpcap, little-endian header).
fn ipv4_packets(pcap: &[u8]) -> Vec<&[u8]> {
    assert_eq!(
        pcap.get(..4),
        Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "pcap magic"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while let Some(hdr) = pcap.get(off..off + 16) {
        let incl = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) as usize;
        let Some(frame) = pcap.get(off + 16..off + 16 + incl) else {
            break;
        };
        off += 16 + incl;
        if frame.get(12..14) == Some(&[0x08, 0x00][..]) {
            out.push(&frame[14..]);
        }
    }
    out
}

#[test]
fn ping_echoes_of_heartbeat_are_rebuilt_and_parsed_exactly() {
    let pcap = std::fs::read(common::fixture("wire/bcast-ping-sha1.pcap")).expect("pcap");
    let (mut requests, mut replies) = (0, 0);
    for ip in ipv4_packets(&pcap) {
        if ip.get(9) != Some(&1) {
            continue; // not ICMP
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let icmp = &ip[ihl..];
        assert_eq!(checksum(icmp), 0, "captured checksum verifies");
        let id = u16::from_ne_bytes([icmp[4], icmp[5]]);
        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
        match icmp[0] {
            8 => {
                assert_eq!(build_echo(id, seq, &icmp[8..]), icmp, "request rebuilt");
                assert!(icmp[8..].starts_with(b"###\n"), "netstring payload");
                requests += 1;
            }
            0 => {
                let r = parse_reply(ip, id).expect("reply accepted");
                assert_eq!((r.seq, r.payload), (seq, &icmp[8..]));
                assert!(parse_reply(ip, id.wrapping_add(1)).is_none());
                replies += 1;
            }
            _ => {}
        }
    }
    assert!(
        requests > 10 && replies > 10,
        "{requests} requests, {replies} replies"
    );
}

#[test]
fn serial_streams_of_heartbeat_split_into_every_frame() {
    for name in ["serial-crc", "serial-md5", "serial-sha1"] {
        for dir in ["node1-to-node2", "node2-to-node1"] {
            let path = common::fixture(&format!("wire/{name}.{dir}.raw"));
            let raw = std::fs::read(&path).expect("raw serial stream");
            let starts = raw.windows(4).filter(|w| w == b">>>\n").count();
            let mut reader = FrameReader::new();
            let mut frames = Vec::new();
            for chunk in raw.chunks(97) {
                reader.push(chunk, &mut frames);
            }
            assert!(starts > 5, "{name}.{dir}: only {starts} frames");
            assert_eq!(frames.len(), starts, "{name}.{dir}");
            for f in &frames {
                assert!(f.starts_with(b">>>\n") && f.ends_with(b"<<<\n"));
                assert!(f.windows(5).any(|w| w == b"auth="), "inner auth kept");
            }
        }
    }
}
