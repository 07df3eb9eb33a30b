//! Fuzz entry point of the control-socket protocol (`fuzz/fuzz_targets/api_decode.rs`), also
//! replayed by `cargo test` over `fuzz/corpus/api_decode`. A panic is a finding.

use super::{Request, Response, codec};
use crate::cli::cl_status::{self, Daemon};

/// Frames, requests and responses from arbitrary bytes: decoding never panics, whatever
/// decodes re-encodes to the same value, and `cl_status` runs on any decoded snapshot.
pub fn api_decode(data: &[u8]) {
    if let Ok(Some((used, payload))) = codec::split_frame(data) {
        assert!(used <= data.len() && payload.len() + 4 == used);
    }
    let payload = data.get(4..).unwrap_or(&[]);
    if let Ok(req) = codec::decode_request(payload) {
        let again = codec::decode_request(codec::encode_request(&req).as_bytes());
        assert_eq!(again.as_ref(), Ok(&req), "request does not round-trip");
    }
    if let Ok(resp) = codec::decode_response(payload) {
        let again = codec::decode_response(codec::encode_response(&resp).as_bytes());
        assert_eq!(again.as_ref(), Ok(&resp), "response does not round-trip");
        if let Response::Snapshot(snap) = &resp {
            let _ = super::json::render(snap);
            let _ = super::answer(snap, &Request::Status);
            // The first bytes pick a sub-command line so the argument paths are explored.
            let words: Vec<String> = String::from_utf8_lossy(data.get(..4).unwrap_or(&[]))
                .split(|c: char| !c.is_ascii_alphanumeric())
                .map(str::to_string)
                .collect();
            for sub in [
                "hbstatus",
                "listnodes",
                "listhblinks",
                "nodestatus",
                "summary",
            ] {
                let mut argv: Vec<&str> = vec![sub, "-v"];
                argv.extend(words.iter().map(String::as_str));
                let _ = cl_status::run(&argv, Daemon::Running(snap));
            }
        }
    }
}
