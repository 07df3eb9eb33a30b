//! `cl_status`: heartbeat 3.0.6's query tool, byte-identical in output, stderr texts and exit
//! codes (behaviour spec §8.5, fixtures `cl_status/*.txt`).
//!
//! [`run`] is pure: argv and the daemon's snapshot (or "unreachable") in, stdout, stderr
//! diagnostics and the exit code out. Every answer goes through [`api::answer`], the same
//! function the daemon uses, so the socket and the tool cannot disagree. [`main`] is the thin
//! shell around it: fetch one snapshot over the control socket, print.

use crate::api::{self, DeviceRun, ErrorKind, FenceWant, NodeStatus, Request, Response, Snapshot};

/// Exit codes of cl_status.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_BAD_ARGS: u8 = 11;
pub const EXIT_TIMEOUT: u8 = 12;
pub const EXIT_UNKNOWN: u8 = 13;

/// The help text (stdout, exit 0, for no argument or `-h`).
pub const USAGE: &str = "Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
\tShow the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
\tShow the status of a heartbeat link
hbstatus
\tIndicate if heartbeat is running on the local system.
\tOptions:
\t\t-v\tverbose: also add \"listnodes -v\" output
listnodes [<option>]
\tList the nodes in the cluster.
\tOptions:
\t\t-p\tlist only 'ping' type nodes
\t\t-n\tlist only 'normal' type nodes
\t\t-v\tverbose: also list type and status,
\t\t\tthen add \"listhblinks -v\" output
listhblinks <node-name>
\tList the network interfaces used as hearbeat links.
\tOptions:
\t\t-v\tverbose: list link status as well
nodestatus <node-name>
\tList the node status.
nodeweight <node-name>
\tList the node weight.
nodesite <node-name>
\tList the node site.
nodetype <node-name>
\tList the nodes of a given type.
rscstatus
\tShow the status of cluster resources.
hbparameter -p <parameter-name>
\tRetrieve the value of a cluster parameter.
\tAs for the valid parameter names, please refer to the man page.
";

const SUBCOMMANDS: &[&str] = &[
    "clientstatus",
    "hblinkstatus",
    "hbstatus",
    "listnodes",
    "listhblinks",
    "nodestatus",
    "nodeweight",
    "nodesite",
    "nodetype",
    "rscstatus",
    "hbparameter",
    "summary",
];

/// One line on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diag {
    /// Printed as is (`Error. May be due to incorrect node name`).
    Plain(String),
    /// Logged syslog-style: `Mon DD HH:MM:SS HOST cl_status: [PID]: ERROR: TEXT`.
    Error(String),
}

/// What one invocation produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: Vec<Diag>,
    pub code: u8,
}

impl Output {
    fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }
    fn out(mut self, s: &str) -> Self {
        self.stdout.push_str(s);
        self
    }
    fn error(mut self, s: impl Into<String>) -> Self {
        self.stderr.push(Diag::Error(s.into()));
        self
    }
    fn plain(mut self, s: impl Into<String>) -> Self {
        self.stderr.push(Diag::Plain(s.into()));
        self
    }

    /// The stderr bytes, with `stamp` (`Nov 21 23:22:42`), `host` and `pid` for logged lines.
    pub fn render_stderr(&self, stamp: &str, host: &str, pid: u32) -> String {
        let mut s = String::new();
        for d in &self.stderr {
            match d {
                Diag::Plain(t) => s.push_str(t),
                Diag::Error(t) => {
                    s.push_str(&format!("{stamp} {host} cl_status: [{pid}]: ERROR: {t}"))
                }
            }
            s.push('\n');
        }
        s
    }
}

/// The daemon as the tool found it.
#[derive(Clone, Copy, Debug)]
pub enum Daemon<'a> {
    Running(&'a Snapshot),
    /// The control socket could not be reached (heartbeat's "cannot sign on").
    Unreachable,
    /// The daemon answered but `apiauth` does not allow us.
    Refused,
}

/// Parsed options (heartbeat uses getopt over the whole command line).
#[derive(Default)]
struct Flags {
    m: bool,
    v: bool,
    n: bool,
    p: bool,
    json: bool,
    param: Option<String>,
    positional: Vec<String>,
}

