//! Any packet on the raw ICMP socket: reply parsing never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heartbeat_rs::sys::fuzzing::ping_reply(data);
});
