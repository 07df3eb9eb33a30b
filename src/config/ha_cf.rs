//! `ha.cf` (behaviour spec §1.1–1.4): text → [`HaCf`], the directives as written, each with
//! the position that set it. Pure: checks that need the machine (interfaces, devices, hosts,
//! users) are collected as [`HostCheck`]s and performed by `resolve` with injected facts.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{take_till, take_while};

use super::directives::{self, Arity, Directive, Kind};
use super::model::{
    ApiAuth, AutoFailback, Baud, ClientChild, FenceAgent, FenceValue, NodeName, PingNode, Secret,
    StonithDirective,
};
use super::span::{self, Diagnostic, Pos, found};

/// heartbeat's node table holds normal and ping nodes together.
pub const MAX_NODES: usize = 100;
/// heartbeat's media table.
pub const MAX_MEDIA: usize = 64;
/// `respawn` user names of 64 characters or more are refused.
const MAX_USER_LEN: usize = 63;

/// A value and where it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

/// A medium as declared. UDP media carry the `udpport` in effect when their plugin latched
/// it (`None`: the default, resolved later); serial carries the `baud` in effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediumDecl {
    Bcast {
        iface: String,
        port: Option<u16>,
    },
    Ucast {
        iface: String,
        peer: String,
        port: Option<u16>,
    },
    Mcast {
        iface: String,
        group: Ipv4Addr,
        port: u16,
        ttl: u8,
        loop_back: bool,
    },
    Ucast6 {
        iface: String,
        peer: Ipv6Addr,
        port: Option<u16>,
    },
    Mcast6 {
        iface: String,
        group: Ipv6Addr,
        port: u16,
        hops: u8,
        loop_back: bool,
    },
    Serial {
        device: String,
        baud: Option<Baud>,
    },
}

/// Something only the machine can answer, asked after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostCheck {
    Interface(String),
    SerialDevice(String),
    /// A host name that must resolve (ucast peer, ping host). IP literals are not checked.
    Host(String),
    User(String),
    Executable(String),
    /// A file that must exist (stonith config file).
    File(String),
    Directory(String),
}

/// `ha.cf` as written: every directive applied in file order, with positions.
#[derive(Clone, Debug, Default)]
pub struct HaCf {
    pub path: PathBuf,
    /// Source lines (index = line number - 1), for diagnostics raised after parsing.
    pub lines: Vec<String>,
    /// The last applied raw value of each token directive, and where.
    pub values: BTreeMap<&'static str, Located<String>>,
    pub nodes: Vec<Located<NodeName>>,
    pub ping_nodes: Vec<Located<PingNode>>,
    pub media: Vec<Located<MediumDecl>>,
    pub stonith: Vec<Located<StonithDirective>>,
    pub fence_agents: Vec<Located<FenceAgent>>,
    pub clients: Vec<Located<ClientChild>>,
    pub apiauth: Vec<Located<ApiAuth>>,
    pub env: Vec<Located<(String, String)>>,
    /// The effective auto_failback mode set by `auto_failback` / `nice_failback` lines.
    pub auto_failback: Option<Located<AutoFailback>>,
    pub checks: Vec<Located<HostCheck>>,
    /// Parse diagnostics (errors and warnings) in file order.
    pub diags: Vec<Diagnostic>,
    // Order-dependent state (§1.1: udpport, baud, pacemaker).
    udpport_now: Option<u16>,
    bcast_port: Option<Option<u16>>,
    ucast_port: Option<Option<u16>>,
    ucast6_port: Option<Option<u16>>,
    auto_failback_bool_seen: bool,
    pacemaker_seen: bool,
}

impl HaCf {
    /// The source line `pos` points at (empty if out of range).
    pub fn line(&self, pos: Pos) -> &str {
        pos.line
            .checked_sub(1)
            .and_then(|i| self.lines.get(i))
            .map_or("", String::as_str)
    }

    /// A diagnostic at `pos` with its source line attached.
    pub fn error_at(&self, pos: Pos, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.path, pos, msg).with_source(self.line(pos))
    }
    pub fn warning_at(&self, pos: Pos, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(&self.path, pos, msg).with_source(self.line(pos))
    }

    /// The recorded raw value of `name`, if the file set it.
    pub fn value(&self, name: &str) -> Option<&Located<String>> {
        self.values.get(name)
    }

    pub fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }
}

