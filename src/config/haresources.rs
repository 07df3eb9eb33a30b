//! `haresources` (behaviour spec §2.1–2.3): ResourceManager's logical lines, each a resource
//! group `NODE RESOURCE...`, with positions. Whether NODE is declared in ha.cf is checked by
//! `resolve` (it needs ha.cf's node list).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::model::{NodeName, Resource, ResourceGroup};
use super::span::{self, Diagnostic, Pos, found};

/// One group and where its parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDecl {
    pub group: ResourceGroup,
    /// The node name field.
    pub node_pos: Pos,
    /// The source line of the node name field.
    pub source: String,
}

#[derive(Clone, Debug, Default)]
pub struct HaResources {
    pub path: PathBuf,
    pub groups: Vec<GroupDecl>,
    pub diags: Vec<Diagnostic>,
}

/// A piece of a logical line: bytes `start..` of the joined line come from physical line
/// `line` starting at byte `offset` of that line's text.
struct Segment<'a> {
    start: usize,
    line: usize,
    text: &'a str,
    offset: usize,
}

/// Parses `haresources`. Every problem becomes a diagnostic; valid groups are kept.
pub fn parse(text: &str, path: &Path) -> HaResources {
    let mut out = HaResources {
        path: path.to_path_buf(),
        ..HaResources::default()
    };
    let mut joined = String::new();
    let mut segments: Vec<Segment<'_>> = Vec::new();
    let mut crlf_warned = false;
    let mut last_line = 0;
    for line in span::lines(text) {
        last_line = line.number;
        if span::saturated(&out.diags) {
            break;
        }
        if let Some(d) = span::check_line(path, &line, line.text) {
            span::push_capped(&mut out.diags, d);
            continue;
        }
        let mut t = line.text;
        if let Some(s) = t.strip_suffix('\r') {
            if !crlf_warned {
                crlf_warned = true;
                span::push_capped(
                    &mut out.diags,
                    Diagnostic::warning(
                        path,
                        Pos::at(line.number, t.chars().count(), 1),
                        "CRLF line endings: heartbeat's ResourceManager would take the CR as part of the last resource; it is ignored here",
                    )
                    .with_source(t),
                );
            }
            t = s;
        }
        // Step 1: a `#` anywhere starts a comment.
        let t = t.split('#').next().unwrap_or("");
        // Step 2: a trailing backslash joins the next line.
        let (t, continues) = match t.strip_suffix('\\') {
            Some(s) => (s, true),
            None => (t, false),
        };
        segments.push(Segment {
            start: joined.len(),
            line: line.number,
            text: line.text,
            offset: 0,
        });
        joined.push_str(t);
        if !continues {
            out.logical_line(&joined, &segments);
            joined.clear();
            segments.clear();
        }
    }
    if !segments.is_empty() {
        // A continuation on the last line: ResourceManager just ends the line there.
        let _ = last_line;
        out.logical_line(&joined, &segments);
    }
    warn_duplicate_keys(&mut out);
    out
}