fn parse_flags(sub: &str, args: &[&str]) -> Result<Flags, String> {
    let mut f = Flags::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == "--json" && sub == "summary" {
            f.json = true;
            continue;
        }
        let Some(opts) = a.strip_prefix('-').filter(|o| !o.is_empty()) else {
            f.positional.push(a.to_string());
            continue;
        };
        for (i, c) in opts.char_indices() {
            match c {
                'm' => f.m = true,
                'v' => f.v = true,
                'n' => f.n = true,
                // hbparameter's -p takes the parameter name (attached or next word).
                'p' if sub == "hbparameter" => {
                    let rest = opts.get(i + 1..).unwrap_or("");
                    f.param = if rest.is_empty() {
                        it.next().map(|s| s.to_string())
                    } else {
                        Some(rest.to_string())
                    };
                    if f.param.is_none() {
                        return Err("option requires an argument -- 'p'".into());
                    }
                    break;
                }
                'p' => f.p = true,
                other => return Err(format!("invalid option -- '{other}'")),
            }
        }
    }
    Ok(f)
}

/// Runs `cl_status ARGS...` (program name excluded) against `daemon`.
pub fn run(args: &[&str], daemon: Daemon<'_>) -> Output {
    let Some((&sub, rest)) = args.split_first() else {
        return Output::default().out(USAGE);
    };
    if sub == "-h" || sub == "--help" {
        return Output::default().out(USAGE);
    }
    if !SUBCOMMANDS.contains(&sub) {
        return Output::default()
            .error(format!("{sub}: invalid sub-command."))
            .code(EXIT_BAD_ARGS);
    }
    let flags = match parse_flags(sub, rest) {
        Ok(f) => f,
        Err(e) => {
            return Output::default()
                .plain(format!("cl_status: {e}"))
                .plain(USAGE.trim_end())
                .code(EXIT_BAD_ARGS);
        }
    };
    let needed = match sub {
        "nodestatus" | "nodetype" | "nodeweight" | "nodesite" | "listhblinks" => 1,
        "hblinkstatus" | "clientstatus" => 2,
        _ => 0,
    };
    if flags.positional.len() < needed {
        return Output::default()
            .plain(USAGE.trim_end())
            .code(EXIT_BAD_ARGS);
    }
    if sub == "hbparameter" && flags.param.is_none() {
        return Output::default()
            .error("parameter name required")
            .code(EXIT_BAD_ARGS);
    }
    let snap = match daemon {
        Daemon::Running(s) => s,
        Daemon::Unreachable if sub == "hbstatus" => {
            return Output::default()
                .out("Heartbeat is stopped on this machine.\n")
                .code(EXIT_FAIL);
        }
        Daemon::Unreachable => {
            return Output::default()
                .error("Cannot signon with heartbeat")
                .error("REASON: hb_api_signon: Can't initiate connection to heartbeat")
                .code(EXIT_FAIL);
        }
        // §8.5: a running daemon that refuses the connection.
        Daemon::Refused if sub == "hbstatus" => {
            return Output::default().out(
                "Heartbeat is apparently running on this machine, but refuses my connection\n",
            );
        }
        Daemon::Refused => {
            return Output::default()
                .error("Cannot signon with heartbeat")
                .error("REASON: not allowed by apiauth anon")
                .code(EXIT_FAIL);
        }
    };
    query(sub, &flags, snap)
}

fn pos(f: &Flags, i: usize) -> String {
    f.positional.get(i).cloned().unwrap_or_default()
}

fn ask(snap: &Snapshot, req: Request) -> Result<Response, ErrorKind> {
    match api::answer(snap, &req) {
        Response::Error { kind, .. } => Err(kind),
        r => Ok(r),
    }
}

fn value(snap: &Snapshot, req: Request) -> Result<String, ErrorKind> {
    match ask(snap, req)? {
        Response::Value(v) => Ok(v),
        _ => Err(ErrorKind::BadRequest),
    }
}

fn list(snap: &Snapshot, req: Request) -> Result<Vec<String>, ErrorKind> {
    match ask(snap, req)? {
        Response::List(v) => Ok(v),
        _ => Err(ErrorKind::BadRequest),
    }
}

