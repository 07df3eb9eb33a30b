//! Frames and the text encoding of requests and responses.

use super::snapshot::{
    ClientStatus, DeviceRun, FenceResult, FenceView, FenceWant, GroupView, GuardView, IpfailGiveup,
    IpfailView, LinkStatus, LinkView, NodeStatus, NodeType, NodeView, RscHold, Snapshot,
    Transition,
};
use super::{ErrorKind, Hold, Outcome, PROTOCOL, Request, Response};

/// Largest payload accepted (a snapshot of a big cluster is a few KiB).
pub const MAX_FRAME: usize = 256 * 1024;

/// Why a frame or payload was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The length prefix announces more than [`MAX_FRAME`].
    TooLarge(usize),
    NotUtf8,
    /// First line is not [`PROTOCOL`].
    WrongProtocol(String),
    Empty,
    /// A record tag that this version does not know.
    UnknownRecord(String),
    /// A record with the wrong number or form of fields.
    BadRecord {
        line: usize,
        what: &'static str,
    },
    BadEscape {
        line: usize,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME}"),
            DecodeError::NotUtf8 => f.write_str("payload is not UTF-8"),
            DecodeError::WrongProtocol(p) => write!(f, "unknown protocol {p:?}"),
            DecodeError::Empty => f.write_str("empty message"),
            DecodeError::UnknownRecord(r) => write!(f, "unknown record {r:?}"),
            DecodeError::BadRecord { line, what } => write!(f, "line {line}: bad {what}"),
            DecodeError::BadEscape { line } => write!(f, "line {line}: bad escape"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Prefixes `payload` with its length.
pub fn frame(payload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload.as_bytes());
    out
}

/// Finds one complete frame at the start of `buf`: `Ok(None)` if more bytes are needed,
/// else the number of bytes consumed and the payload.
pub fn split_frame(buf: &[u8]) -> Result<Option<(usize, &[u8])>, DecodeError> {
    let Some(head) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*head) as usize;
    if len > MAX_FRAME {
        return Err(DecodeError::TooLarge(len));
    }
    Ok(buf.get(4..4 + len).map(|p| (4 + len, p)))
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str, line: usize) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => return Err(DecodeError::BadEscape { line }),
        }
    }
    Ok(out)
}

/// Writes one record: tag, then escaped fields, tab-separated.
fn record(out: &mut String, tag: &str, fields: &[&str]) {
    out.push_str(tag);
    for f in fields {
        out.push('\t');
        escape(f, out);
    }
    out.push('\n');
}

/// Splits a payload into records of unescaped fields (tag first), after the protocol line.
fn records(payload: &[u8]) -> Result<Vec<(usize, Vec<String>)>, DecodeError> {
    let text = std::str::from_utf8(payload).map_err(|_| DecodeError::NotUtf8)?;
    // Split on LF only: `lines()` would also eat a CR that belongs to a field.
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut lines = text.split('\n');
    match lines.next() {
        None | Some("") => return Err(DecodeError::Empty),
        Some(p) if p == PROTOCOL => {}
        Some(p) => return Err(DecodeError::WrongProtocol(p.chars().take(40).collect())),
    }
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        let fields = l
            .split('\t')
            .map(|f| unescape(f, line))
            .collect::<Result<Vec<_>, _>>()?;
        out.push((line, fields));
    }
    Ok(out)
}

fn bad(line: usize, what: &'static str) -> DecodeError {
    DecodeError::BadRecord { line, what }
}

fn flag(s: &str, line: usize) -> Result<bool, DecodeError> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(bad(line, "flag")),
    }
}

