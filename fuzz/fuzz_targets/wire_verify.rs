//! Any bytes against the fixture keys: verification never panics, and an authentic
//! message re-signed by us verifies again.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heartbeat_rs::wire::fuzzing::verify(data);
});
