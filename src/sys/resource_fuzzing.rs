//! Fuzz entry point for the resource parsers (`fuzz/fuzz_targets/rsc_resource_args.rs`),
//! also replayed over the corpus by `tests/resource_scripts_fuzz_corpus.rs`. Every parser
//! that sees text from haresources, a script's output or the kernel gets arbitrary bytes;
//! a panic or a broken invariant is a finding.

use std::ffi::OsString;

use crate::sys::netaddr::{IpSpec, mask_bits, parse_ack};
use crate::sys::script::status_says_running;
use crate::sys::send_arp::{SendArpArgs, parse_mac};

pub fn resource_args(data: &[u8]) {
    // Status output: arbitrary bytes; without any of the three words it is never "running".
    let running = status_says_running(data);
    let has = |w: &[u8]| data.windows(w.len()).any(|x| x == w);
    if !has(b"running") && !has(b"Running") && !has(b"OK") {
        assert!(!running);
    }

    // Netlink replies: any sequence number found must be answered consistently.
    let seq = u32::from_ne_bytes([
        data.get(8).copied().unwrap_or(0),
        data.get(9).copied().unwrap_or(0),
        data.get(10).copied().unwrap_or(0),
        data.get(11).copied().unwrap_or(0),
    ]);
    let _ = parse_ack(data, seq);

    let text = String::from_utf8_lossy(data);
    // haresources IP arguments: accepted ones survive a round trip through their own form.
    for arg in text.split_whitespace() {
        if let Ok(s) = IpSpec::parse(arg) {
            if let Some(p) = s.prefix {
                assert!(p <= 32);
            }
            let mut again = s.ip.to_string();
            if let Some(p) = s.prefix {
                again.push_str(&format!("/{p}"));
                if let Some(i) = s.label.as_ref().or(s.iface.as_ref()) {
                    again.push_str(&format!("/{i}"));
                }
                if let Some(b) = s.broadcast {
                    again.push_str(&format!("/{b}"));
                }
                assert_eq!(IpSpec::parse(&again).as_ref(), Ok(&s), "{arg} -> {again}");
            }
        }
        if let Some(b) = mask_bits(arg) {
            assert!(b <= 32);
        }
        let _ = parse_mac(arg);
    }
    // send_arp command lines.
    let _ = SendArpArgs::parse(text.split_whitespace().map(OsString::from));
}