pub fn encode_request(req: &Request) -> String {
    let mut out = format!("{PROTOCOL}\n");
    let o = &mut out;
    let w = |b: bool| if b { "1" } else { "0" };
    match req {
        Request::Status => record(o, "status", &[]),
        Request::NodeList => record(o, "nodelist", &[]),
        Request::NodeStatus(n) => record(o, "nodestatus", &[n]),
        Request::NodeType(n) => record(o, "nodetype", &[n]),
        Request::NodeWeight(n) => record(o, "nodeweight", &[n]),
        Request::NodeSite(n) => record(o, "nodesite", &[n]),
        Request::IfList(n) => record(o, "iflist", &[n]),
        Request::IfStatus { node, link } => record(o, "ifstatus", &[node, link]),
        Request::ClientStatus {
            node,
            client,
            timeout_ms,
        } => record(o, "clientstatus", &[node, client, &timeout_ms.to_string()]),
        Request::RscStatus => record(o, "rscstatus", &[]),
        Request::Parameter(p) => record(o, "getparm", &[p]),
        Request::Standby { hold, wait } => record(o, "standby", &[hold.as_str(), w(*wait)]),
        Request::Takeover { hold, wait } => record(o, "takeover", &[hold.as_str(), w(*wait)]),
    }
    out
}

pub fn decode_request(payload: &[u8]) -> Result<Request, DecodeError> {
    let recs = records(payload)?;
    let [(line, fields)] = recs.as_slice() else {
        return Err(if recs.is_empty() {
            DecodeError::Empty
        } else {
            bad(3, "request (one record expected)")
        });
    };
    let line = *line;
    let f: Vec<&str> = fields.iter().map(String::as_str).collect();
    let s = |x: &str| x.to_string();
    Ok(match f.as_slice() {
        ["status"] => Request::Status,
        ["nodelist"] => Request::NodeList,
        ["nodestatus", n] => Request::NodeStatus(s(n)),
        ["nodetype", n] => Request::NodeType(s(n)),
        ["nodeweight", n] => Request::NodeWeight(s(n)),
        ["nodesite", n] => Request::NodeSite(s(n)),
        ["iflist", n] => Request::IfList(s(n)),
        ["ifstatus", n, l] => Request::IfStatus {
            node: s(n),
            link: s(l),
        },
        ["clientstatus", n, c, t] => Request::ClientStatus {
            node: s(n),
            client: s(c),
            timeout_ms: t.parse().map_err(|_| bad(line, "timeout"))?,
        },
        ["rscstatus"] => Request::RscStatus,
        ["getparm", p] => Request::Parameter(s(p)),
        [verb @ ("standby" | "takeover"), h, w] => {
            let hold = Hold::parse(h).ok_or(bad(line, "hold"))?;
            let wait = flag(w, line)?;
            if *verb == "standby" {
                Request::Standby { hold, wait }
            } else {
                Request::Takeover { hold, wait }
            }
        }
        [tag, ..] => return Err(DecodeError::UnknownRecord(tag.chars().take(40).collect())),
        [] => return Err(DecodeError::Empty),
    })
}

pub fn encode_response(resp: &Response) -> String {
    let mut out = format!("{PROTOCOL}\n");
    let o = &mut out;
    match resp {
        Response::Snapshot(snap) => encode_snapshot(snap, o),
        Response::Value(v) => record(o, "value", &[v]),
        Response::List(items) => {
            let items: Vec<&str> = items.iter().map(String::as_str).collect();
            record(o, "list", &items)
        }
        Response::Accepted => record(o, "accepted", &[]),
        Response::Finished { outcome, detail } => {
            record(o, "finished", &[outcome.as_str(), detail])
        }
        Response::Error { kind, detail } => record(o, "error", &[kind.as_str(), detail]),
    }
    out
}

