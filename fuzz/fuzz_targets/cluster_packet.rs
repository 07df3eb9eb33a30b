//! Authentic but arbitrary messages into a node's core: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = heartbeat_rs::cluster::fuzzing::cluster_packet(data);
});