/// `listnodes -v` body: for each node a blank line, its line, its links.
fn nodes_verbose(snap: &Snapshot, normal: bool, ping: bool) -> String {
    let mut s = String::new();
    for n in &snap.nodes {
        let wanted = match n.kind {
            api::NodeType::Normal => normal,
            api::NodeType::Ping => ping,
        };
        if !wanted {
            continue;
        }
        s.push_str(&format!(
            "\n{}\t{}\t(nodetype: {})\n",
            n.name,
            n.status.as_str(),
            n.kind.as_str()
        ));
        for l in &n.links {
            s.push_str(&format!("\t{}\t{}\n", l.name, l.status.as_str()));
        }
    }
    s
}

const BAD_NODE: &str = "Error. May be due to incorrect node name";

fn query(sub: &str, f: &Flags, snap: &Snapshot) -> Output {
    let o = Output::default();
    match sub {
        "hbstatus" => {
            if !f.v {
                return o.out("Heartbeat is running on this machine.\n");
            }
            let head = if f.m {
                format!(
                    "Heartbeat version {}\nResources controlled by \"{}\"\n",
                    snap.version, snap.managed_by
                )
            } else {
                format!(
                    "version:\t{}\nmanaged by:\t\"{}\"\n",
                    snap.version, snap.managed_by
                )
            };
            o.out(&head).out(&nodes_verbose(snap, true, true))
        }
        "listnodes" => {
            let (normal, ping) = if f.n == f.p { (true, true) } else { (f.n, f.p) };
            let o = if f.m {
                o.out("The nodes are as follow:\n")
            } else {
                o
            };
            if f.v {
                return o.out(&nodes_verbose(snap, normal, ping));
            }
            let mut s = String::new();
            for n in &snap.nodes {
                if matches!(n.kind, api::NodeType::Normal) && normal
                    || matches!(n.kind, api::NodeType::Ping) && ping
                {
                    s.push_str(&n.name);
                    s.push('\n');
                }
            }
            o.out(&s)
        }
        "nodestatus" => {
            let node = pos(f, 0);
            match value(snap, Request::NodeStatus(node.clone())) {
                Ok(st) => {
                    let ok = matches!(
                        NodeStatus::parse(&st),
                        Some(NodeStatus::Active | NodeStatus::Up | NodeStatus::Ping)
                    );
                    let line = if f.m {
                        format!("The cluster node {node} is {st}\n")
                    } else {
                        format!("{st}\n")
                    };
                    o.out(&line).code(if ok { EXIT_OK } else { EXIT_FAIL })
                }
                Err(_) => o.plain(BAD_NODE).code(EXIT_BAD_ARGS),
            }
        }
        "nodetype" => {
            let node = pos(f, 0);
            match value(snap, Request::NodeType(node.clone())) {
                Ok(t) if f.m => o.out(&format!("The node {node}'s type: {t}\n")),
                Ok(t) => o.out(&format!("{t}\n")),
                Err(_) => o.plain(BAD_NODE).code(EXIT_BAD_ARGS),
            }
        }
        "nodeweight" => match value(snap, Request::NodeWeight(pos(f, 0))) {
            Ok(w) => o.out(&format!("{w}\n")),
            Err(_) => o
                .plain("Error. Maybe due to incorrect node name.")
                .code(EXIT_BAD_ARGS),
        },
        "nodesite" => match value(snap, Request::NodeSite(pos(f, 0))) {
            Ok(s) => o.out(&format!("{s}\n")),
            Err(_) => o.plain(BAD_NODE).code(EXIT_BAD_ARGS),
        },
        "listhblinks" => {
            let node = pos(f, 0);
            let Ok(links) = list(snap, Request::IfList(node.clone())) else {
                return o
                    .error("Cannot start heartbeat link interface walk.")
                    .error("REASON: EINVAL")
                    .code(EXIT_UNKNOWN);
            };
            let mut s = String::new();
            if f.m {
                s.push_str("\tthis node has the following heartbeat links:\n");
            }
            for l in links {
                if f.v {
                    let st = value(
                        snap,
                        Request::IfStatus {
                            node: node.clone(),
                            link: l.clone(),
                        },
                    )
                    .unwrap_or_else(|_| "dead".into());
                    s.push_str(&format!("\t{l}\t{st}\n"));
                } else {
                    s.push_str(&format!("\t{l}\n"));
                }
            }
            o.out(&s)
        }
        "hblinkstatus" => {
            let (node, link) = (pos(f, 0), pos(f, 1));
            let req = Request::IfStatus {
                node: node.clone(),
                link: link.clone(),
            };
            match value(snap, req) {
                Ok(st) => {
                    let line = if f.m {
                        format!("The node {node}'s heartbeat link {link} is {st}\n")
                    } else {
                        format!("{st}\n")
                    };
                    o.out(&line)
                        .code(if st == "up" { EXIT_OK } else { EXIT_FAIL })
                }
                Err(_) => o
                    .error("Cannot get heartbeat link status")
                    .error("REASON: ")
                    .code(EXIT_UNKNOWN),
            }
        }
        "clientstatus" => {
            let (node, client) = (pos(f, 0), pos(f, 1));
            // heartbeat's code default; the timeout only matters for remote nodes.
            let timeout_ms = f
                .positional
                .get(2)
                .and_then(|t| t.parse().ok())
                .unwrap_or(500);
            let req = Request::ClientStatus {
                node,
                client: client.clone(),
                timeout_ms,
            };
            match value(snap, req) {
                Ok(st) => {
                    let code = match api::ClientStatus::parse(&st) {
                        Some(api::ClientStatus::Online) => 0,
                        Some(api::ClientStatus::Join) => 2,
                        Some(api::ClientStatus::Leave) => 3,
                        _ => 1,
                    };
                    o.out(&format!("{st}\n")).code(code)
                }
                Err(_) => o
                    .error(format!("Cannot get heartbeat client {client}'s status"))
                    .error("REASON: No timely response.")
                    .code(EXIT_UNKNOWN),
            }
        }
        "rscstatus" => {
            let st = snap.rsc.as_str();
            if f.m {
                o.out(&format!("This node is holding {st} resources.\n"))
            } else {
                o.out(&format!("{st}\n"))
            }
        }
        "hbparameter" => {
            let name = f.param.clone().unwrap_or_default();
            match value(snap, Request::Parameter(name.clone())) {
                Ok(v) if f.m => o.out(&format!("Heartbeat parameter {name}'s value: {v}\n")),
                Ok(v) => o.out(&format!("{v}\n")),
                Err(_) => o
                    .error(format!("Cannot get parameter {name}'s value"))
                    .error("REASON: ")
                    .code(EXIT_FAIL),
            }
        }
        "summary" => {
            if f.json {
                o.out(&api::json::render(snap)).out("\n")
            } else {
                o.out(&summary(snap))
            }
        }
        _ => o
            .error(format!("{sub}: invalid sub-command."))
            .code(EXIT_BAD_ARGS),
    }
}