fn encode_snapshot(s: &Snapshot, o: &mut String) {
    record(o, "snapshot", &[&s.taken_unix.to_string()]);
    record(o, "version", &[&s.version]);
    record(o, "local", &[&s.local_node]);
    record(o, "managed", &[&s.managed_by]);
    record(o, "rsc", &[s.rsc.as_str()]);
    for n in &s.nodes {
        let weight = n.weight.to_string();
        let f = [
            &*n.name,
            n.kind.as_str(),
            n.status.as_str(),
            &weight,
            &n.site,
        ];
        record(o, "node", &f);
        for l in &n.links {
            record(o, "link", &[&l.name, l.status.as_str()]);
        }
    }
    for (k, v) in &s.parameters {
        record(o, "param", &[k, v]);
    }
    for (c, st) in &s.clients {
        record(o, "client", &[c, st.as_str()]);
    }
    for g in &s.groups {
        let (cause, at) = match &g.last {
            Some(t) => (t.cause.as_str(), t.at_unix.to_string()),
            None => ("", String::new()),
        };
        let holder = g.holder.as_deref().unwrap_or("");
        record(
            o,
            "group",
            &[&g.owner, &g.resources, holder, &g.state, cause, &at],
        );
    }
    let flag = |b: bool| if b { "1" } else { "0" };
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for fv in &s.fencing {
        let (last, at) = match &fv.last {
            Some(r) => (if r.ok { "ok" } else { "failed" }, r.at_unix.to_string()),
            None => ("", String::new()),
        };
        let want = match fv.want {
            FenceWant::Settled => "settled",
            FenceWant::Attempt => "attempt",
            FenceWant::RaceDelay { .. } => "race_delay",
            FenceWant::Retry { .. } => "retry",
        };
        record(
            o,
            "fence",
            &[
                &fv.node,
                flag(fv.device.is_some()),
                fv.device.as_deref().unwrap_or(""),
                fv.device_run.as_str(),
                want,
                &opt(fv.want.next_attempt_unix()),
                &fv.attempts.to_string(),
                last,
                &at,
            ],
        );
    }
    let g = &s.guard;
    let ipfail = g.ipfail.unwrap_or_default();
    let giveup = ipfail.giveup;
    record(
        o,
        "guard",
        &[
            flag(g.isolated),
            &g.ping_visible.to_string(),
            &g.ping_total.to_string(),
            flag(g.ipfail.is_some()),
            &opt(ipfail.peer_ping_visible),
            giveup.map_or("", |h| h.hold.as_str()),
            &opt(giveup.map(|h| h.at_unix)),
        ],
    );
}

pub fn decode_response(payload: &[u8]) -> Result<Response, DecodeError> {
    let recs = records(payload)?;
    let Some((line, first)) = recs.first() else {
        return Err(DecodeError::Empty);
    };
    let line = *line;
    let f: Vec<&str> = first.iter().map(String::as_str).collect();
    let single = recs.len() == 1;
    Ok(match f.as_slice() {
        ["snapshot", taken] => {
            let mut s = Snapshot {
                taken_unix: taken.parse().map_err(|_| bad(line, "time"))?,
                ..Snapshot::default()
            };
            let mut guard_seen = false;
            for (line, fields) in recs.iter().skip(1) {
                if fields.first().is_some_and(|t| t == "guard") {
                    if guard_seen {
                        return Err(bad(*line, "second guard"));
                    }
                    guard_seen = true;
                }
                decode_snapshot_record(&mut s, *line, fields)?;
            }
            return Ok(Response::Snapshot(Box::new(s)));
        }
        ["value", v] if single => Response::Value(v.to_string()),
        ["list", items @ ..] if single => {
            Response::List(items.iter().map(|s| s.to_string()).collect())
        }
        ["accepted"] if single => Response::Accepted,
        ["finished", outcome, detail] if single => Response::Finished {
            outcome: Outcome::parse(outcome).ok_or(bad(line, "outcome"))?,
            detail: detail.to_string(),
        },
        ["error", kind, detail] if single => Response::Error {
            kind: ErrorKind::parse(kind).ok_or(bad(line, "error kind"))?,
            detail: detail.to_string(),
        },
        [tag, ..] if single => {
            return Err(DecodeError::UnknownRecord(tag.chars().take(40).collect()));
        }
        _ => return Err(bad(line, "response")),
    })
}

