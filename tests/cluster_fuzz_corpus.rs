//! Replays fuzz/corpus/cluster_packet through the fuzz target's entry point, so CI
//! exercises it without cargo-fuzz.

use std::fs;
use std::path::Path;

use heartbeat_rs::cluster::{LinkState, NodeStatus, fuzzing};

#[test]
fn cluster_packet_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/cluster_packet");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = fs::read(&path).expect("corpus file");
        let view = fuzzing::cluster_packet(&data)
            .unwrap_or_else(|| panic!("{}: the core was not built", path.display()));
        // The seeds are node2's captured traffic: if they stopped reaching the core (a
        // codec or key change), the fuzzer would explore nothing past the signature.
        let node2 = view
            .nodes
            .iter()
            .find(|v| v.name.as_str() == "node2")
            .expect("node2 in the view");
        assert_ne!(
            node2.generation,
            0,
            "{}: node2's packets never reached the core",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 8, "seed corpus missing ({n} files)");
}

#[test]
fn the_separator_splits_and_garbage_is_harmless() {
    assert!(fuzzing::cluster_packet(b"").is_none());
    let mut junk = vec![0u8];
    junk.extend_from_slice(b"###\nnot a message");
    junk.extend_from_slice(fuzzing::SEPARATOR);
    junk.extend_from_slice(b">>>\nt=status\nsrc=node2\n<<<\n");
    let view = fuzzing::cluster_packet(&junk).expect("built");
    let node2 = view.nodes.iter().find(|v| v.name.as_str() == "node2");
    assert!(node2.is_some_and(|v| v.status != NodeStatus::Active));
}

#[test]
fn a_captured_peer_comes_up_then_dies_when_the_capture_ends() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/cluster_packet");
    let data = fs::read(dir.join("bcast-sha1-sel0")).expect("seed");
    let view = fuzzing::cluster_packet(&data).expect("built");
    let node2 = view.nodes.iter().find(|v| v.name.as_str() == "node2");
    // A link goes `dead` only from `up`: node2 was heard, then fell silent for 30 s.
    assert!(
        node2
            .is_some_and(|v| v.status == NodeStatus::Dead
                && v.links.iter().all(|(_, l)| *l == LinkState::Dead)),
        "{view:?}"
    );
}