/// `cl_status summary` (our addition): nodes, links, groups with holder, state and the last
/// transition, fencing, and isolation when ping nodes, isolation or ipfail make it matter
/// (so a plain two-node cluster's summary is as before), for humans.
pub fn summary(snap: &Snapshot) -> String {
    let mut s = format!(
        "heartbeat {} on {}: holding {} resources\n\nNodes:\n",
        snap.version,
        snap.local_node,
        snap.rsc.as_str()
    );
    for n in &snap.nodes {
        s.push_str(&format!(
            "  {}\t{}\t{}\n",
            n.name,
            n.kind.as_str(),
            n.status.as_str()
        ));
        for l in &n.links {
            s.push_str(&format!("    link {}\t{}\n", l.name, l.status.as_str()));
        }
    }
    s.push_str("\nResource groups:\n");
    if snap.groups.is_empty() {
        s.push_str("  (none)\n");
    }
    for g in &snap.groups {
        s.push_str(&format!(
            "  {} {}\n    holder: {}\tstate: {}\n",
            g.owner,
            g.resources,
            g.holder.as_deref().unwrap_or("(nobody)"),
            g.state
        ));
        if let Some(t) = &g.last {
            s.push_str(&format!(
                "    last transition: {} at {} (unix time)\n",
                t.cause, t.at_unix
            ));
        }
    }
    if !snap.fencing.is_empty() {
        s.push_str("\nFencing:\n");
    }
    for f in &snap.fencing {
        s.push_str(&fence_line(f));
        if let Some(r) = &f.last {
            s.push_str(&format!(
                "    last result: {} at {} (unix time)\n",
                if r.ok { "reset" } else { "failed" },
                r.at_unix
            ));
        }
    }
    if !snap.guard.is_quiet() {
        s.push_str(&guard_lines(&snap.guard));
    }
    s
}

