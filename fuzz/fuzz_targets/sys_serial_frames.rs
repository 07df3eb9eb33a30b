//! Any byte stream from a serial peer: framing never panics and does not depend on how the
//! stream is chunked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heartbeat_rs::sys::fuzzing::serial_frames(data);
});