/// Whitespace as heartbeat's ha.cf reader sees it (CR and LF end the line before this).
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c' | '\x0b')
}

/// Delimiters between values of a token directive.
fn is_delim(c: char) -> bool {
    c == ',' || is_ws(c)
}

/// The directive name and the rest of the line after the delimiters that follow it.
fn name_and_rest(body: &str) -> IResult<&str, &str> {
    let (rest, name) = take_till(is_ws).parse(body)?;
    let (rest, _) = take_while(is_delim).parse(rest)?;
    Ok((rest, name))
}

/// Parses `ha.cf`. Never fails as a whole: every problem is a diagnostic in `diags`.
pub fn parse(text: &str, path: &Path) -> HaCf {
    let mut cf = HaCf {
        path: path.to_path_buf(),
        ..HaCf::default()
    };
    for line in span::lines(text) {
        cf.lines.push(line.text.to_string());
        if span::saturated(&cf.diags) {
            break;
        }
        if let Some(d) = span::check_line(path, &line, line.text) {
            span::push_capped(&mut cf.diags, d);
            continue;
        }
        // §1.1: cut at the first CR, then at the first `#`; skip leading whitespace.
        let text = line.text.split('\r').next().unwrap_or("");
        let text = text.split('#').next().unwrap_or("");
        let body = text.trim_start_matches(is_ws);
        if body.is_empty() {
            continue;
        }
        let Ok((rest, name)) = name_and_rest(body) else {
            continue;
        };
        let rest = rest.trim_end_matches(is_delim);
        cf.directive(line.number, line.text, name, rest);
    }
    cf
}

impl HaCf {
    fn err(&mut self, pos: Pos, msg: impl Into<String>) {
        if !span::saturated(&self.diags) {
            let d = self.error_at(pos, msg);
            span::push_capped(&mut self.diags, d);
        }
    }
    fn warn(&mut self, pos: Pos, msg: impl Into<String>) {
        if !span::saturated(&self.diags) {
            let d = self.warning_at(pos, msg);
            span::push_capped(&mut self.diags, d);
        }
    }
    fn push_error(&mut self, d: Diagnostic) {
        span::push_capped(&mut self.diags, d);
    }

    fn directive(&mut self, n: usize, text: &str, name: &str, rest: &str) {
        let name_pos = Pos::of(n, text, name);
        let Some(dir) = directives::lookup(name) else {
            let mut d = self
                .error_at(
                    name_pos,
                    format!("expected a directive name, found {}", found(name)),
                )
                .with_note(format!("heartbeat: Illegal directive [{name}] in ha.cf"));
            if let Some(s) = directives::suggest(name) {
                d = d.with_note(format!(
                    "directive names are case-sensitive: did you mean `{}`?",
                    s.name
                ));
            }
            self.push_error(d);
            return;
        };
        if rest.is_empty() {
            self.warn(
                name_pos,
                format!(
                    "`{}` has no value and is ignored (as heartbeat does)",
                    dir.name
                ),
            );
            return;
        }
        let dir = if dir.name == "udp" {
            self.warn(name_pos, "directive `udp` is obsolete; it means `bcast`");
            directives::lookup("bcast").unwrap_or(dir)
        } else {
            dir
        };
        match dir.arity {
            Arity::WholeLine => self.whole_line(dir, n, text, rest),
            Arity::Tokens => {
                // Columns by a running cursor: O(line) per line however many tokens.
                let base = text.as_ptr() as usize;
                let (mut at, mut col) = (0usize, 1usize);
                for tok in rest.split(is_delim).filter(|t| !t.is_empty()) {
                    let start = (tok.as_ptr() as usize).saturating_sub(base);
                    col += text.get(at..start).map_or(0, |s| s.chars().count());
                    at = start;
                    let pos = Pos::at(n, col, tok.chars().count().max(1));
                    self.token(dir, pos, tok);
                    if span::saturated(&self.diags) {
                        return;
                    }
                }
            }
        }
    }

