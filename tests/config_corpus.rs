//! Replays every seed of the config fuzz corpora (fuzz/corpus/{ha_cf,haresources,authkeys})
//! through the same entry points the fuzz targets use, so CI runs them without cargo-fuzz.

use std::fs;
use std::path::Path;

use heartbeat_rs::config::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        run(&data);
        // Variants a fuzzer finds first: truncations and a flipped byte.
        for cut in [data.len() / 2, data.len().saturating_sub(1)] {
            run(&data[..cut]);
        }
        if let Some(b) = data.first() {
            let mut flipped = data.clone();
            flipped[0] = b ^ 0x80;
            run(&flipped);
        }
        n += 1;
    }
    assert!(n >= 3, "{target}: only {n} seeds in {}", dir.display());
}

#[test]
fn ha_cf_corpus() {
    replay("ha_cf", fuzzing::ha_cf);
}

#[test]
fn haresources_corpus() {
    replay("haresources", fuzzing::haresources);
}

#[test]
fn authkeys_corpus() {
    replay("authkeys", fuzzing::authkeys);
}
