//! The control-socket protocol: every request and response survives encode → decode, and
//! hostile payloads are rejected with typed errors, never a panic.

use heartbeat_rs::api::{
    self, ClientStatus, DecodeError, DeviceRun, ErrorKind, FenceResult, FenceView, FenceWant,
    GroupView, GuardView, Hold, IpfailGiveup, IpfailView, LinkStatus, LinkView, MAX_FRAME,
    NodeStatus, NodeType, NodeView, Outcome, Request, Response, RscHold, Snapshot, Transition,
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
                device: Some("fence_virsh".into()),
                device_run: DeviceRun::Idle,
                want: FenceWant::Retry {
                    next_attempt_unix: 1_700_000_006,
                },
                attempts: 3,
                last: Some(FenceResult {
                    ok: false,
                    at_unix: 1_700_000_001,
                }),
            },
            FenceView {
                node: "node\t3".into(),
                device: Some("Meatware STONITH device".into()),
                device_run: DeviceRun::WaitingForOperator,
                want: FenceWant::Attempt,
                attempts: 1,
                last: None,
            },
            FenceView {
                node: "node4".into(),
                device: None,
                device_run: DeviceRun::Idle,
                want: FenceWant::RaceDelay {
                    first_attempt_unix: 1_700_000_015,
                },
                attempts: 0,
                last: None,
            },
        ],
        guard: GuardView {
            isolated: true,
            ping_visible: 0,
            ping_total: 2,
            ipfail: Some(IpfailView {
                peer_ping_visible: Some(2),
                giveup: Some(IpfailGiveup {
                    hold: RscHold::All,
                    at_unix: 1_700_000_004,
                }),
            }),
        },
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
        (b"hbapi/1\nstatus\n", |e| {
            matches!(e, DecodeError::WrongProtocol(_))
        }),
        (b"hbapi/2\n", |e| *e == DecodeError::Empty),
        (b"hbapi/2\nstatus\nstatus\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/2\nreboot\n", |e| {
            matches!(e, DecodeError::UnknownRecord(_))
        }),
        (b"hbapi/2\nnodestatus\ta\\x\n", |e| {
            matches!(e, DecodeError::BadEscape { line: 2 })
        }),
        (b"hbapi/2\nstandby\tsome\t1\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/2\nstandby\tall\tyes\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
        (b"hbapi/2\nclientstatus\tn\tc\t-1\n", |e| {
            matches!(e, DecodeError::BadRecord { .. })
        }),
    ];
    for (payload, ok) in cases {
        let e = api::decode_request(payload).unwrap_err();
        assert!(ok(&e), "{payload:?} gave {e:?}");
    }
    let bad_snapshot = b"hbapi/2\nsnapshot\t1\nlink\teth0\tup\n";
    assert!(matches!(
        api::decode_response(bad_snapshot),
        Err(DecodeError::BadRecord { .. })
    ));
    // Fence and guard records admit no contradictory combinations.
    for rec in [
        "fence\tn\t0\tdev\tidle\tsettled\t\t0\t\t", // no device, yet a name
        "fence\tn\t1\td\tidle\tsettled\t5\t0\t\t",  // settled with a next attempt
        "fence\tn\t1\td\tidle\tretry\t\t0\t\t",     // a retry without its time
        "fence\tn\t1\td\tidle\tattempt\t\t0\t\t5",  // a time without a result
        "fence\tn\t1\td\tidle\tattempt\t\t0\tok\t", // a result without its time
        "fence\tn\t1\td\tbusy\tattempt\t\t0\t\t",   // unknown device state
        "fence\tn\t1\td\tidle\tsettled\t\t0\t\t\textra",
        "guard\t0\t1\t1\t0\t2\t\t",    // ipfail off, yet a peer count
        "guard\t0\t1\t1\t0\t\tall\t5", // ipfail off, yet a hand-over
        "guard\t0\t1\t1\t1\t\tall\t",  // a hand-over without its time
        "guard\t0\t1\t1\t1\t\ttransition\t5", // not a set of resources
        "guard\t2\t1\t1\t1\t\t\t",
        "guard\t0\t1\t1\t0\t\t\t\nguard\t0\t1\t1\t0\t\t\t", // twice
    ] {
        let payload = format!("hbapi/2\nsnapshot\t1\n{rec}\n");
        assert!(
            api::decode_response(payload.as_bytes()).is_err(),
            "{rec:?} was accepted"
        );
    }
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
    assert!(j.contains("\"name\":\"node\\t2\\\\x\\n\""), "{j}");
    assert!(j.contains("\"holder\":null"));
    assert!(j.contains("\"last_transition\":{\"cause\":\"node1 dead\",\"at\":1700000000}"));
    assert!(j.contains("\"parameters\":{\"keepalive\":\"1\",\"empty\":\"\"}"));
    assert!(j.contains("\"clients\":{\"ipfail\":\"join\"}"));
    assert!(j.starts_with("{\"schema\":\"heartbeat-rs/status\",\"schema_version\":2,"));
    assert!(
        j.contains(
            "\"fencing\":[{\"node\":\"node2\",\"device\":\"fence_virsh\",\"in_progress\":true,\
             \"state\":\"retry\",\"next_attempt\":1700000006,\"device_run\":\"idle\",\
             \"attempts\":3,\"last_result\":{\"ok\":false,\"at\":1700000001}},"
        ),
        "{j}"
    );
    assert!(
        j.contains(
            "\"in_progress\":true,\"state\":\"attempt\",\"next_attempt\":null,\
             \"device_run\":\"operator\",\"attempts\":1,\"last_result\":null}"
        ),
        "{j}"
    );
    assert!(
        j.contains(
            "{\"node\":\"node4\",\"device\":null,\"in_progress\":true,\
             \"state\":\"race_delay\",\"next_attempt\":1700000015,\"device_run\":\"idle\",\
             \"attempts\":0,\"last_result\":null}],"
        ),
        "{j}"
    );
    assert!(
        j.contains(
            "\"guard\":{\"isolated\":true,\"ping_visible\":0,\"ping_total\":2,\
             \"ipfail\":{\"peer_ping_visible\":2,\"giveup\":{\"hold\":\"all\",\"at\":1700000004}}},\
             \"clients\""
        ),
        "{j}"
    );
    let quiet = api::json::render(&Snapshot::default());
    assert!(
        quiet.contains(
            "\"fencing\":[],\"guard\":{\"isolated\":false,\"ping_visible\":0,\
             \"ping_total\":0,\"ipfail\":null},"
        ),
        "{quiet}"
    );
    // Balanced and no raw control characters: a cheap structural check.
    assert_eq!(j.matches('{').count(), j.matches('}').count());
    assert!(!j.chars().any(|c| (c as u32) < 0x20));
}

