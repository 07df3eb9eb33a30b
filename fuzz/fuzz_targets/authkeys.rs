#![no_main]
//! Fuzzes the authkeys parser through heartbeat_rs::config::fuzzing::authkeys (also replayed by
//! tests/config_corpus.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| heartbeat_rs::config::fuzzing::authkeys(data));
