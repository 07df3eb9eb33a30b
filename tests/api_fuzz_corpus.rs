//! Replays fuzz/corpus/api_decode through the fuzz target's entry point, so CI exercises
//! the corpus without cargo-fuzz.

use std::fs;
use std::path::Path;

#[test]
fn api_decode_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/api_decode");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = fs::read(entry.expect("corpus entry").path()).expect("corpus file");
        heartbeat_rs::api::fuzzing::api_decode(&data);
        n += 1;
    }
    assert!(n >= 10, "seed corpus missing ({n} files)");
}

#[test]
fn the_snapshot_seed_decodes() {
    // Guards the seeds against protocol drift: a seed that no longer decodes explores nothing.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/api_decode");
    let data = fs::read(dir.join("resp_snapshot")).expect("seed");
    let (_, payload) = heartbeat_rs::api::split_frame(&data).unwrap().unwrap();
    let resp = heartbeat_rs::api::decode_response(payload).unwrap();
    let heartbeat_rs::api::Response::Snapshot(s) = resp else {
        panic!("not a snapshot")
    };
    assert_eq!((s.nodes.len(), s.groups.len()), (2, 2));
    assert_eq!(s.fencing.len(), 3, "fence records");
    assert!(s.guard.isolated && s.guard.ipfail.is_some(), "guard record");
}