fn fence_view() -> impl Strategy<Value = FenceView> {
    let want = prop_oneof![
        Just(FenceWant::Settled),
        Just(FenceWant::Attempt),
        any::<u64>().prop_map(|t| FenceWant::RaceDelay {
            first_attempt_unix: t
        }),
        any::<u64>().prop_map(|t| FenceWant::Retry {
            next_attempt_unix: t
        }),
    ];
    let run = prop_oneof![
        Just(DeviceRun::Idle),
        Just(DeviceRun::Running),
        Just(DeviceRun::WaitingForOperator),
    ];
    let last = proptest::option::of(
        (any::<bool>(), any::<u64>()).prop_map(|(ok, at_unix)| FenceResult { ok, at_unix }),
    );
    (
        ".*",
        proptest::option::of(".*"),
        run,
        want,
        any::<u32>(),
        last,
    )
        .prop_map(
            |(node, device, device_run, want, attempts, last)| FenceView {
                node,
                device,
                device_run,
                want,
                attempts,
                last,
            },
        )
}

fn guard_view() -> impl Strategy<Value = GuardView> {
    let hold = prop_oneof![
        Just(RscHold::None),
        Just(RscHold::Local),
        Just(RscHold::Foreign),
        Just(RscHold::All),
    ];
    let giveup = proptest::option::of(
        (hold, any::<u64>()).prop_map(|(hold, at_unix)| IpfailGiveup { hold, at_unix }),
    );
    let ipfail = proptest::option::of((proptest::option::of(any::<u64>()), giveup).prop_map(
        |(peer_ping_visible, giveup)| IpfailView {
            peer_ping_visible,
            giveup,
        },
    ));
    (any::<bool>(), any::<u64>(), any::<u64>(), ipfail).prop_map(
        |(isolated, ping_visible, ping_total, ipfail)| GuardView {
            isolated,
            ping_visible,
            ping_total,
            ipfail,
        },
    )
}

proptest! {
    #[test]
    fn fencing_and_guard_round_trip(
        fencing in proptest::collection::vec(fence_view(), 0..4),
        guard in guard_view(),
    ) {
        let snap = Snapshot { fencing, guard, ..sample() };
        // Whatever it holds, the JSON stays on one line.
        prop_assert!(!api::json::render(&snap).chars().any(|c| (c as u32) < 0x20));
        let resp = Response::Snapshot(Box::new(snap));
        let text = api::encode_response(&resp);
        prop_assert_eq!(api::decode_response(text.as_bytes()).unwrap(), resp);
    }

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
