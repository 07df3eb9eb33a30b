//! hb_standby / hb_takeover argument handling and texts (behaviour spec §8.4), the outcome
//! report of `--wait`, the legacy FIFO message, and the cl_status forms the fixtures do not
//! cover (`-m`, missing arguments, summary/--json).

use heartbeat_rs::api::{
    DeviceRun, ErrorKind, FenceResult, FenceView, FenceWant, GroupView, GuardView, Hold,
    IpfailGiveup, IpfailView, LinkStatus, LinkView, NodeStatus, NodeType, NodeView, Outcome,
    Request, Response, RscHold, Snapshot, Transition,
};
use heartbeat_rs::cli::cl_status::{self, Daemon, Diag};
use heartbeat_rs::cli::standby::{Output, Tool, legacy_fifo_message, parse, report};

const P: &str = "/usr/share/heartbeat/hb_standby";

#[test]
fn standby_defaults_to_all_and_sends_failback_as_foreign() {
    let inv = parse(Tool::Standby, P, &[]).unwrap();
    assert_eq!(
        inv.request,
        Request::Standby {
            hold: Hold::All,
            wait: false
        }
    );
    assert_eq!(inv.log.as_deref(), Some("Going standby [all]."));
    let inv = parse(Tool::Standby, P, &["failback", "--wait"]).unwrap();
    assert_eq!(
        inv.request,
        Request::Standby {
            hold: Hold::Foreign,
            wait: true
        }
    );
    for w in ["local", "foreign"] {
        let inv = parse(Tool::Standby, P, &[w]).unwrap();
        assert_eq!(inv.log, Some(format!("Going standby [{w}].")));
    }
}

#[test]
fn takeover_keeps_failback_and_logs_nothing() {
    let inv = parse(Tool::Takeover, "hb_takeover", &["failback"]).unwrap();
    assert_eq!(
        inv.request,
        Request::Takeover {
            hold: Hold::Failback,
            wait: false
        }
    );
    assert_eq!(inv.log, None);
}

#[test]
fn bad_arguments_print_heartbeats_texts_and_exit_1() {
    let e = parse(Tool::Standby, P, &["all", "local"]).unwrap_err();
    assert_eq!(
        e,
        Output {
            stdout: "usage:\n".into(),
            stderr: format!("{P}: too many arguments\n{P} [all|foreign|local|failback]\n"),
            code: 1
        }
    );
    let e = parse(Tool::Takeover, "hb_takeover", &["some"]).unwrap_err();
    assert_eq!(
        e.stderr,
        "hb_takeover: wrong resources(some).\nhb_takeover [all|foreign|local|failback]\n"
    );
    assert_eq!(e.code, 1);
    let e = parse(Tool::Standby, P, &["--help"]).unwrap_err();
    assert_eq!(e.stderr, format!("{P} [all|foreign|local|failback]\n"));
    assert_eq!(e.stdout, "usage:\n");
}

#[test]
fn wait_reports_the_outcome() {
    let done = Response::Finished {
        outcome: Outcome::Done,
        detail: "node2 holds all".into(),
    };
    assert_eq!(
        report(Tool::Takeover, &done).stdout,
        "takeover done: node2 holds all\n"
    );
    let declined = report(
        Tool::Standby,
        &Response::Finished {
            outcome: Outcome::Declined,
            detail: "peer is dead".into(),
        },
    );
    assert_eq!(
        (declined.code, &*declined.stderr),
        (1, "standby declined: peer is dead\n")
    );
    let slow = report(
        Tool::Standby,
        &Response::Finished {
            outcome: Outcome::TimedOut,
            detail: String::new(),
        },
    );
    assert_eq!((slow.code, &*slow.stderr), (2, "standby timed out\n"));
    assert_eq!(
        report(Tool::Standby, &Response::Accepted),
        Output::default()
    );
    let refused = report(
        Tool::Standby,
        &Response::Error {
            kind: ErrorKind::Refused,
            detail: String::new(),
        },
    );
    assert_eq!(
        (refused.code, &*refused.stderr),
        (1, "standby refused: refused\n")
    );
}

#[test]
fn legacy_fifo_messages_are_heartbeats() {
    let m = legacy_fifo_message(&Request::Standby {
        hold: Hold::Foreign,
        wait: false,
    });
    assert_eq!(
        m.as_deref(),
        Some(">>>\nt=ask_resources\nrsc_hold=foreign\ninfo=me\n<<<\n")
    );
    let m = legacy_fifo_message(&Request::Takeover {
        hold: Hold::Failback,
        wait: true,
    });
    assert_eq!(
        m.as_deref(),
        Some(">>>\nt=hb_takeover\nrsc_hold=failback\n<<<\n")
    );
    assert_eq!(legacy_fifo_message(&Request::Status), None);
}

