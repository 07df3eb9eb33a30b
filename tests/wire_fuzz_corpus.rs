//! Replays the fuzz corpora (fuzz/corpus/wire_*) through the fuzz targets' entry points, so
//! CI exercises them without cargo-fuzz.

use std::fs;
use std::path::Path;

use heartbeat_rs::wire::{decode_udp, fuzzing};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn wire_decode_corpus() {
    let files = corpus("wire_decode");
    assert!(files.len() >= 10, "seed corpus missing");
    for (_, data) in &files {
        fuzzing::decode(data);
    }
}

#[test]
fn wire_verify_corpus() {
    let files = corpus("wire_verify");
    let keysets = fuzzing::fixture_keysets();
    let authentic = files
        .iter()
        .filter(|(_, d)| keysets.iter().any(|k| decode_udp(d, k).is_ok()))
        .count();
    // The seeds are mostly real captures: most of them must verify, or the target
    // would only ever explore the rejection paths.
    assert!(
        authentic * 2 > files.len(),
        "{authentic} of {} verify",
        files.len()
    );
    for (_, data) in &files {
        fuzzing::verify(data);
    }
}
