//! The control-socket protocol: every request and response survives encode → decode, and
//! hostile payloads are rejected with typed errors, never a panic.

use heartbeat_rs::api::{
    self, ClientStatus, DecodeError, ErrorKind, FenceResult, FenceView, GroupView, Hold,
    LinkStatus, LinkView, MAX_FRAME, NodeStatus, NodeType, NodeView, Outcome, Request, Response,
    RscHold, Snapshot, Transition,
};
use proptest::prelude::*;

fn sample() -> Snapshot {
    Snapshot {
        version: "3.0.6 (node: x)".into(),
        local_node: "node1".into(),
        managed_by: "haresources".into(),
        rsc: RscHold::Foreign,
        nodes: vec![NodeView {
            name: "node\t2\\x\n".into(),
            kind: NodeType::Normal,
            status: NodeStatus::Dead,
            weight: 7,
            site: "s".into(),
            links: vec![LinkView {
                name: "eth0".into(),
                status: LinkStatus::Dead,
            }],
        }],
        parameters: vec![
            ("keepalive".into(), "1".into()),
            ("empty".into(), "".into()),
        ],
        clients: vec![("ipfail".into(), ClientStatus::Join)],
        groups: vec![
            GroupView {
                owner: "node1".into(),
                resources: "192.0.2.100/24/eth0 LabService::web".into(),
                holder: Some("node2".into()),
                state: "running".into(),
                last: Some(Transition {
                    cause: "node1 dead".into(),
                    at_unix: 1_700_000_000,
                }),
            },
            GroupView {
                owner: "node2".into(),
                resources: "x".into(),
                holder: None,
                state: "stopped".into(),
                last: None,
            },
        ],
        fencing: vec![
            FenceView {
                node: "node2".into(),
                device: "fence_virsh".into(),
                in_progress: true,
                needs_operator: false,
                attempts: 3,
                last: Some(FenceResult {
                    ok: false,
                    at_unix: 1_700_000_001,
                }),
            },
            FenceView {
                node: "node\t3".into(),
                device: "Meatware STONITH device".into(),
                in_progress: false,
                needs_operator: true,
                attempts: 0,
                last: None,
            },
        ],
        taken_unix: 42,
    }
}

fn all_requests() -> Vec<Request> {
    let s = |x: &str| x.to_string();
    vec![
        Request::Status,
        Request::NodeList,
        Request::NodeStatus(s("n")),
        Request::NodeType(s("n")),
        Request::NodeWeight(s("n")),
        Request::NodeSite(s("")),
        Request::IfList(s("n")),
        Request::IfStatus {
            node: s("n"),
            link: s("eth0"),
        },
        Request::ClientStatus {
            node: s("n"),
            client: s("ipfail"),
            timeout_ms: 500,
        },
        Request::RscStatus,
        Request::Parameter(s("keepalive")),
        Request::Standby {
            hold: Hold::Foreign,
            wait: true,
        },
        Request::Takeover {
            hold: Hold::Failback,
            wait: false,
        },
    ]
}

