//! A minimal libpcap reader for the wire fixtures: Ethernet → IPv4 → UDP or ICMP echo.
#![allow(dead_code)] // each test binary uses a different part

/// One heartbeat payload found in a capture.
#[derive(Debug)]
pub struct Payload {
    /// Record number in the capture, from 1.
    pub frame: usize,
    /// "UDP" or "ICMP".
    pub proto: &'static str,
    pub bytes: Vec<u8>,
}

fn u16be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// UDP payloads and ICMP echo / echo-reply payloads, in capture order.
pub fn payloads(pcap: &[u8]) -> Vec<Payload> {
    assert!(pcap.len() >= 24, "not a pcap file");
    let magic = u32::from_le_bytes(pcap[..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        other => panic!("bad pcap magic {other:08x}"),
    };
    let u32at = |at: usize| {
        let b: [u8; 4] = pcap[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32at(20), 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut pos = 24;
    let mut frame = 0;
    while pos + 16 <= pcap.len() {
        frame += 1;
        let incl = u32at(pos + 8) as usize;
        let orig = u32at(pos + 12) as usize;
        assert_eq!(incl, orig, "frame {frame} was truncated by the capture");
        let eth = &pcap[pos + 16..pos + 16 + incl];
        pos += 16 + incl;
        let mut off = 12;
        let mut ethertype = u16be(eth, off);
        if ethertype == 0x8100 {
            off += 4;
            ethertype = u16be(eth, off);
        }
        if ethertype != 0x0800 {
            continue;
        }
        let ip = &eth[off + 2..];
        let ihl = usize::from(ip[0] & 15) * 4;
        let total = usize::from(u16be(ip, 2));
        let frag = u16be(ip, 6);
        assert_eq!(frag & 0x3fff, 0, "frame {frame} is an IP fragment");
        let l4 = &ip[ihl..total];
        match ip[9] {
            17 => out.push(Payload {
                frame,
                proto: "UDP",
                bytes: l4[8..].to_vec(),
            }),
            1 if l4[0] == 8 || l4[0] == 0 => out.push(Payload {
                frame,
                proto: "ICMP",
                bytes: l4[8..].to_vec(),
            }),
            _ => {}
        }
    }
    out
}