    /// Checks one token against its directive's kind; `None` (with an error) if invalid.
    fn check_kind(&mut self, dir: &Directive, pos: Pos, tok: &str) -> bool {
        let ok = match dir.kind {
            Kind::Time => directives::parse_time_ms(tok).is_some(),
            Kind::Bool => directives::parse_bool(tok).is_some(),
            Kind::Int { min, max } => parse_int(tok).is_some_and(|v| (min..=max).contains(&v)),
            Kind::Choice { words, nocase } => words.iter().any(|w| {
                if nocase {
                    w.eq_ignore_ascii_case(tok)
                } else {
                    *w == tok
                }
            }),
            Kind::Word | Kind::Line => true,
        };
        if !ok {
            let expected = match dir.kind {
                Kind::Time => "a time (e.g. 2, 1.5, 500ms, 100us)".to_string(),
                Kind::Bool => "a boolean (on/off, yes/no, true/false, y/n, 1/0)".to_string(),
                Kind::Int { min, max } => format!("an integer from {min} to {max}"),
                Kind::Choice { words, nocase } => {
                    let list = words
                        .iter()
                        .map(|w| format!("`{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if nocase {
                        format!("one of {list} (any case)")
                    } else {
                        format!("one of {list}")
                    }
                }
                Kind::Word | Kind::Line => "a value".to_string(),
            };
            self.err(
                pos,
                format!(
                    "expected {expected} for `{}`, found {}",
                    dir.name,
                    found(tok)
                ),
            );
        }
        ok
    }

    fn record(&mut self, dir: &Directive, pos: Pos, tok: &str) {
        self.values.insert(
            dir.name,
            Located {
                value: tok.to_string(),
                pos,
            },
        );
    }

    /// Adds a medium and the machine checks it needs (only if it is accepted).
    fn add_medium(&mut self, pos: Pos, m: MediumDecl, checks: Vec<Located<HostCheck>>) {
        if self.media.len() >= MAX_MEDIA {
            self.err(
                pos,
                format!("expected at most {MAX_MEDIA} media, found one more"),
            );
            return;
        }
        self.checks.extend(checks);
        self.media.push(Located { value: m, pos });
    }

    fn check(&mut self, pos: Pos, c: HostCheck) {
        self.checks.push(Located { value: c, pos });
    }

    fn node_slots_left(&mut self, pos: Pos) -> bool {
        if self.nodes.len() + self.ping_nodes.len() >= MAX_NODES {
            self.err(
                pos,
                format!("expected at most {MAX_NODES} nodes and ping nodes, found one more"),
            );
            return false;
        }
        true
    }

    /// The udpport a UDP plugin latches at its first medium.
    fn latch(slot: &mut Option<Option<u16>>, now: Option<u16>) -> Option<u16> {
        *slot.get_or_insert(now)
    }

    fn token(&mut self, dir: &'static Directive, pos: Pos, tok: &str) {
        if !self.check_kind(dir, pos, tok) {
            return;
        }
        match dir.name {
            "keepalive" | "warntime" | "conn_logd_time"
                if directives::parse_time_ms(tok) == Some(0) =>
            {
                self.err(
                    pos,
                    format!(
                        "expected a time greater than 0 for `{}`, found {}",
                        dir.name,
                        found(tok)
                    ),
                );
                return;
            }
            "node" if self.node_slots_left(pos) => {
                let name = NodeName::new(tok);
                if let Some(prev) = self.nodes.iter().find(|n| n.value == name) {
                    let line = prev.pos.line;
                    self.warn(
                            pos,
                            format!("node `{name}` is already declared on line {line}; heartbeat would wait for a second node of that name and declare it dead"),
                        );
                }
                self.nodes.push(Located { value: name, pos });
            }
            "bcast" => {
                let port = Self::latch(&mut self.bcast_port, self.udpport_now);
                self.add_medium(
                    pos,
                    MediumDecl::Bcast {
                        iface: tok.to_string(),
                        port,
                    },
                    vec![loc(pos, HostCheck::Interface(tok.to_string()))],
                );
            }
            "serial" => {
                let baud = self
                    .values
                    .get("baud")
                    .and_then(|b| parse_int(&b.value))
                    .and_then(|r| u32::try_from(r).ok())
                    .and_then(Baud::from_rate);
                self.add_medium(
                    pos,
                    MediumDecl::Serial {
                        device: tok.to_string(),
                        baud,
                    },
                    vec![loc(pos, HostCheck::SerialDevice(tok.to_string()))],
                );
            }
            "ping" | "ping6" => {
                let literal = if dir.name == "ping6" {
                    tok.parse::<Ipv6Addr>().is_ok()
                } else {
                    tok.parse::<Ipv4Addr>().is_ok()
                };
                if self.node_slots_left(pos) {
                    if !literal {
                        self.check(pos, HostCheck::Host(tok.to_string()));
                    }
                    self.ping_nodes.push(Located {
                        value: PingNode {
                            name: tok.to_string(),
                            hosts: vec![tok.to_string()],
                            is_group: false,
                        },
                        pos,
                    });
                }
            }
            "baud" => {
                if let Some(prev) = self.values.get("baud") {
                    let line = prev.pos.line;
                    self.err(
                        pos,
                        format!(
                            "expected one `baud` line, found a second one (first on line {line})"
                        ),
                    );
                    return;
                }
                if !self.media.is_empty() {
                    self.warn(
                        pos,
                        "`baud` after a medium: serial lines above it keep the default 19200",
                    );
                }
            }
            "udpport" => {
                if self.bcast_port.is_some() || self.ucast_port.is_some() {
                    self.warn(
                        pos,
                        "`udpport` after a bcast/ucast line does not apply to those media (heartbeat latches the port at the first one)",
                    );
                }
                self.udpport_now = parse_int(tok).and_then(|p| u16::try_from(p).ok());
            }
            "watchdog" => {
                if let Some(prev) = self.values.get("watchdog") {
                    let line = prev.pos.line;
                    self.err(
                        pos,
                        format!("expected one `watchdog` line, found a second one (first on line {line})"),
                    );
                    return;
                }
            }
            "auto_failback" => {
                let mode = match directives::parse_bool(tok) {
                    Some(true) => AutoFailback::On,
                    Some(false) => AutoFailback::Off,
                    None => AutoFailback::Legacy,
                };
                if mode != AutoFailback::Legacy {
                    self.auto_failback_bool_seen = true;
                }
                self.auto_failback = Some(Located { value: mode, pos });
            }
            "nice_failback" => {
                // §1.4: the value is ignored; what came before decides.
                if self.auto_failback_bool_seen {
                    self.warn(
                        pos,
                        "`nice_failback` is obsolete; after an auto_failback on/off line it means `auto_failback off`",
                    );
                    self.auto_failback = Some(Located {
                        value: AutoFailback::Off,
                        pos,
                    });
                } else {
                    self.warn(
                        pos,
                        "`nice_failback` is obsolete and is interpreted as `auto_failback legacy`; use `auto_failback on`",
                    );
                    self.auto_failback = Some(Located {
                        value: AutoFailback::Legacy,
                        pos,
                    });
                }
                return;
            }
            "pacemaker" | "crm" => {
                if self.pacemaker_seen {
                    self.err(pos, "expected one pacemaker/crm line, found a second one");
                    return;
                }
                self.pacemaker_seen = true;
                if directives::parse_bool(tok) != Some(false) {
                    self.err(
                        pos,
                        format!("expected `pacemaker off` (heartbeat-rs implements v1 resource management only), found {}", found(tok)),
                    );
                    return;
                }
                let pm = directives::lookup("pacemaker").unwrap_or(dir);
                self.record(pm, pos, tok);
                return;
            }
            "crm_daemon_dir" | "crmd_spawns_pengine" if self.pacemaker_seen => {
                self.err(
                    pos,
                    format!(
                        "expected `{}` before the pacemaker directive, found it after",
                        dir.name
                    ),
                );
                return;
            }
            "env" => match tok.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    self.env.push(Located {
                        value: (name.to_string(), value.to_string()),
                        pos,
                    });
                }
                _ => {
                    self.err(
                        pos,
                        format!("expected NAME=VALUE for `env`, found {}", found(tok)),
                    );
                    return;
                }
            },
            "quorum_server" => {
                // Quirk: the quorum server name also replaces the cluster name.
                let cluster = directives::lookup("cluster").unwrap_or(dir);
                self.record(cluster, pos, tok);
            }
            "logfacility" if tok == "kern" => {
                self.warn(
                    pos,
                    "`logfacility kern` disables syslog (its number is 0, which heartbeat reads as none)",
                );
            }
            "coreroot" => self.check(pos, HostCheck::Directory(tok.to_string())),
            _ => {}
        }
        if dir.recorded {
            self.record(dir, pos, tok);
        }
    }

    fn whole_line(&mut self, dir: &'static Directive, n: usize, text: &str, rest: &str) {
        let fields: Vec<&str> = rest.split(is_ws).filter(|f| !f.is_empty()).collect();
        let at = |f: &str| Pos::of(n, text, f);
        let missing = |this: &mut HaCf, what: &str, after: &str| {
            let p = Pos::of(n, text, after);
            this.err(
                Pos::at(n, p.col + p.width, 1),
                format!("expected {what} after `{after}`, found end of line"),
            );
        };
        match dir.name {
            "ucast" | "ucast6" => {
                let [dev, rest @ ..] = fields.as_slice() else {
                    return;
                };
                let Some(peer) = rest.first() else {
                    missing(self, "a peer address or host name", dev);
                    return;
                };
                let mut checks = vec![loc(at(dev), HostCheck::Interface(dev.to_string()))];
                let decl = if dir.name == "ucast" {
                    if peer.parse::<Ipv4Addr>().is_err() {
                        checks.push(loc(at(peer), HostCheck::Host(peer.to_string())));
                    }
                    let port = Self::latch(&mut self.ucast_port, self.udpport_now);
                    MediumDecl::Ucast {
                        iface: dev.to_string(),
                        peer: peer.to_string(),
                        port,
                    }
                } else {
                    let Ok(addr) = peer.parse::<Ipv6Addr>() else {
                        self.err(
                            at(peer),
                            format!("expected an IPv6 address, found {}", found(peer)),
                        );
                        return;
                    };
                    let port = Self::latch(&mut self.ucast6_port, self.udpport_now);
                    MediumDecl::Ucast6 {
                        iface: dev.to_string(),
                        peer: addr,
                        port,
                    }
                };
                self.add_medium(at(dev), decl, checks);
            }
            "mcast" | "mcast6" => {
                let v6 = dir.name == "mcast6";
                let names = [
                    "a device",
                    "a multicast group",
                    "a port",
                    if v6 { "a hop count" } else { "a TTL" },
                    "a loop flag (0 or 1)",
                ];
                let [dev, group, port, ttl, lp, ..] = *fields.as_slice() else {
                    let i = fields.len();
                    if let (Some(prev), Some(what)) = (fields.last(), names.get(i)) {
                        missing(self, what, prev);
                    }
                    return;
                };
                let mut ok = true;
                let group4 = group.parse::<Ipv4Addr>().ok();
                let group6 = group.parse::<Ipv6Addr>().ok();
                if (!v6 && group4.is_none()) || (v6 && group6.is_none()) {
                    let what = if v6 {
                        "an IPv6 multicast group"
                    } else {
                        "an IPv4 multicast group"
                    };
                    self.err(
                        at(group),
                        format!("expected {what}, found {}", found(group)),
                    );
                    ok = false;
                }
                let port_v = parse_int(port).filter(|p| (1..=65535).contains(p));
                if port_v.is_none() {
                    self.err(
                        at(port),
                        format!("expected a port from 1 to 65535, found {}", found(port)),
                    );
                    ok = false;
                }
                let max_ttl = if v6 { 255 } else { 4 };
                let ttl_v = parse_int(ttl).filter(|t| *t <= max_ttl);
                if ttl_v.is_none() {
                    let what = if v6 { "hop count" } else { "TTL" };
                    self.err(
                        at(ttl),
                        format!(
                            "expected a {what} from 0 to {max_ttl}, found {}",
                            found(ttl)
                        ),
                    );
                    ok = false;
                }
                let loop_v = match lp {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => None,
                };
                if loop_v.is_none() {
                    self.err(
                        at(lp),
                        format!("expected a loop flag 0 or 1, found {}", found(lp)),
                    );
                    ok = false;
                }
                if !ok {
                    return;
                }
                let checks = vec![loc(at(dev), HostCheck::Interface(dev.to_string()))];
                let port = port_v.and_then(|p| u16::try_from(p).ok()).unwrap_or(694);
                let hops = ttl_v.and_then(|t| u8::try_from(t).ok()).unwrap_or(1);
                let loop_back = loop_v.unwrap_or(false);
                let decl = match (group4, group6) {
                    (Some(g), _) if !v6 => MediumDecl::Mcast {
                        iface: dev.to_string(),
                        group: g,
                        port,
                        ttl: hops,
                        loop_back,
                    },
                    (_, Some(g)) => MediumDecl::Mcast6 {
                        iface: dev.to_string(),
                        group: g,
                        port,
                        hops,
                        loop_back,
                    },
                    _ => return,
                };
                self.add_medium(at(dev), decl, checks);
            }
            "ping_group" => {
                let [name, hosts @ ..] = fields.as_slice() else {
                    return;
                };
                if hosts.is_empty() {
                    missing(self, "at least one host", name);
                    return;
                }
                if self.node_slots_left(at(name)) {
                    for h in hosts {
                        if h.parse::<Ipv4Addr>().is_err() {
                            self.check(at(h), HostCheck::Host(h.to_string()));
                        }
                    }
                    self.ping_nodes.push(Located {
                        value: PingNode {
                            name: name.to_string(),
                            hosts: hosts.iter().map(|h| h.to_string()).collect(),
                            is_group: true,
                        },
                        pos: at(name),
                    });
                }
            }
            "stonith" => {
                let [ty, rest @ ..] = fields.as_slice() else {
                    return;
                };
                let Some(file) = rest.first() else {
                    missing(self, "a STONITH configuration file", ty);
                    return;
                };
                self.check(at(file), HostCheck::File(file.to_string()));
                self.stonith.push(Located {
                    value: StonithDirective::Stonith {
                        device_type: ty.to_string(),
                        config_file: PathBuf::from(file),
                    },
                    pos: at(ty),
                });
            }
            "stonith_host" => {
                let [from, rest @ ..] = fields.as_slice() else {
                    return;
                };
                let Some(ty) = rest.first() else {
                    missing(self, "a STONITH device type", from);
                    return;
                };
                let from_node = (*from != "*").then(|| NodeName::new(from));
                self.stonith.push(Located {
                    value: StonithDirective::StonithHost {
                        from: from_node,
                        device_type: ty.to_string(),
                        params: rest.iter().skip(1).map(|p| p.to_string()).collect(),
                    },
                    pos: at(from),
                });
            }
            "respawn" | "failfast" => {
                let [user, rest @ ..] = fields.as_slice() else {
                    return;
                };
                if user.len() > MAX_USER_LEN {
                    self.err(at(user), format!("expected a user name of at most {MAX_USER_LEN} characters, found {} characters", user.len()));
                    return;
                }
                let Some(cmd) = rest.first() else {
                    missing(self, "a command (full path)", user);
                    return;
                };
                if !cmd.starts_with('/') {
                    self.err(at(cmd), format!("expected a full path (starting with /) for the client command, found {}", found(cmd)));
                    return;
                }
                self.check(at(user), HostCheck::User(user.to_string()));
                self.check(at(cmd), HostCheck::Executable(cmd.to_string()));
                self.clients.push(Located {
                    value: ClientChild {
                        user: user.to_string(),
                        command: PathBuf::from(cmd),
                        args: rest.iter().skip(1).map(|a| a.to_string()).collect(),
                        failfast: dir.name == "failfast",
                    },
                    pos: at(user),
                });
            }
            "apiauth" => self.apiauth(n, text, &fields),
            "fence_agent" => self.fence_agent(n, text, &fields),
            _ => {}
        }
    }

    /// `fence_agent NODE|* AGENT [KEY=VALUE]...` (our extension). Diagnostics on this line
    /// never quote it (it may hold a password), and a password is masked in the stored line.
    fn fence_agent(&mut self, n: usize, text: &str, fields: &[&str]) {
        let at = |f: &str| Pos::of(n, text, f);
        let [node, rest @ ..] = fields else {
            return;
        };
        let mut errs: Vec<(Pos, String)> = Vec::new();
        let mut secret_parts: Vec<Pos> = Vec::new();
        let agent = match rest.first() {
            None => {
                let p = at(node);
                errs.push((
                    Pos::at(n, p.col + p.width, 1),
                    format!("expected a fence agent after `{node}`, found end of line"),
                ));
                None
            }
            Some(a) => {
                let bare = a.starts_with("fence_") && !a.contains('/') && a.len() > 6;
                if a.starts_with('/') || bare {
                    let path = if bare {
                        format!("/usr/sbin/{a}")
                    } else {
                        a.to_string()
                    };
                    self.check(at(a), HostCheck::Executable(path));
                    Some(PathBuf::from(a))
                } else {
                    errs.push((
                        at(a),
                        format!(
                            "expected a fence agent (an absolute path or fence_NAME), found {}",
                            found(a)
                        ),
                    ));
                    None
                }
            }
        };
        let mut params = Vec::new();
        for f in rest.iter().skip(1) {
            let Some((k, v)) = f.split_once('=') else {
                // Not quoted: a misplaced word here may be a password.
                errs.push((at(f), "expected KEY=VALUE".to_string()));
                continue;
            };
            let key_ok = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !key_ok {
                errs.push((
                    at(f),
                    "expected a parameter name of letters, digits, `_` and `-` before `=`"
                        .to_string(),
                ));
                continue;
            }
            let key = k.replace('-', "_").to_ascii_lowercase();
            if (key == "action" || key == "option") && !matches!(v, "reboot" | "off") {
                errs.push((
                    Pos::of(n, text, v),
                    format!(
                        "expected the fencing action reboot or off, found {}",
                        found(v)
                    ),
                ));
                continue;
            }
            let value = if FenceValue::SECRET_KEYS.contains(&key.as_str()) {
                secret_parts.push(Pos::of(n, text, v));
                FenceValue::Secret(Secret::new(v.as_bytes()))
            } else {
                FenceValue::Plain(v.to_string())
            };
            params.push((key, value));
        }
        if !secret_parts.is_empty()
            && let Some(stored) = n.checked_sub(1).and_then(|i| self.lines.get_mut(i))
        {
            *stored = mask_secrets(text, fields);
        }
        let failed = !errs.is_empty();
        for (pos, msg) in errs {
            self.diags.push(Diagnostic::error(&self.path, pos, msg));
        }
        let Some(agent) = agent.filter(|_| !failed) else {
            return;
        };
        self.fence_agents.push(Located {
            value: FenceAgent {
                node: (*node != "*").then(|| NodeName::new(node)),
                agent,
                params,
            },
            pos: at(node),
        });
    }

    fn apiauth(&mut self, n: usize, text: &str, fields: &[&str]) {
        let at = |f: &str| Pos::of(n, text, f);
        let [client, rest @ ..] = fields else {
            return;
        };
        let mut uids: Option<Vec<String>> = None;
        let mut gids: Option<Vec<String>> = None;
        for f in rest {
            let (slot, list) = if let Some(l) = f.strip_prefix("uid=") {
                (&mut uids, l)
            } else if let Some(l) = f.strip_prefix("gid=") {
                (&mut gids, l)
            } else {
                self.err(
                    at(f),
                    format!("expected uid=LIST or gid=LIST, found {}", found(f)),
                );
                return;
            };
            if slot.is_some() {
                self.err(
                    at(f),
                    "expected one uid= and one gid= list, found a duplicate",
                );
                return;
            }
            *slot = Some(
                list.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
        if uids.is_none() && gids.is_none() {
            let p = at(client);
            self.err(
                Pos::at(n, p.col + p.width, 1),
                format!("expected uid=LIST and/or gid=LIST after `{client}`, found end of line"),
            );
            return;
        }
        if let Some(prev) = self.apiauth.iter().find(|a| a.value.client == *client) {
            let line = prev.pos.line;
            self.err(
                at(client),
                format!("expected one apiauth line for `{client}`, found a second one (first on line {line})"),
            );
            return;
        }
        self.apiauth.push(Located {
            value: ApiAuth {
                client: client.to_string(),
                uids: uids.unwrap_or_default(),
                gids: gids.unwrap_or_default(),
            },
            pos: at(client),
        });
    }
}

fn loc<T>(pos: Pos, value: T) -> Located<T> {
    Located { value, pos }
}

/// A decimal integer (digits only; no sign).
pub fn parse_int(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `text` with the value of every `passwd=`/`password=` field replaced by `********`.
fn mask_secrets(text: &str, fields: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let base = text.as_ptr() as usize;
    for f in fields {
        let Some((k, v)) = f.split_once('=') else {
            continue;
        };
        let key = k.replace('-', "_").to_ascii_lowercase();
        if !FenceValue::SECRET_KEYS.contains(&key.as_str()) {
            continue;
        }
        let Some(start) = (v.as_ptr() as usize).checked_sub(base) else {
            continue;
        };
        let end = start + v.len();
        if start < last || end > text.len() {
            continue;
        }
        out.push_str(text.get(last..start).unwrap_or(""));
        out.push_str("********");
        last = end;
    }
    out.push_str(text.get(last..).unwrap_or(""));
    out
}
