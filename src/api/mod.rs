//! The local control socket's protocol (daemon ⇄ `cl_status`, `hb_standby`, `hb_takeover`).
//!
//! Pure: encoding, decoding and answering queries from a [`Snapshot`]; the socket itself is
//! `sys::api_socket`. Every message is one frame: a 4-byte big-endian length, then UTF-8 text
//! whose first line is the protocol tag [`PROTOCOL`], then tab-separated records (fields
//! escaped with `\\`, `\t`, `\n`, `\r`). Decoding never panics: a hostile peer gets a
//! [`DecodeError`], not a crash.

pub mod codec;
#[doc(hidden)]
pub mod fuzzing;
pub mod json;
pub mod snapshot;

pub use codec::{
    DecodeError, MAX_FRAME, decode_request, decode_response, encode_request, encode_response,
    frame, split_frame,
};
pub use snapshot::{
    ClientStatus, DeviceRun, FenceResult, FenceView, FenceWant, GroupView, GuardView, HBVERSION,
    IpfailGiveup, IpfailView, LinkStatus, LinkView, NodeStatus, NodeType, NodeView, RscHold,
    Snapshot, Transition,
};

/// First line of every payload; bumped on an incompatible change.
pub const PROTOCOL: &str = "hbapi/2";

/// Which resources a standby/takeover request is about (`hb_standby [all|foreign|local|failback]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    All,
    Foreign,
    Local,
    Failback,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::All => "all",
            Hold::Foreign => "foreign",
            Hold::Local => "local",
            Hold::Failback => "failback",
        }
    }
    pub fn parse(s: &str) -> Option<Hold> {
        Some(match s {
            "all" => Hold::All,
            "foreign" => Hold::Foreign,
            "local" => Hold::Local,
            "failback" => Hold::Failback,
            _ => return None,
        })
    }
}

/// A request from a tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The whole status snapshot (what `cl_status` and `heartbeat status` render).
    Status,
    /// Node names in configuration order (normal and ping).
    NodeList,
    NodeStatus(String),
    NodeType(String),
    NodeWeight(String),
    NodeSite(String),
    /// Link names of a node.
    IfList(String),
    IfStatus {
        node: String,
        link: String,
    },
    ClientStatus {
        node: String,
        client: String,
        timeout_ms: u32,
    },
    RscStatus,
    Parameter(String),
    /// `hb_standby`: give up `hold` (`failback` is already mapped to `foreign` by the tool).
    Standby {
        hold: Hold,
        wait: bool,
    },
    /// `hb_takeover`: take `hold`.
    Takeover {
        hold: Hold,
        wait: bool,
    },
}

/// Why a query failed (the daemon-side reason; the tools turn it into heartbeat's texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NoSuchNode,
    NoSuchLink,
    NoSuchParameter,
    /// Status of a client on another node: v1 asks that node; we do not (heartbeat's
    /// `No timely response.`).
    NoTimelyResponse,
    /// The peer is not authorised by `apiauth`.
    Refused,
    /// The request could not be decoded.
    BadRequest,
    /// The daemon cannot do that now (e.g. standby while not stable).
    NotNow,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NoSuchNode => "no-such-node",
            ErrorKind::NoSuchLink => "no-such-link",
            ErrorKind::NoSuchParameter => "no-such-parameter",
            ErrorKind::NoTimelyResponse => "no-timely-response",
            ErrorKind::Refused => "refused",
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::NotNow => "not-now",
        }
    }
    pub fn parse(s: &str) -> Option<ErrorKind> {
        Some(match s {
            "no-such-node" => ErrorKind::NoSuchNode,
            "no-such-link" => ErrorKind::NoSuchLink,
            "no-such-parameter" => ErrorKind::NoSuchParameter,
            "no-timely-response" => ErrorKind::NoTimelyResponse,
            "refused" => ErrorKind::Refused,
            "bad-request" => ErrorKind::BadRequest,
            "not-now" => ErrorKind::NotNow,
            _ => return None,
        })
    }
}

/// How a standby/takeover ended (only sent when the tool asked to wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The resources moved as asked.
    Done,
    /// The cluster declined (e.g. peer dead, not stable, already holding).
    Declined,
    /// The daemon gave up waiting.
    TimedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Declined => "declined",
            Outcome::TimedOut => "timed-out",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "done" => Outcome::Done,
            "declined" => Outcome::Declined,
            "timed-out" => Outcome::TimedOut,
            _ => return None,
        })
    }
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Snapshot(Box<Snapshot>),
    /// One value (a status word, a weight, a parameter's raw value).
    Value(String),
    /// Several values (node names, link names).
    List(Vec<String>),
    /// A standby/takeover was queued (no wait requested).
    Accepted,
    /// A standby/takeover finished; `detail` is a human sentence for `--wait`.
    Finished {
        outcome: Outcome,
        detail: String,
    },
    Error {
        kind: ErrorKind,
        detail: String,
    },
}

/// Answers a query from a snapshot (the daemon calls this with its current snapshot; the
/// tools call it too so that both sides agree by construction). Standby/takeover are not
/// queries: they are passed to the cluster core by the daemon, so here they get `NotNow`.
pub fn answer(snap: &Snapshot, req: &Request) -> Response {
    let err = |kind: ErrorKind| Response::Error {
        kind,
        detail: String::new(),
    };
    let node = |name: &str| snap.node(name).ok_or(ErrorKind::NoSuchNode);
    let result = match req {
        Request::Status => Ok(Response::Snapshot(Box::new(snap.clone()))),
        Request::NodeList => Ok(Response::List(
            snap.nodes.iter().map(|n| n.name.clone()).collect(),
        )),
        Request::NodeStatus(n) => node(n).map(|n| Response::Value(n.status.as_str().into())),
        Request::NodeType(n) => node(n).map(|n| Response::Value(n.kind.as_str().into())),
        Request::NodeWeight(n) => node(n).map(|n| Response::Value(n.weight.to_string())),
        Request::NodeSite(n) => node(n).map(|n| Response::Value(n.site.clone())),
        Request::IfList(n) => {
            node(n).map(|n| Response::List(n.links.iter().map(|l| l.name.clone()).collect()))
        }
        Request::IfStatus { node: n, link } => node(n).and_then(|n| {
            n.links
                .iter()
                .find(|l| l.name == *link)
                .map(|l| Response::Value(l.status.as_str().into()))
                .ok_or(ErrorKind::NoSuchLink)
        }),
        Request::ClientStatus {
            node: n, client, ..
        } => {
            // heartbeat asks the node and waits for the client itself to answer: a remote
            // node or a client that is not there means "No timely response." (fixtures:
            // `clientstatus node2 ipfail` on node2 without ipfail). Only clients the daemon
            // lists for the local node get an answer (`cl_status` itself: `offline`).
            let local = n.eq_ignore_ascii_case(&snap.local_node);
            snap.clients
                .iter()
                .find(|(c, _)| local && c == client)
                .map(|(_, s)| Response::Value(s.as_str().into()))
                .ok_or(ErrorKind::NoTimelyResponse)
        }
        Request::RscStatus => Ok(Response::Value(snap.rsc.as_str().into())),
        Request::Parameter(p) => snap
            .parameters
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, v)| Response::Value(v.clone()))
            .ok_or(ErrorKind::NoSuchParameter),
        Request::Standby { .. } | Request::Takeover { .. } => Err(ErrorKind::NotNow),
    };
    result.unwrap_or_else(err)
}