/// One node's fencing: what runs now (the edge) and what the core waits for.
fn fence_line(f: &api::FenceView) -> String {
    let state = match (f.want, f.device_run) {
        (_, DeviceRun::WaitingForOperator) => {
            format!("waiting for the operator: meatclient -c {}", f.node)
        }
        (_, DeviceRun::Running) => "attempt running".to_string(),
        (FenceWant::Attempt, DeviceRun::Idle) => "attempt starting".to_string(),
        (FenceWant::RaceDelay { first_attempt_unix }, DeviceRun::Idle) => format!(
            "waiting out the fence race delay, first attempt at {first_attempt_unix} (unix time)"
        ),
        (FenceWant::Retry { next_attempt_unix }, DeviceRun::Idle) => {
            format!("failed, next attempt at {next_attempt_unix} (unix time)")
        }
        (FenceWant::Settled, DeviceRun::Idle) => "idle".to_string(),
    };
    let progress = if f.want.in_progress() {
        "in progress: "
    } else if f.device_run != DeviceRun::Idle {
        // The core called the fence off while the device still runs.
        "called off, "
    } else {
        ""
    };
    let device = f
        .device
        .as_deref()
        .map(|d| format!(" with {d}"))
        .unwrap_or_default();
    format!(
        "  {}{device}: {progress}{state}, {} attempt(s) since it was declared dead\n",
        f.node, f.attempts
    )
}

/// Isolation and built-in ipfail, shown when ping nodes, isolation or ipfail make it matter.
fn guard_lines(g: &api::GuardView) -> String {
    let mut s = String::from("\nIsolation:\n");
    if g.isolated {
        s.push_str(
            "  ISOLATED: this node sees neither its peer nor any ping node (or, with three or \
             more nodes, no majority); it holds no resources and takes nothing over\n",
        );
    } else {
        s.push_str("  not isolated\n");
    }
    s.push_str(&format!(
        "  ping nodes visible: {}/{}\n",
        g.ping_visible, g.ping_total
    ));
    match &g.ipfail {
        None => {}
        Some(i) => {
            let peer = i
                .peer_ping_visible
                .map_or("not reported yet".to_string(), |n| n.to_string());
            s.push_str(&format!("  ipfail: on, peer sees ping nodes: {peer}\n"));
            if let Some(h) = &i.giveup {
                s.push_str(&format!(
                    "  ipfail: handing over {} resources to the peer at {} (unix time)\n",
                    h.hold.as_str(),
                    h.at_unix
                ));
            }
        }
    }
    s
}

/// Entry point when invoked as `cl_status`: one snapshot over the control socket (5 s, as
/// heartbeat's alarm), then [`run`].
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    use crate::sys::api_socket;
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let path = api_socket::client_path();
    let timeout = std::time::Duration::from_secs(5);
    let fetched = match refs.first() {
        // Help and bad sub-commands never need the daemon.
        Some(sub) if SUBCOMMANDS.contains(sub) => {
            Some(api_socket::request(&path, &Request::Status, timeout))
        }
        _ => None,
    };
    let mut refused = false;
    let snap = match fetched {
        Some(Ok(Response::Snapshot(s))) => Some(s),
        Some(Ok(Response::Error {
            kind: ErrorKind::Refused,
            ..
        })) => {
            refused = true;
            None
        }
        Some(Err(api_socket::ClientError::Timeout)) => {
            return std::process::ExitCode::from(EXIT_TIMEOUT);
        }
        _ => None,
    };
    let daemon = match &snap {
        Some(s) => Daemon::Running(s),
        None if refused => Daemon::Refused,
        None => Daemon::Unreachable,
    };
    let out = run(&refs, daemon);
    print!("{}", out.stdout);
    let stderr = out.render_stderr(
        &api_socket::stamp_now(),
        &api_socket::hostname(),
        std::process::id(),
    );
    eprint!("{stderr}");
    std::process::ExitCode::from(out.code)
}
