//! Replays the sys fuzz corpora (fuzz/corpus/sys_*) through the fuzz targets' entry points,
//! so CI exercises them without cargo-fuzz.

use std::fs;
use std::path::Path;

use heartbeat_rs::sys::fuzzing;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| fs::read(p).expect("corpus file"))
        .collect()
}

#[test]
fn sys_serial_frames_corpus() {
    let files = corpus("sys_serial_frames");
    assert!(files.len() >= 5, "seed corpus missing");
    for data in &files {
        fuzzing::serial_frames(data);
    }
}

#[test]
fn sys_ping_reply_corpus() {
    let files = corpus("sys_ping_reply");
    assert!(files.len() >= 3, "seed corpus missing");
    for data in &files {
        fuzzing::ping_reply(data);
    }
}