fn snap() -> Snapshot {
    Snapshot {
        version: "3.0.6".into(),
        local_node: "node1".into(),
        managed_by: "haresources".into(),
        rsc: RscHold::Transition,
        nodes: vec![
            NodeView {
                name: "node1".into(),
                kind: NodeType::Normal,
                status: NodeStatus::Up,
                weight: 100,
                site: String::new(),
                links: vec![LinkView {
                    name: "eth0".into(),
                    status: LinkStatus::Dead,
                }],
            },
            NodeView {
                name: "gw".into(),
                kind: NodeType::Ping,
                status: NodeStatus::Ping,
                weight: 100,
                site: String::new(),
                links: vec![LinkView {
                    name: "gw".into(),
                    status: LinkStatus::Up,
                }],
            },
        ],
        parameters: vec![("keepalive".into(), "2".into())],
        groups: vec![GroupView {
            owner: "node1".into(),
            resources: "IPaddr::10.0.0.1".into(),
            holder: Some("node1".into()),
            state: "starting".into(),
            last: Some(Transition {
                cause: "hb_takeover".into(),
                at_unix: 99,
            }),
        }],
        ..Snapshot::default()
    }
}

fn run(args: &[&str]) -> cl_status::Output {
    let s = snap();
    cl_status::run(args, Daemon::Running(&s))
}

#[test]
fn cl_status_human_forms() {
    assert_eq!(
        run(&["nodestatus", "-m", "node1"]).stdout,
        "The cluster node node1 is up\n"
    );
    assert_eq!(run(&["nodestatus", "node1"]).code, 0, "up counts as alive");
    assert_eq!(
        run(&["nodetype", "-m", "gw"]).stdout,
        "The node gw's type: ping\n"
    );
    let o = run(&["hblinkstatus", "-m", "node1", "eth0"]);
    assert_eq!(
        (o.stdout.as_str(), o.code),
        ("The node node1's heartbeat link eth0 is dead\n", 1)
    );
    assert_eq!(
        run(&["rscstatus", "-m"]).stdout,
        "This node is holding transition resources.\n"
    );
    assert_eq!(
        run(&["hbparameter", "-m", "-pkeepalive"]).stdout,
        "Heartbeat parameter keepalive's value: 2\n"
    );
    assert_eq!(
        run(&["listnodes", "-m", "-p"]).stdout,
        "The nodes are as follow:\ngw\n"
    );
    assert_eq!(
        run(&["listhblinks", "-m", "node1"]).stdout,
        "\tthis node has the following heartbeat links:\n\teth0\n"
    );
    assert_eq!(
        run(&["hbstatus", "-v", "-m"]).stdout,
        "Heartbeat version 3.0.6\nResources controlled by \"haresources\"\n\
         \nnode1\tup\t(nodetype: normal)\n\teth0\tdead\n\ngw\tping\t(nodetype: ping)\n\tgw\tup\n"
    );
}

#[test]
fn cl_status_argument_errors() {
    let o = run(&["hbparameter"]);
    assert_eq!(o.code, 11);
    assert_eq!(
        o.stderr,
        vec![Diag::Error("parameter name required".into())]
    );
    assert_eq!(run(&["nodestatus"]).code, 11);
    assert_eq!(run(&["hblinkstatus", "node1"]).code, 11);
    assert_eq!(run(&["listnodes", "-x"]).code, 11);
    let h = run(&["-h"]);
    assert_eq!((h.code, h.stdout.as_str()), (0, cl_status::USAGE));
    // Bad sub-commands are reported even when the daemon is down.
    let o = cl_status::run(&["bogus"], Daemon::Unreachable);
    assert_eq!(o.code, 11);
    assert_eq!(
        o.render_stderr("Nov 21 23:23:29", "node1", 7),
        "Nov 21 23:23:29 node1 cl_status: [7]: ERROR: bogus: invalid sub-command.\n"
    );
}

#[test]
fn summary_shows_groups_and_json_is_one_line() {
    let o = run(&["summary"]);
    assert!(o.stdout.contains("IPaddr::10.0.0.1"), "{}", o.stdout);
    assert!(o.stdout.contains("holder: node1\tstate: starting"));
    assert!(o.stdout.contains("last transition: hb_takeover at 99"));
    let j = run(&["summary", "--json"]);
    assert_eq!(j.stdout.lines().count(), 1);
    assert!(j.stdout.contains("\"resources_held\":\"transition\""));
    assert!(j.stdout.ends_with("}\n"));
}

