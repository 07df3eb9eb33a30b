//! Hostile input: binary junk, NUL bytes, non-UTF-8, a 1 MiB line, 100 000 lines. Nothing
//! panics, everything ends, and problems come back as positioned errors. (Speed is measured
//! by benches/config_parse.rs, not asserted here.)

use std::path::Path;

use heartbeat_rs::config::load::text_from_bytes;
use heartbeat_rs::config::resolve::{CheckOptions, StaticHost, from_texts};
use heartbeat_rs::config::span::MAX_DIAGNOSTICS;
use heartbeat_rs::config::{authkeys, ha_cf, haresources};

/// A deterministic byte generator (SplitMix64), so failures reproduce.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Runs all three parsers and the whole check over `text`.
fn all_parsers(text: &str) {
    let p = Path::new("f");
    let _ = ha_cf::parse(text, p);
    let _ = haresources::parse(text, p);
    let _ = authkeys::parse(text, p);
    let _ = from_texts(
        Path::new("/d"),
        text,
        text,
        text,
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    );
}

#[test]
fn binary_junk_never_panics() {
    for seed in 0..200 {
        let bytes = junk(seed, 2048);
        all_parsers(&String::from_utf8_lossy(&bytes));
        // Junk with mostly printable bytes reaches deeper into the grammars.
        let printable: String = bytes
            .iter()
            .map(|b| {
                let alphabet = b" \t\n,#:\\/.=*0123456789abcdefnodebcastauthmd5sha1crc";
                alphabet[*b as usize % alphabet.len()] as char
            })
            .collect();
        all_parsers(&printable);
    }
}

#[test]
fn non_utf8_is_an_error_with_its_position() {
    let d = text_from_bytes(
        Path::new("/etc/ha.d/ha.cf"),
        b"node a\nnode \xc3\x28 b\n".to_vec(),
    )
    .unwrap_err();
    assert_eq!(
        d.to_string(),
        "/etc/ha.d/ha.cf:2:6: error: expected UTF-8 text, found byte 0xc3"
    );
    for seed in 0..50 {
        let _ = text_from_bytes(Path::new("f"), junk(seed, 4096));
    }
}

#[test]
fn nul_bytes_are_errors_with_their_position() {
    let cf = ha_cf::parse("node node1\nkeep\0alive 1\n", Path::new("ha.cf"));
    let e = cf.diags[0].to_string();
    assert!(
        e.starts_with("ha.cf:2:5: error: expected text, found a NUL byte"),
        "{e}"
    );
    assert!(e.contains("2 | keep?alive 1"), "{e}");
    let hr = haresources::parse("node1 a\0b\n", Path::new("haresources"));
    assert!(hr.diags[0].is_error() && hr.groups.is_empty());
    let e = authkeys::parse("auth 1\n1 sha1 se\0cret\n", Path::new("authkeys")).unwrap_err();
    let shown = e[0].to_string();
    assert!(shown.contains("authkeys:2:"), "{shown}");
    assert!(
        !shown.contains("se?cret") && !shown.contains("cret"),
        "{shown}"
    );
}

#[test]
fn a_one_mib_line_is_refused_and_not_echoed() {
    let line = format!("node {}\n", "x".repeat(1 << 20));
    let cf = ha_cf::parse(&line, Path::new("ha.cf"));
    assert_eq!(cf.errors(), 1);
    let e = cf.diags[0].to_string();
    assert!(
        e.starts_with(
            "ha.cf:1:1: error: expected a line of at most 5119 bytes, found 1048581 bytes"
        ),
        "{e}"
    );
    assert!(
        e.len() < 1000,
        "the rendered error echoes {} bytes",
        e.len()
    );
    assert_eq!(haresources::parse(&line, Path::new("h")).diags.len(), 1);
    assert_eq!(authkeys::parse(&line, Path::new("k")).unwrap_err().len(), 2);
    // A line just under the limit is fine.
    let ok = format!("node {}\n", "y".repeat(5114));
    assert_eq!(ha_cf::parse(&ok, Path::new("ha.cf")).errors(), 0);
}

#[test]
fn one_hundred_thousand_lines_parse() {
    let mut text = String::from("node node1 node2\nbcast eth0\nauto_failback on\nlogfile /x\n");
    for i in 0..100_000 {
        text.push_str(&format!("keepalive {}ms # line {i}\n", 1 + i % 900));
    }
    let l = from_texts(
        Path::new("/d"),
        &text,
        &"node1 10.0.0.1 httpd\n".repeat(100_000),
        &format!("auth 1\n{}", "1 sha1 k\n".repeat(100_000)),
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    )
    .unwrap();
    assert_eq!(l.config.timing.keepalive.as_millis(), 1 + 99_999 % 900);
    assert_eq!(l.config.groups.len(), 100_000);
    // Every group repeats the same key: warned, and the warnings are capped.
    assert_eq!(l.warnings.len(), MAX_DIAGNOSTICS + 1);
    assert!(
        l.warnings[MAX_DIAGNOSTICS]
            .message
            .starts_with("too many warnings")
    );
}

#[test]
fn floods_of_bad_tokens_stop_at_the_diagnostic_limit() {
    let text = format!("hopfudge {}\n", "Bad,".repeat(1200)).repeat(50);
    let cf = ha_cf::parse(&text, Path::new("ha.cf"));
    assert_eq!(cf.diags.len(), MAX_DIAGNOSTICS + 1);
    assert!(
        cf.diags[MAX_DIAGNOSTICS]
            .message
            .starts_with("too many errors")
    );
    // Nodes past the table's 100: errors, capped too (the duplicates are capped warnings).
    let text = format!("node {}\n", "Bad,".repeat(1200)).repeat(50);
    let cf = ha_cf::parse(&text, Path::new("ha.cf"));
    assert_eq!(cf.errors(), MAX_DIAGNOSTICS + 1);
    let hr = haresources::parse(&"node1 1.2.3.999\n".repeat(10_000), Path::new("h"));
    assert_eq!(hr.diags.len(), MAX_DIAGNOSTICS + 1);
    let e = authkeys::parse(&"99 md5 k\n".repeat(10_000), Path::new("k")).unwrap_err();
    assert_eq!(e.len(), MAX_DIAGNOSTICS + 1);
}

#[test]
fn pathological_structures() {
    // A continuation that never ends, only separators, only comments, deep `::` chains.
    all_parsers(&"\\\n".repeat(50_000));
    all_parsers(&",".repeat(5000));
    all_parsers(&"#\n".repeat(50_000));
    let hr = haresources::parse(&format!("node1 a{}\n", "::".repeat(2000)), Path::new("h"));
    assert!(hr.groups[0].group.resources[0].args.is_empty());
    all_parsers("mcast\nucast\nping_group\nstonith\nstonith_host\nrespawn\napiauth\nauth\n0\n");
    all_parsers("mcast6 e ff02::1 1 1\nucast6 e\nmcast e 1.1.1.1 1 1 1 extra\n\r\r\n\x0c\x0b");
}
