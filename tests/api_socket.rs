//! The control socket in a temp dir: a mio-driven server answers the blocking client, the
//! apiauth check refuses strangers, oversized frames are cut off, and the multi-call binary
//! works as `cl_status` / `hb_standby` against it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use heartbeat_rs::api::{
    self, DecodeError, ErrorKind, LinkStatus, LinkView, NodeStatus, NodeType, NodeView, Outcome,
    Request, Response, RscHold, Snapshot,
};
use heartbeat_rs::config::model::ApiAuth;
use heartbeat_rs::sys::api_socket::{
    Access, ApiListener, ClientError, ConnEvent, fifo_send, request,
};
use mio::{Events, Interest, Poll, Token};

fn snapshot() -> Snapshot {
    Snapshot {
        version: "3.0.6".into(),
        local_node: "node1".into(),
        managed_by: "haresources".into(),
        rsc: RscHold::All,
        nodes: vec![NodeView {
            name: "node1".into(),
            kind: NodeType::Normal,
            status: NodeStatus::Active,
            weight: 100,
            site: String::new(),
            links: vec![LinkView {
                name: "eth0".into(),
                status: LinkStatus::Up,
            }],
        }],
        ..Snapshot::default()
    }
}

fn me() -> Access {
    Access {
        uids: vec![nix::unistd::geteuid().as_raw()],
        gids: vec![],
    }
}

/// Serves `n` connections with mio, answering queries from the snapshot and standby/takeover
/// with `Finished(Done)`; returns the events it saw.
fn serve(listener: &mut ApiListener, n: usize) -> Vec<ConnEvent> {
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(listener, Token(0), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(16);
    let mut conns = Vec::new();
    let mut seen = Vec::new();
    let snap = snapshot();
    while seen.len() < n {
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(!events.is_empty(), "server timed out waiting for a client");
        for ev in events.iter() {
            if ev.token() == Token(0) {
                while let Some(mut c) = listener.accept().unwrap() {
                    let t = Token(1 + conns.len());
                    poll.registry()
                        .register(&mut c, t, Interest::READABLE)
                        .unwrap();
                    conns.push(Some(c));
                }
                // A refused peer is known at accept: answer without waiting for data.
            }
        }
        for slot in conns.iter_mut() {
            let Some(c) = slot else { continue };
            let ev = c.read_request().unwrap();
            let resp = match &ev {
                ConnEvent::Pending => continue,
                ConnEvent::Closed => None,
                ConnEvent::Refused => Some(Response::Error {
                    kind: ErrorKind::Refused,
                    detail: String::new(),
                }),
                ConnEvent::Bad(e) => Some(Response::Error {
                    kind: ErrorKind::BadRequest,
                    detail: e.to_string(),
                }),
                ConnEvent::Request(Request::Standby { .. } | Request::Takeover { .. }) => {
                    Some(Response::Finished {
                        outcome: Outcome::Done,
                        detail: "node1 holds all".into(),
                    })
                }
                ConnEvent::Request(r) => Some(api::answer(&snap, r)),
            };
            if let Some(resp) = resp {
                c.queue(&resp);
                // Small answers fit the socket buffer; a real daemon waits for WRITABLE.
                assert!(c.flush().unwrap());
            }
            seen.push(ev);
            *slot = None;
        }
    }
    seen
}

#[test]
fn the_client_gets_answers_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    let mut l = ApiListener::bind(&path, me()).unwrap();
    let p = path.clone();
    let client = std::thread::spawn(move || {
        let t = Duration::from_secs(5);
        let a = request(&p, &Request::Status, t).unwrap();
        let b = request(&p, &Request::NodeStatus("NODE1".into()), t).unwrap();
        let c = request(&p, &Request::Parameter("nope".into()), t).unwrap();
        (a, b, c)
    });
    let seen = serve(&mut l, 3);
    let (a, b, c) = client.join().unwrap();
    assert_eq!(a, Response::Snapshot(Box::new(snapshot())));
    assert_eq!(b, Response::Value("active".into()));
    assert!(matches!(
        c,
        Response::Error {
            kind: ErrorKind::NoSuchParameter,
            ..
        }
    ));
    assert_eq!(seen[0], ConnEvent::Request(Request::Status));
}

#[test]
fn peers_not_allowed_by_apiauth_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    let stranger = Access {
        uids: vec![4242],
        gids: vec![4242],
    };
    let mut l = ApiListener::bind(&path, stranger).unwrap();
    let p = path.clone();
    let client =
        std::thread::spawn(move || request(&p, &Request::RscStatus, Duration::from_secs(5)));
    let seen = serve(&mut l, 1);
    assert_eq!(seen, vec![ConnEvent::Refused]);
    assert!(matches!(
        client.join().unwrap(),
        Ok(Response::Error {
            kind: ErrorKind::Refused,
            ..
        })
    ));
}

#[test]
fn an_oversized_frame_is_rejected_before_it_is_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    let mut l = ApiListener::bind(&path, me()).unwrap();
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.write_all(&u32::MAX.to_be_bytes()).unwrap();
    raw.write_all(&[b'x'; 1000]).unwrap();
    let seen = serve(&mut l, 1);
    assert_eq!(
        seen,
        vec![ConnEvent::Bad(DecodeError::TooLarge(u32::MAX as usize))]
    );
    let mut answer = Vec::new();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.read_to_end(&mut answer).unwrap();
    let (_, payload) = api::split_frame(&answer).unwrap().unwrap();
    assert!(matches!(
        api::decode_response(payload),
        Ok(Response::Error {
            kind: ErrorKind::BadRequest,
            ..
        })
    ));
}

