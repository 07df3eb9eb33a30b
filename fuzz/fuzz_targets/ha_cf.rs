#![no_main]
//! Fuzzes the ha_cf parser through heartbeat_rs::config::fuzzing::ha_cf (also replayed by
//! tests/config_corpus.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| heartbeat_rs::config::fuzzing::ha_cf(data));
