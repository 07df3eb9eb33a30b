//! Entry points shared by the config fuzz targets (`fuzz/`) and the corpus replay test
//! (`tests/config_corpus.rs`), so CI exercises exactly what the fuzzer ran. Each checks
//! invariants that hold for any input; a panic here is a bug found.

use std::path::Path;

use super::load::text_from_bytes;
use super::resolve::{CheckOptions, StaticHost, from_texts};
use super::{authkeys, ha_cf, haresources, render};

fn text(data: &[u8]) -> Option<String> {
    text_from_bytes(Path::new("f"), data.to_vec()).ok()
}

/// Every diagnostic renders, and has a position inside the text.
fn positions_valid(diags: &[super::Diagnostic], text: &str) {
    let lines = text.lines().count().max(1);
    for d in diags {
        let _ = d.to_string();
        assert!(d.pos.line <= lines + 1, "line {} of {lines}", d.pos.line);
    }
}

/// ha.cf: parsing never panics; diagnostics render; a config that validates round-trips.
pub fn ha_cf(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let cf = ha_cf::parse(&t, Path::new("ha.cf"));
    positions_valid(&cf.diags, &t);
    let facts = StaticHost::named("node1");
    let opts = CheckOptions::default();
    let dir = Path::new("/etc/ha.d");
    if let Ok(a) = from_texts(dir, &t, "", "auth 1\n1 crc\n", &facts, &opts) {
        let b = from_texts(
            dir,
            &render::ha_cf(&a.config),
            "",
            "auth 1\n1 crc\n",
            &facts,
            &opts,
        )
        .expect("a rendered valid config parses");
        assert_eq!(a.config.nodes, b.config.nodes);
        assert_eq!(a.config.media, b.config.media);
        assert_eq!(a.config.timing, b.config.timing);
    }
}

/// haresources: never panics; every group has a key; scripts/args follow §2.3.
pub fn haresources(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let hr = haresources::parse(&t, Path::new("haresources"));
    positions_valid(&hr.diags, &t);
    for g in &hr.groups {
        assert!(!g.group.resources.is_empty());
        let _ = g.group.key();
        for r in &g.group.resources {
            assert!(!r.token.is_empty());
            assert!(r.args.iter().all(|a| !a.is_empty() && !a.contains(' ')));
        }
    }
}

/// authkeys: never panics; accepted keys are consistent; no diagnostic shows a third word.
pub fn authkeys(data: &[u8]) {
    let Some(t) = text(data) else { return };
    match authkeys::parse(&t, Path::new("authkeys")) {
        Ok(k) => assert!(k.get(k.send_index()).is_some()),
        Err(d) => {
            assert!(d.iter().any(super::Diagnostic::is_error));
            positions_valid(&d, &t);
        }
    }
}