/// Fields are separated by spaces and TABs only (step 3); anything else is part of a field.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl HaResources {
    /// Position and source line of byte `at` of the joined logical line.
    fn locate(segments: &[Segment<'_>], joined: &str, at: usize, width: usize) -> (Pos, String) {
        let seg = segments
            .iter()
            .rev()
            .find(|s| s.start <= at)
            .or(segments.first());
        match seg {
            Some(s) => {
                let in_line = at - s.start.min(at) + s.offset;
                let col = s.text.get(..in_line).map_or(1, |p| p.chars().count() + 1);
                (Pos::at(s.line, col, width.max(1)), s.text.to_string())
            }
            None => (Pos::at(1, 1, 1), joined.to_string()),
        }
    }

    fn logical_line(&mut self, joined: &str, segments: &[Segment<'_>]) {
        let mut fields = Vec::new();
        let mut rest = joined;
        let mut offset = 0;
        while let Some(i) = rest.find(|c: char| !is_blank(c)) {
            let start = offset + i;
            let tail = &rest[i..];
            let len = tail.find(is_blank).unwrap_or(tail.len());
            fields.push((start, &tail[..len]));
            offset = start + len;
            rest = &tail[len..];
        }
        let Some(((node_at, node), resources)) = fields.split_first() else {
            return;
        };
        let (node_pos, source) = Self::locate(segments, joined, *node_at, node.chars().count());
        if resources.is_empty() {
            span::push_capped(
                &mut self.diags,
                Diagnostic::warning(
                    &self.path,
                    node_pos,
                    format!(
                        "node `{}` has no resources on this line; the line is ignored",
                        node.to_ascii_lowercase()
                    ),
                )
                .with_source(&source),
            );
            return;
        }
        let mut group = ResourceGroup {
            node: NodeName::new(node),
            resources: Vec::new(),
        };
        for (at, tok) in resources {
            let r = resource(tok);
            if r.script == "IPaddr" || r.script == "IPaddr2" {
                if span::saturated(&self.diags) {
                    // Stop describing problems; the group is still kept.
                } else if let Err(msg) = check_ip_arg(&r) {
                    let (pos, src) = Self::locate(segments, joined, *at, tok.chars().count());
                    span::push_capped(
                        &mut self.diags,
                        Diagnostic::warning(&self.path, pos, msg)
                            .with_source(&src)
                            .with_note(format!(
                                "the {} script will refuse this at start",
                                r.script
                            )),
                    );
                }
            }
            group.resources.push(r);
        }
        self.groups.push(GroupDecl {
            group,
            node_pos,
            source,
        });
    }
}

/// §2.3: whether ResourceManager's `isip` glob `[0-9]*.[0-9]*.[0-9]*.[0-9]*` matches.
pub fn looks_like_ip(tok: &str) -> bool {
    let b = tok.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    // Three `.<digit>` pairs, in order, after the leading digit.
    let mut from = 1;
    for _ in 0..3 {
        let Some(i) = b.get(from..).and_then(|s| {
            s.windows(2)
                .position(|w| w[0] == b'.' && w[1].is_ascii_digit())
        }) else {
            return false;
        };
        from += i + 2;
    }
    true
}

/// One resource token → script and arguments (§2.3), exactly as ResourceManager's sed does.
pub fn resource(tok: &str) -> Resource {
    let full = if looks_like_ip(tok) {
        format!("IPaddr::{tok}")
    } else {
        tok.to_string()
    };
    let (script, args) = match full.find("::") {
        None => (full.clone(), Vec::new()),
        Some(i) => {
            let script = full[..i].to_string();
            // `sed 's%[^:]*::%%'`: remove the leftmost run of non-colons followed by `::`.
            let args_text = strip_first_name_sep(&full);
            let args = args_text
                .replace("::", " ")
                .split_whitespace()
                .map(str::to_string)
                .collect();
            (script, args)
        }
    };
    Resource {
        token: tok.to_string(),
        script,
        args,
    }
}

fn strip_first_name_sep(s: &str) -> String {
    let mut i = 0;
    while i <= s.len() {
        let Some(rel) = s.get(i..).and_then(|t| t.find(':')) else {
            break;
        };
        let j = i + rel;
        if s.get(j..).is_some_and(|t| t.starts_with("::")) {
            return format!("{}{}", &s[..i], &s[j + 2..]);
        }
        i = j + 1;
    }
    s.to_string()
}

/// The argument of an IPaddr/IPaddr2 resource: `IP[/NM[/IFACE|/BCAST[/BCAST]]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAddrArg {
    pub ip: Ipv4Addr,
    /// CIDR bits (a dotted-quad netmask is converted).
    pub cidr: Option<u8>,
    pub iface: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
}

