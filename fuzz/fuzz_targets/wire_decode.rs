//! Any bytes: decoding never panics, and what decodes re-encodes to the same message.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heartbeat_rs::wire::fuzzing::decode(data);
});