fn decode_snapshot_record(s: &mut Snapshot, line: usize, f: &[String]) -> Result<(), DecodeError> {
    let f: Vec<&str> = f.iter().map(String::as_str).collect();
    match f.as_slice() {
        ["version", v] => s.version = v.to_string(),
        ["local", v] => s.local_node = v.to_string(),
        ["managed", v] => s.managed_by = v.to_string(),
        ["rsc", v] => s.rsc = RscHold::parse(v).ok_or(bad(line, "rsc"))?,
        ["node", name, kind, status, weight, site] => s.nodes.push(NodeView {
            name: name.to_string(),
            kind: NodeType::parse(kind).ok_or(bad(line, "node type"))?,
            status: NodeStatus::parse(status).ok_or(bad(line, "node status"))?,
            weight: weight.parse().map_err(|_| bad(line, "weight"))?,
            site: site.to_string(),
            links: Vec::new(),
        }),
        ["link", name, status] => {
            let node = s.nodes.last_mut().ok_or(bad(line, "link before node"))?;
            node.links.push(LinkView {
                name: name.to_string(),
                status: LinkStatus::parse(status).ok_or(bad(line, "link status"))?,
            });
        }
        ["param", k, v] => s.parameters.push((k.to_string(), v.to_string())),
        ["client", c, st] => s.clients.push((
            c.to_string(),
            ClientStatus::parse(st).ok_or(bad(line, "client status"))?,
        )),
        ["group", owner, resources, holder, state, cause, at] => s.groups.push(GroupView {
            owner: owner.to_string(),
            resources: resources.to_string(),
            holder: (!holder.is_empty()).then(|| holder.to_string()),
            state: state.to_string(),
            last: if at.is_empty() {
                None
            } else {
                Some(Transition {
                    cause: cause.to_string(),
                    at_unix: at.parse().map_err(|_| bad(line, "time"))?,
                })
            },
        }),
        [
            "fence",
            node,
            has_device,
            device,
            run,
            want,
            next,
            attempts,
            last,
            at,
        ] => {
            let num = |v: &str, what| v.parse::<u64>().map_err(|_| bad(line, what));
            let device = match (flag(has_device, line)?, *device) {
                (true, d) => Some(d.to_string()),
                (false, "") => None,
                (false, _) => return Err(bad(line, "fence device")),
            };
            let want = match (*want, *next) {
                ("settled", "") => FenceWant::Settled,
                ("attempt", "") => FenceWant::Attempt,
                ("race_delay", t) => FenceWant::RaceDelay {
                    first_attempt_unix: num(t, "fence next attempt")?,
                },
                ("retry", t) => FenceWant::Retry {
                    next_attempt_unix: num(t, "fence next attempt")?,
                },
                _ => return Err(bad(line, "fence want")),
            };
            s.fencing.push(FenceView {
                node: node.to_string(),
                device,
                device_run: DeviceRun::parse(run).ok_or(bad(line, "fence device run"))?,
                want,
                attempts: attempts.parse().map_err(|_| bad(line, "fence attempts"))?,
                last: match (*last, *at) {
                    ("", "") => None,
                    ("ok" | "failed", at) => Some(FenceResult {
                        ok: *last == "ok",
                        at_unix: num(at, "time")?,
                    }),
                    _ => return Err(bad(line, "fence result")),
                },
            });
        }
        ["guard", isolated, visible, total, ipfail, peer, hold, at] => {
            let num = |v: &str, what| v.parse::<u64>().map_err(|_| bad(line, what));
            let giveup = match (*hold, *at) {
                ("", "") => None,
                (h, t) => Some(IpfailGiveup {
                    hold: match RscHold::parse(h) {
                        Some(RscHold::Transition) | None => return Err(bad(line, "giveup hold")),
                        Some(h) => h,
                    },
                    at_unix: num(t, "time")?,
                }),
            };
            let peer_ping_visible = match *peer {
                "" => None,
                p => Some(num(p, "peer ping count")?),
            };
            s.guard = GuardView {
                isolated: flag(isolated, line)?,
                ping_visible: num(visible, "ping count")?,
                ping_total: num(total, "ping count")?,
                ipfail: match flag(ipfail, line)? {
                    true => Some(IpfailView {
                        peer_ping_visible,
                        giveup,
                    }),
                    false if peer_ping_visible.is_none() && giveup.is_none() => None,
                    false => return Err(bad(line, "ipfail off")),
                },
            };
        }
        [tag, ..] => return Err(DecodeError::UnknownRecord(tag.chars().take(40).collect())),
        [] => return Err(DecodeError::Empty),
    }
    Ok(())
}