#[test]
fn peer_credentials_are_the_connecting_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    let l = ApiListener::bind(&path, me()).unwrap();
    let _c = UnixStream::connect(&path).unwrap();
    let conn = l.accept().unwrap().expect("pending connection");
    assert_eq!(conn.peer().uid, nix::unistd::geteuid().as_raw());
    assert_eq!(conn.peer().pid, std::process::id() as i32);
    assert!(l.accept().unwrap().is_none());
}

#[test]
fn no_daemon_means_unreachable_and_bind_replaces_only_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    assert!(matches!(
        request(&path, &Request::Status, Duration::from_secs(1)),
        Err(ClientError::Unreachable(_))
    ));
    let first = ApiListener::bind(&path, me()).unwrap();
    std::mem::forget(first); // leave a stale socket file behind, as a crash would
    assert!(ApiListener::bind(&path, me()).is_ok());
    let file = dir.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    assert!(ApiListener::bind(&file, me()).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

#[test]
fn apiauth_rules_resolve_names_and_ids() {
    let (anon, _) = Access::from_apiauth(&[], "anon");
    assert!(anon.allows(0, 12345), "root is allowed by default");
    assert!(!anon.allows(4242, 4242));
    let rules = vec![ApiAuth {
        client: "anon".into(),
        uids: vec!["1000".into(), "no-such-user-xyz".into()],
        gids: vec!["2000".into()],
    }];
    let (a, unknown) = Access::from_apiauth(&rules, "anon");
    assert!(a.allows(1000, 1) && a.allows(1, 2000) && !a.allows(0, 0));
    assert_eq!(unknown, vec!["uid no-such-user-xyz".to_string()]);
    let (none, _) = Access::from_apiauth(&[], "someclient");
    assert!(
        !none.allows(0, 0),
        "a named client without a rule is refused"
    );
}

#[test]
fn the_legacy_fifo_fails_fast_without_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = fifo_send(&fifo, ">>>\n<<<\n").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(nix::libc::ENXIO));
    let plain = dir.path().join("plain");
    assert!(fifo_send(&plain, "x").is_err());
    assert!(!plain.exists(), "no regular file is created in its place");
    // With a reader the message arrives whole.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .unwrap();
    fifo_send(&fifo, ">>>\nt=hb_takeover\nrsc_hold=all\n<<<\n").unwrap();
    let mut got = String::new();
    let mut r = reader;
    r.read_to_string(&mut got).ok();
    assert_eq!(got, ">>>\nt=hb_takeover\nrsc_hold=all\n<<<\n");
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}
impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_NONBLOCK)
    }
}

#[allow(clippy::disallowed_methods)] // the test runs the binary under test
fn run_as(dir: &Path, name: &str, sock: &Path, args: &[&str]) -> std::process::Output {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_heartbeat"), &link).unwrap();
    }
    std::process::Command::new(&link)
        .args(args)
        .env("HB_API_SOCKET", sock)
        .env("HB_FIFO", dir.join("no-fifo"))
        .output()
        .unwrap()
}

#[test]
fn the_binary_acts_as_cl_status_and_hb_standby_under_those_names() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("api");
    let mut l = ApiListener::bind(&sock, me()).unwrap();
    let (d, s) = (dir.path().to_path_buf(), sock.clone());
    let tools = std::thread::spawn(move || {
        let a = run_as(&d, "cl_status", &s, &["rscstatus", "-m"]);
        let b = run_as(&d, "hb_standby", &s, &["--wait", "failback"]);
        (a, b)
    });
    let seen = serve(&mut l, 2);
    let (a, b) = tools.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        "This node is holding all resources.\n"
    );
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(
        seen[1],
        ConnEvent::Request(Request::Standby {
            hold: api::Hold::Foreign,
            wait: true
        })
    );
    assert_eq!(
        String::from_utf8_lossy(&b.stdout),
        "standby done: node1 holds all\n"
    );
    assert!(String::from_utf8_lossy(&b.stderr).ends_with(" Going standby [foreign].\n"));
    assert_eq!(b.status.code(), Some(0));

    // Daemon gone: cl_status says so as heartbeat does, hb_takeover fails fast.
    drop(l);
    let c = run_as(dir.path(), "cl_status", &sock, &["hbstatus"]);
    assert_eq!(
        String::from_utf8_lossy(&c.stdout),
        "Heartbeat is stopped on this machine.\n"
    );
    assert_eq!(c.status.code(), Some(1));
    let t = run_as(dir.path(), "hb_takeover", &sock, &["all"]);
    assert_eq!(t.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&t.stderr).contains("heartbeat is not running"));
}

#[test]
fn a_silent_server_makes_the_client_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api");
    // Accepted by the kernel's backlog but never answered.
    let _l = ApiListener::bind(&path, me()).unwrap();
    assert!(matches!(
        request(&path, &Request::Status, Duration::from_millis(50)),
        Err(ClientError::Timeout)
    ));
}

#[test]
fn heartbeat_status_is_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("api");
    let mut l = ApiListener::bind(&sock, me()).unwrap();
    let (d, s) = (dir.path().to_path_buf(), sock.clone());
    let tool = std::thread::spawn(move || run_as(&d, "heartbeat", &s, &["status", "--json"]));
    serve(&mut l, 1);
    let out = tool.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("{\"schema\":\"heartbeat-rs/status\""),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(0));
}
