#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| heartbeat_rs::api::fuzzing::api_decode(data));