/// Parses an IPaddr argument (§2.3 forms).
pub fn parse_ip_arg(arg: &str) -> Result<IpAddrArg, String> {
    let parts: Vec<&str> = arg.split('/').collect();
    let ip_text = parts.first().copied().unwrap_or("");
    let ip = ip_text
        .parse::<Ipv4Addr>()
        .map_err(|_| format!("expected an IPv4 address, found {}", found(ip_text)))?;
    let cidr = match parts.get(1) {
        None => None,
        Some(nm) => Some(parse_netmask(nm)?),
    };
    let (mut iface, mut broadcast) = (None, None);
    match parts.get(2) {
        Some(third) if third.starts_with(|c: char| c.is_ascii_digit()) => {
            broadcast = Some(parse_bcast(third)?);
        }
        Some(third) if !third.is_empty() => iface = Some(third.to_string()),
        Some(_) => {
            return Err("expected an interface or broadcast address, found an empty field".into());
        }
        None => {}
    }
    if let Some(fourth) = parts.get(3) {
        if broadcast.is_some() {
            return Err(format!(
                "expected nothing after the broadcast address, found {}",
                found(fourth)
            ));
        }
        broadcast = Some(parse_bcast(fourth)?);
    }
    if let Some(extra) = parts.get(4) {
        return Err(format!(
            "expected at most IP/NETMASK/IFACE/BROADCAST, found {}",
            found(extra)
        ));
    }
    Ok(IpAddrArg {
        ip,
        cidr,
        iface,
        broadcast,
    })
}

fn parse_netmask(nm: &str) -> Result<u8, String> {
    if let Ok(bits) = nm.parse::<u8>()
        && bits <= 32
        && nm.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(bits);
    }
    if let Ok(mask) = nm.parse::<Ipv4Addr>() {
        let m = u32::from(mask);
        if m.leading_ones() + m.trailing_zeros() == 32 {
            return Ok(m.leading_ones() as u8);
        }
    }
    Err(format!(
        "expected a netmask (CIDR bits 0-32 or a dotted quad), found {}",
        found(nm)
    ))
}

fn parse_bcast(b: &str) -> Result<Ipv4Addr, String> {
    b.parse::<Ipv4Addr>()
        .map_err(|_| format!("expected a broadcast address, found {}", found(b)))
}

fn check_ip_arg(r: &Resource) -> Result<(), String> {
    match r.args.as_slice() {
        [one] => parse_ip_arg(one).map(|_| ()),
        [] => Err(format!(
            "expected an address argument for {}, found none",
            r.script
        )),
        [_, extra, ..] => Err(format!(
            "expected one argument for {}, found also {}",
            r.script,
            found(extra)
        )),
    }
}

