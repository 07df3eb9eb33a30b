//! Replays fuzz/corpus/rsc_resource_args through the fuzz target's entry point, so CI runs
//! every corpus input without cargo-fuzz.

use std::fs;
use std::path::Path;

#[test]
fn resource_args_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/rsc_resource_args");
    let mut n = 0;
    for e in fs::read_dir(&dir).expect("corpus dir") {
        let p = e.expect("entry").path();
        heartbeat_rs::sys::resource_fuzzing::resource_args(&fs::read(&p).expect("corpus file"));
        n += 1;
    }
    assert!(n >= 7, "corpus went missing: {n} files");
}