#[test]
fn a_refusing_daemon_is_apparently_running() {
    let o = cl_status::run(&["hbstatus"], Daemon::Refused);
    assert_eq!(
        (o.stdout.as_str(), o.code),
        (
            "Heartbeat is apparently running on this machine, but refuses my connection\n",
            0
        )
    );
    let o = cl_status::run(&["listnodes"], Daemon::Refused);
    assert_eq!((o.stdout.as_str(), o.code), ("", 1));
    let err = o.render_stderr("Jan  1 00:00:00", "h", 1);
    assert!(err.contains("ERROR: Cannot signon with heartbeat"), "{err}");
}

#[test]
fn summary_shows_fencing_waits_and_isolation() {
    let quiet = cl_status::summary(&snap());
    assert!(
        !quiet.contains("Fencing:") && !quiet.contains("Isolation:"),
        "{quiet}"
    );
    let fence = |node: &str, device: Option<&str>, device_run, want, attempts, last| FenceView {
        node: node.into(),
        device: device.map(str::to_string),
        device_run,
        want,
        attempts,
        last,
    };
    let s = Snapshot {
        fencing: vec![
            fence(
                "node2",
                Some("fence_virsh"),
                DeviceRun::Idle,
                FenceWant::Retry {
                    next_attempt_unix: 1006,
                },
                2,
                Some(FenceResult {
                    ok: false,
                    at_unix: 1001,
                }),
            ),
            fence(
                "node3",
                None,
                DeviceRun::Idle,
                FenceWant::RaceDelay {
                    first_attempt_unix: 1015,
                },
                0,
                None,
            ),
            fence(
                "node4",
                Some("Meatware STONITH device"),
                DeviceRun::WaitingForOperator,
                FenceWant::Attempt,
                1,
                None,
            ),
            fence(
                "node5",
                Some("external/ipmi"),
                DeviceRun::Idle,
                FenceWant::Settled,
                1,
                Some(FenceResult {
                    ok: true,
                    at_unix: 900,
                }),
            ),
        ],
        guard: GuardView {
            isolated: true,
            ping_visible: 0,
            ping_total: 2,
            ipfail: Some(IpfailView {
                peer_ping_visible: Some(2),
                giveup: Some(IpfailGiveup {
                    hold: RscHold::All,
                    at_unix: 1004,
                }),
            }),
        },
        ..snap()
    };
    let out = cl_status::summary(&s);
    let tail = &out[out.find("\nFencing:").expect("fencing section")..];
    assert_eq!(
        tail,
        "\nFencing:\n\
         \x20 node2 with fence_virsh: in progress: failed, next attempt at 1006 (unix time), \
         2 attempt(s) since it was declared dead\n\
         \x20   last result: failed at 1001 (unix time)\n\
         \x20 node3: in progress: waiting out the fence race delay, first attempt at 1015 \
         (unix time), 0 attempt(s) since it was declared dead\n\
         \x20 node4 with Meatware STONITH device: in progress: waiting for the operator: \
         meatclient -c node4, 1 attempt(s) since it was declared dead\n\
         \x20 node5 with external/ipmi: idle, 1 attempt(s) since it was declared dead\n\
         \x20   last result: reset at 900 (unix time)\n\
         \nIsolation:\n\
         \x20 ISOLATED: this node sees neither its peer nor any ping node (or, with three or \
         more nodes, no majority); it holds no resources and takes nothing over\n\
         \x20 ping nodes visible: 0/2\n\
         \x20 ipfail: on, peer sees ping nodes: 2\n\
         \x20 ipfail: handing over all resources to the peer at 1004 (unix time)\n"
    );
    // Ping nodes alone make the section appear, calmly.
    let s = Snapshot {
        guard: GuardView {
            ping_visible: 1,
            ping_total: 1,
            ..GuardView::default()
        },
        ..snap()
    };
    assert!(
        cl_status::summary(&s)
            .ends_with("\nIsolation:\n  not isolated\n  ping nodes visible: 1/1\n"),
        "{}",
        cl_status::summary(&s)
    );
    // The same through `summary --json`.
    let j = cl_status::run(&["summary", "--json"], Daemon::Running(&s)).stdout;
    assert!(
        j.contains(
            "\"guard\":{\"isolated\":false,\"ping_visible\":1,\"ping_total\":1,\"ipfail\":null}"
        ),
        "{j}"
    );
}