/// A key (first resource) that also appears in another line confuses ResourceManager's
/// regex lookups (§2.2).
fn warn_duplicate_keys(out: &mut HaResources) {
    // token → the first two distinct groups it appears in (linear in the file's size).
    let mut seen: HashMap<&str, (usize, Option<usize>)> = HashMap::new();
    for (i, g) in out.groups.iter().enumerate() {
        for r in &g.group.resources {
            seen.entry(r.token.as_str())
                .and_modify(|(first, second)| {
                    if *first != i && second.is_none() {
                        *second = Some(i);
                    }
                })
                .or_insert((i, None));
        }
    }
    let mut warnings = Vec::new();
    for (i, g) in out.groups.iter().enumerate() {
        let key = g.group.key();
        let other = match seen.get(key) {
            Some((first, _)) if *first != i => Some(*first),
            Some((_, second)) => *second,
            None => None,
        };
        if let Some(other) = other.and_then(|j| out.groups.get(j)) {
            warnings.push(
                Diagnostic::warning(
                    &out.path,
                    g.node_pos,
                    format!(
                        "the group key `{key}` also appears on line {}; ResourceManager would mix the two groups",
                        other.node_pos.line
                    ),
                )
                .with_source(&g.source),
            );
        }
    }
    for w in warnings {
        span::push_capped(&mut out.diags, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> HaResources {
        parse(text, Path::new("haresources"))
    }

    #[test]
    fn logical_lines_comments_and_continuations() {
        let r = p(
            "# c\nNode1 10.0.0.1 \\\n   httpd # web\n\n node2\t10.0.0.2/24/eth0  Filesystem::/dev/sda1::/data::ext4\n",
        );
        assert!(r.diags.is_empty(), "{:?}", r.diags);
        assert_eq!(r.groups.len(), 2);
        let g = &r.groups[0].group;
        assert_eq!(g.node.as_str(), "node1");
        assert_eq!(g.key(), "10.0.0.1");
        assert_eq!(g.resources[0].script, "IPaddr");
        assert_eq!(g.resources[0].args, vec!["10.0.0.1"]);
        assert_eq!(g.resources[1].script, "httpd");
        let g = &r.groups[1].group;
        assert_eq!(g.resources[1].script, "Filesystem");
        assert_eq!(g.resources[1].args, vec!["/dev/sda1", "/data", "ext4"]);
        assert_eq!(r.groups[1].node_pos, Pos::at(5, 2, 5));
    }

    #[test]
    fn continuation_joins_without_a_space() {
        let r = p("node1 a\\\nb\n");
        assert_eq!(r.groups[0].group.resources[0].token, "ab");
    }

    #[test]
    fn backslash_before_a_comment_does_not_continue() {
        let r = p("node1 a \\ # note\nnode2 b\n");
        assert_eq!(r.groups.len(), 2);
    }

    #[test]
    fn sed_argument_rules() {
        let r = resource("Filesystem::server:/data1::/data1::nfs::ro");
        assert_eq!(r.script, "Filesystem");
        assert_eq!(r.args, vec!["server:/data1", "/data1", "nfs", "ro"]);
        let r = resource("a:b::c");
        assert_eq!(r.script, "a:b");
        assert_eq!(r.args, vec!["a:c"]);
        let r = resource("IPaddr::10.0.0.1/24");
        assert_eq!(
            (r.script.as_str(), r.args.clone()),
            ("IPaddr", vec!["10.0.0.1/24".to_string()])
        );
        assert_eq!(
            resource("10.0.0.1/24").args,
            resource("IPaddr::10.0.0.1/24").args
        );
        assert_eq!(resource("name:").script, "name:");
    }

    #[test]
    fn isip_glob() {
        assert!(looks_like_ip("10.0.0.1"));
        assert!(looks_like_ip("1.2.3.4/24/eth0"));
        assert!(looks_like_ip("3com.1.2.3"));
        assert!(!looks_like_ip("3com.a.b.c"));
        assert!(!looks_like_ip("10.0.0"));
        assert!(!looks_like_ip("IPaddr::1.2.3.4"));
        assert!(!looks_like_ip(""));
    }

    #[test]
    fn ip_arguments() {
        let a = parse_ip_arg("10.0.0.1/24/eth0/10.0.0.255").unwrap();
        assert_eq!(a.cidr, Some(24));
        assert_eq!(a.iface.as_deref(), Some("eth0"));
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(10, 0, 0, 255)));
        let a = parse_ip_arg("10.0.0.1/255.255.255.0/10.0.0.255").unwrap();
        assert_eq!(
            (a.cidr, a.iface, a.broadcast),
            (Some(24), None, Some(Ipv4Addr::new(10, 0, 0, 255)))
        );
        assert!(parse_ip_arg("10.0.0.1").unwrap().cidr.is_none());
        assert!(parse_ip_arg("10.0.0.1/33").is_err());
        assert!(parse_ip_arg("10.0.0.300").is_err());
        assert!(parse_ip_arg("10.0.0.1/24/eth0/x").is_err());
    }

    #[test]
    fn bad_ip_argument_warns_at_the_token() {
        let r = p("node1 httpd 10.0.0.999/24\n");
        let d = &r.diags[0];
        assert!(!d.is_error());
        assert_eq!(d.pos.col, 13);
        assert!(
            d.message
                .contains("expected an IPv4 address, found `10.0.0.999`"),
            "{}",
            d.message
        );
    }

    #[test]
    fn node_without_resources_and_duplicate_keys_warn() {
        let r = p("node1\nnode1 a b\nnode2 c a\n");
        assert_eq!(r.groups.len(), 2);
        assert_eq!(r.diags.len(), 2, "{:?}", r.diags);
    }
}