#[test]
fn every_request_round_trips_through_a_frame() {
    for req in all_requests() {
        let bytes = api::frame(&api::encode_request(&req));
        let (used, payload) = api::split_frame(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(api::decode_request(payload).unwrap(), req);
    }
}

#[test]
fn every_response_round_trips() {
    let resps = vec![
        Response::Snapshot(Box::new(sample())),
        Response::Snapshot(Box::default()),
        Response::Value("".into()),
        Response::Value("a\tb".into()),
        Response::List(vec![]),
        Response::List(vec!["".into()]),
        Response::List(vec!["node2".into(), "node1".into()]),
        Response::Accepted,
        Response::Finished {
            outcome: Outcome::TimedOut,
            detail: "peer did not answer".into(),
        },
        Response::Error {
            kind: ErrorKind::Refused,
            detail: "".into(),
        },
    ];
    for r in resps {
        let text = api::encode_response(&r);
        assert_eq!(api::decode_response(text.as_bytes()).unwrap(), r, "{text}");
    }
}

#[test]
fn split_frame_waits_for_the_whole_frame_and_bounds_the_length() {
    let bytes = api::frame(&api::encode_request(&Request::Status));
    for cut in 0..bytes.len() {
        assert_eq!(api::split_frame(&bytes[..cut]).unwrap(), None);
    }
    let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
    assert_eq!(
        api::split_frame(&huge),
        Err(DecodeError::TooLarge(MAX_FRAME + 1))
    );
}

#[test]
fn hostile_payloads_get_typed_errors() {
    type Check = fn(&DecodeError) -> bool;
    let cases: &[(&[u8], Check)] = &[
        (b"", |e| *e == DecodeError::Empty),
        (b"\xff\xfe", |e| *e == DecodeError::NotUtf8),
        (b"hbapi/2\nstatus\n", |e| {
            matches!(e, DecodeError::WrongProtocol(_))
        }),
        (b"hbapi/1\n", |e| *e == DecodeError::Empty),
        (b"hbapi/1\nstatus\nstatus\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/1\nreboot\n", |e| {
            matches!(e, DecodeError::UnknownRecord(_))
        }),
        (b"hbapi/1\nnodestatus\ta\\x\n", |e| {
            matches!(e, DecodeError::BadEscape { line: 2 })
        }),
        (b"hbapi/1\nstandby\tsome\t1\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/1\nstandby\tall\tyes\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/1\nclientstatus\tn\tc\t-1\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
    ];
    for (payload, ok) in cases {
        let e = api::decode_request(payload).unwrap_err();
        assert!(ok(&e), "{payload:?} gave {e:?}");
    }
    let bad_snapshot = b"hbapi/1\nsnapshot\t1\nlink\teth0\tup\n";
    assert!(matches!(
        api::decode_response(bad_snapshot),
        Err(DecodeError::BadRecord { .. })
    ));
}

#[test]
fn answers_follow_the_snapshot() {
    let s = sample();
    let v = |r: Request| api::answer(&s, &r);
    assert_eq!(
        v(Request::NodeStatus("NODE\t2\\X\n".into())),
        Response::Value("dead".into())
    );
    assert!(matches!(
        v(Request::NodeStatus("nope".into())),
        Response::Error {
            kind: ErrorKind::NoSuchNode,
            ..
        }
    ));
    assert!(matches!(
        v(Request::IfStatus {
            node: "node\t2\\x\n".into(),
            link: "eth1".into()
        }),
        Response::Error {
            kind: ErrorKind::NoSuchLink,
            ..
        }
    ));
    assert_eq!(
        v(Request::ClientStatus {
            node: "node1".into(),
            client: "ipfail".into(),
            timeout_ms: 1
        }),
        Response::Value("join".into())
    );
    assert_eq!(
        v(Request::Parameter("empty".into())),
        Response::Value("".into())
    );
    assert_eq!(v(Request::RscStatus), Response::Value("foreign".into()));
    assert_eq!(v(Request::Status), Response::Snapshot(Box::new(s.clone())));
}

#[test]
fn json_rendering_is_versioned_escaped_and_complete() {
    let j = api::json::render(&sample());
    assert!(j.starts_with("{\"schema\":\"heartbeat-rs/status\",\"schema_version\":1,"));
    assert!(j.contains("\"name\":\"node\\t2\\\\x\\n\""), "{j}");
    assert!(j.contains("\"holder\":null"));
    assert!(j.contains("\"last_transition\":{\"cause\":\"node1 dead\",\"at\":1700000000}"));
    assert!(j.contains("\"parameters\":{\"keepalive\":\"1\",\"empty\":\"\"}"));
    assert!(j.contains("\"clients\":{\"ipfail\":\"join\"}"));
    assert!(
        j.contains(
            "\"fencing\":[{\"node\":\"node2\",\"device\":\"fence_virsh\",\"in_progress\":true,\
             \"needs_operator\":false,\"attempts\":3,\"last_result\":{\"ok\":false,\"at\":1700000001}},"
        ),
        "{j}"
    );
    assert!(j.contains("\"attempts\":0,\"last_result\":null}]"), "{j}");
    // Balanced and no raw control characters: a cheap structural check.
    assert_eq!(j.matches('{').count(), j.matches('}').count());
    assert!(!j.chars().any(|c| (c as u32) < 0x20));
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = api::decode_request(&bytes);
        let _ = api::decode_response(&bytes);
        let _ = api::split_frame(&bytes);
    }

    #[test]
    fn any_names_round_trip(node in ".*", link in ".*") {
        let req = Request::IfStatus { node, link };
        prop_assert_eq!(api::decode_request(api::encode_request(&req).as_bytes()).unwrap(), req);
    }

    #[test]
    fn mutated_valid_payloads_never_panic(idx in 0usize..64, byte in any::<u8>()) {
        let mut text = api::encode_response(&Response::Snapshot(Box::new(sample()))).into_bytes();
        let i = idx % text.len();
        text[i] = byte;
        let _ = api::decode_response(&text);
    }
}
