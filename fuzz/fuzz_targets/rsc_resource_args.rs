//! Resource parsers on arbitrary bytes: never panic, invariants hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heartbeat_rs::sys::resource_fuzzing::resource_args(data);
});
