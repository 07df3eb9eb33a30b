//! From the three parsed files to a [`Config`]: defaults (§1.2/§1.3), the post-parse checks of
//! §1.5 in heartbeat's order (each pointing at the line that caused it), machine checks
//! through [`HostFacts`], and the haresources node check (§2.1). Pure: the machine is asked
//! only through the trait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::directives::{self, DefaultValue};
use super::ha_cf::{HaCf, HostCheck, Located, MediumDecl, parse_int};
use super::haresources::HaResources;
use super::model::{
    AuthKeys, AutoFailback, Baud, Config, Facility, GenMethod, Logging, Medium, MsgFmt, NodeName,
    Timing, UuidFrom,
};
use super::span::{self, Diagnostic, Pos};
use crate::time::Duration;

/// Heartbeat's UDP port when `/etc/services` has no `ha-cluster/udp`.
pub const DEFAULT_UDP_PORT: u16 = 694;

/// What only the machine knows. `load::SystemHost` asks the real one; tests inject answers.
pub trait HostFacts {
    /// This machine's node name before lower-casing (nodeinfo, else `uname -n`).
    fn node_name(&self) -> String;
    fn interface_exists(&self, name: &str) -> bool;
    fn device_exists(&self, path: &str) -> bool;
    /// Whether a host name resolves to an address.
    fn resolves(&self, host: &str) -> bool;
    /// The port `/etc/services` gives a UDP service.
    fn service_port(&self, service: &str) -> Option<u16>;
    fn user_exists(&self, user: &str) -> bool;
    fn is_executable(&self, path: &str) -> bool;
    fn file_exists(&self, path: &str) -> bool;
    fn dir_exists(&self, path: &str) -> bool;
}

/// How to check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Validate as this node instead of this machine (`--node`).
    pub node: Option<String>,
    /// Skip interface/device/host/user/file checks (`--no-host-checks`): validate another
    /// machine's configuration.
    pub skip_host_checks: bool,
}

/// A usable configuration and the warnings seen on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// The three files, parsed (or the diagnostic that prevented reading one).
pub struct Parsed {
    pub dir: PathBuf,
    pub ha_cf: Result<HaCf, Diagnostic>,
    pub authkeys: (Option<AuthKeys>, Vec<Diagnostic>),
    pub haresources: Result<HaResources, Diagnostic>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis()
}

/// Runs every check and builds the configuration. All diagnostics of all files come back
/// together: `Err` if any is an error.
pub fn resolve(
    parsed: Parsed,
    facts: &dyn HostFacts,
    opts: &CheckOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let Parsed {
        dir,
        ha_cf,
        authkeys: (auth, auth_diags),
        haresources,
    } = parsed;
    let cf = match ha_cf {
        Ok(cf) => {
            diags.extend(cf.diags.iter().cloned());
            Some(cf)
        }
        Err(d) => {
            diags.push(d);
            None
        }
    };
    diags.extend(auth_diags);
    let config = cf.as_ref().and_then(|cf| {
        let mut post = Vec::new();
        let c = build(cf, &dir, auth.clone(), facts, opts, &mut post);
        diags.extend(post);
        c
    });
    // haresources is checked even when ha.cf failed (every error in one run), against the
    // nodes ha.cf declared.
    let mut groups = Vec::new();
    match haresources {
        Ok(hr) => {
            diags.extend(hr.diags.iter().cloned());
            if let Some(cf) = &cf {
                let declared: Vec<&NodeName> = cf.nodes.iter().map(|n| &n.value).collect();
                for g in &hr.groups {
                    if declared.contains(&&g.group.node) {
                        groups.push(g.group.clone());
                        continue;
                    }
                    let list = declared
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    diags.push(
                        Diagnostic::error(
                            &hr.path,
                            g.node_pos,
                            format!(
                                "expected a node declared in ha.cf ({}), found `{}`",
                                if list.is_empty() {
                                    "none declared"
                                } else {
                                    &list
                                },
                                g.group.node
                            ),
                        )
                        .with_source(&g.source)
                        .with_note(format!(
                            "heartbeat: Bad nodename in {} [{}]",
                            hr.path.display(),
                            g.group.node
                        )),
                    );
                }
            }
        }
        Err(d) => diags.push(d),
    }
    match config {
        Some(mut config) if !diags.iter().any(Diagnostic::is_error) => {
            config.groups = groups;
            Ok(Loaded {
                config,
                warnings: diags,
            })
        }
        _ => Err(diags),
    }
}

fn time_of(cf: &HaCf, name: &str) -> Option<(Duration, Pos)> {
    let v = cf.value(name)?;
    let ms = directives::parse_time_ms(&v.value)?;
    Some((Duration::from_millis(ms), v.pos))
}

fn bool_of(cf: &HaCf, name: &str, default: bool) -> bool {
    cf.value(name)
        .and_then(|v| directives::parse_bool(&v.value))
        .unwrap_or(default)
}

fn int_of(cf: &HaCf, name: &str) -> Option<u64> {
    cf.value(name).and_then(|v| parse_int(&v.value))
}

fn build(
    cf: &HaCf,
    dir: &Path,
    auth: Option<AuthKeys>,
    facts: &dyn HostFacts,
    opts: &CheckOptions,
    out: &mut Vec<Diagnostic>,
) -> Option<Config> {
    let path = &cf.path;
    // Machine checks first: they belong to the lines, like heartbeat's parse-time errors.
    if !opts.skip_host_checks {
        let mut host_diags = Vec::new();
        for Located { value, pos } in &cf.checks {
            let problem = match value {
                HostCheck::Interface(i) => (!facts.interface_exists(i)).then(|| {
                    (
                        format!("expected an existing network interface, found `{i}`"),
                        format!("heartbeat: glib: IP interface [{i}] does not exist"),
                    )
                }),
                HostCheck::SerialDevice(d) => (!facts.device_exists(d)).then(|| {
                    (
                        format!("expected an existing serial device, found `{d}`"),
                        format!("heartbeat: Nonexistent serial port [{d}] in config file"),
                    )
                }),
                HostCheck::Host(h) => (!facts.resolves(h)).then(|| {
                    (
                        format!("expected a host name that resolves, found `{h}`"),
                        format!("heartbeat: unknown host: {h}"),
                    )
                }),
                HostCheck::User(u) => (!facts.user_exists(u)).then(|| {
                    (
                        format!("expected an existing user, found `{u}`"),
                        format!("heartbeat: Invalid uid [{u}] specified for client child"),
                    )
                }),
                HostCheck::Executable(x) => (!facts.is_executable(x)).then(|| {
                    (
                        format!("expected an executable file, found `{x}`"),
                        format!("heartbeat: Client child command [{x}] is not executable"),
                    )
                }),
                HostCheck::File(f) => (!facts.file_exists(f)).then(|| {
                    (
                        format!("expected an existing file, found `{f}`"),
                        format!("heartbeat: Invalid Stonith config file [{f}]"),
                    )
                }),
                HostCheck::Directory(d) => (!facts.dir_exists(d)).then(|| {
                    (
                        format!("expected an existing directory, found `{d}`"),
                        format!("heartbeat: Invalid core directory [{d}]"),
                    )
                }),
            };
            if let Some((msg, note)) = problem {
                if span::saturated(&host_diags) {
                    break;
                }
                span::push_capped(
                    &mut host_diags,
                    cf.error_at(*pos, msg).with_note(note).with_note(
                        "use --no-host-checks to validate another machine's configuration",
                    ),
                );
            }
        }
        out.extend(host_diags);
    }

    // §1.5 step 4, in heartbeat's order.
    if cf.media.is_empty() {
        out.push(
            Diagnostic::error(
                path,
                Pos::FILE,
                "expected at least one medium (bcast, ucast, mcast, serial...), found none",
            )
            .with_note("heartbeat: No heartbeat media defined"),
        );
    }
    let keepalive = time_of(cf, "keepalive");
    let deadtime = time_of(cf, "deadtime");
    let k = keepalive.map_or(Duration::from_millis(1000), |t| t.0);
    let d = deadtime.map_or(Duration::from_millis(30000), |t| t.0);
    let warntime = time_of(cf, "warntime").map_or(Duration::from_millis(ms(d) / 2), |t| t.0);

    let autojoin = cf.value("autojoin").map(|v| v.value.to_ascii_lowercase());
    if cf.nodes.is_empty() && autojoin.as_deref() != Some("any") {
        out.push(
            Diagnostic::error(
                path,
                Pos::FILE,
                "expected at least one `node` line, found none",
            )
            .with_note("heartbeat: no nodes defined"),
        );
    }
    let local = NodeName::new(&opts.node.clone().unwrap_or_else(|| facts.node_name()));
    if !cf.nodes.is_empty() && !cf.nodes.iter().any(|n| n.value == local) {
        let list = cf
            .nodes
            .iter()
            .map(|n| n.value.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let at = cf.nodes.first().map_or(Pos::FILE, |n| n.pos);
        out.push(
            cf.error_at(at, format!("expected this node (`{local}`) among the declared nodes, found only {list}"))
                .with_note(format!("heartbeat: Current node [{local}] not in configuration!"))
                .with_note("nodes are named by `uname -n` (or /etc/ha.d/nodeinfo); use --node NAME to check another node's file"),
        );
    }
    if ms(d) <= 2 * ms(k) {
        let at = deadtime.or(keepalive).map_or(Pos::FILE, |t| t.1);
        out.push(
            cf.error_at(
                at,
                format!(
                    "expected deadtime greater than 2 x keepalive ({} ms), found {} ms",
                    2 * ms(k),
                    ms(d)
                ),
            )
            .with_note(format!(
                "heartbeat: Dead time [{}] is too small compared to keeplive [{}]",
                ms(d),
                ms(k)
            )),
        );
    }
    let initdead = match time_of(cf, "initdead") {
        Some((i, pos)) => {
            if i < d {
                out.push(
                    cf.error_at(
                        pos,
                        format!(
                            "expected initdead of at least deadtime ({} ms), found {} ms",
                            ms(d),
                            ms(i)
                        ),
                    )
                    .with_note(format!(
                        "heartbeat: Initial dead time [{}] is smaller than deadtime [{}]",
                        ms(i),
                        ms(d)
                    )),
                );
            } else if ms(i) < 10_000 {
                out.push(
                    cf.warning_at(pos, format!("initdead of {} ms may be too small: it accounts for slow network start-up and should be >= deadtime and >= 10 seconds", ms(i))),
                );
            }
            i
        }
        None if ms(d) > 10_000 => d,
        None if ms(d) < 6_000 => Duration::from_millis(12_000),
        None => d.saturating_mul(2),
    };
    let deadping = match time_of(cf, "deadping") {
        Some((p, pos)) => {
            if ms(p) <= 2 * ms(k) {
                out.push(
                    cf.error_at(
                        pos,
                        format!(
                            "expected deadping greater than 2 x keepalive ({} ms), found {} ms",
                            2 * ms(k),
                            ms(p)
                        ),
                    )
                    .with_note(format!(
                        "heartbeat: Ping dead time [{}] is too small compared to keeplive [{}]",
                        ms(p),
                        ms(k)
                    )),
                );
            }
            p
        }
        None => d,
    };
    let default_port = facts.service_port("ha-cluster").unwrap_or(DEFAULT_UDP_PORT);
    let udpport = int_of(cf, "udpport")
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(default_port);

    let auto_failback = cf
        .auto_failback
        .as_ref()
        .map_or(AutoFailback::Legacy, |a| a.value);
    if auto_failback == AutoFailback::Legacy {
        let d = match &cf.auto_failback {
            Some(a) => cf.warning_at(
                a.pos,
                "deprecated `auto_failback legacy` mode; please convert to `auto_failback on`",
            ),
            None => Diagnostic::warning(
                path,
                Pos::FILE,
                "no auto_failback line: deprecated `legacy` mode is used; please convert to `auto_failback on`",
            ),
        };
        out.push(d.with_note("heartbeat: Deprecated 'legacy' auto_failback option selected."));
    }

    // Logging (§9.1).
    let given: Vec<&str> = ["logfile", "debugfile", "logfacility"]
        .into_iter()
        .filter(|n| cf.value(n).is_some())
        .collect();
    let use_logd_explicit = cf
        .value("use_logd")
        .and_then(|v| directives::parse_bool(&v.value).map(|b| (b, v.pos)));
    match (given.is_empty(), use_logd_explicit) {
        (true, Some((false, pos))) => out.push(
            cf.error_at(pos, "expected a logfile, debugfile or logfacility line when use_logd is off, found none")
                .with_note("heartbeat: No log entry found in ha.cf and use_logd is set to off"),
        ),
        (false, Some((true, pos))) => out.push(cf.warning_at(
            pos,
            format!("logd is enabled but {} is still configured", given.join("/")),
        )),
        _ => {}
    }
    if let Some(v) = cf.value("autojoin")
        && !v.value.eq_ignore_ascii_case("none")
    {
        out.push(
            cf.error_at(
                v.pos,
                format!(
                    "expected `autojoin none` (v1 resource management), found `{}`",
                    v.value
                ),
            )
            .with_note("heartbeat: R1 style resource management conflicts with  autojoin set"),
        );
    }

    // The model.
    let auth = auth?;
    let media = cf
        .media
        .iter()
        .map(|m| match &m.value {
            MediumDecl::Bcast { iface, port } => Medium::Bcast {
                iface: iface.clone(),
                port: port.unwrap_or(default_port),
            },
            MediumDecl::Ucast { iface, peer, port } => Medium::Ucast {
                iface: iface.clone(),
                peer: peer.clone(),
                port: port.unwrap_or(default_port),
            },
            MediumDecl::Mcast {
                iface,
                group,
                port,
                ttl,
                loop_back,
            } => Medium::Mcast {
                iface: iface.clone(),
                group: *group,
                port: *port,
                ttl: *ttl,
                loop_back: *loop_back,
            },
            MediumDecl::Ucast6 { iface, peer, port } => Medium::Ucast6 {
                iface: iface.clone(),
                peer: peer.to_string(),
                port: port.unwrap_or(default_port),
            },
            MediumDecl::Mcast6 {
                iface,
                group,
                port,
                hops,
                loop_back,
            } => Medium::Mcast6 {
                iface: iface.clone(),
                group: group.to_string(),
                port: *port,
                hops: *hops,
                loop_back: *loop_back,
            },
            MediumDecl::Serial { device, baud } => Medium::Serial {
                device: PathBuf::from(device),
                baud: baud.unwrap_or(Baud::B19200),
            },
        })
        .collect();

    let file_or_none = |name: &str| {
        cf.value(name)
            .map(|v| v.value.as_str())
            .filter(|p| *p != "/dev/null")
            .map(PathBuf::from)
    };
    let logfacility_name = cf.value("logfacility").map(|v| v.value.clone());
    let facility = logfacility_name
        .as_deref()
        .and_then(Facility::from_name)
        .filter(|f| *f != Facility::Kern);
    let logging = Logging {
        facility,
        logfile: file_or_none("logfile"),
        debugfile: file_or_none("debugfile"),
        use_logd: use_logd_explicit.map_or(given.is_empty(), |(b, _)| b),
        syslogmsgfmt: bool_of(cf, "syslogmsgfmt", true),
        debug: int_of(cf, "debug")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0),
    };

    let timing = Timing {
        keepalive: k,
        deadtime: d,
        warntime,
        initdead,
        deadping,
    };
    let parameters = parameters(cf, &timing, udpport);
    Some(Config {
        dir: dir.to_path_buf(),
        nodes: cf.nodes.iter().map(|n| n.value.clone()).collect(),
        ping_nodes: cf.ping_nodes.iter().map(|n| n.value.clone()).collect(),
        media,
        timing,
        udpport,
        auto_failback,
        groups: Vec::new(),
        auth,
        stonith: cf.stonith.iter().map(|s| s.value.clone()).collect(),
        fence_agents: cf.fence_agents.iter().map(|a| a.value.clone()).collect(),
        fence_delay: time_of(cf, "fence_delay").map_or(Duration::ZERO, |t| t.0),
        watchdog: cf.value("watchdog").map(|v| PathBuf::from(&v.value)),
        clients: cf.clients.iter().map(|c| c.value.clone()).collect(),
        apiauth: cf.apiauth.iter().map(|a| a.value.clone()).collect(),
        env: cf.env.iter().map(|e| e.value.clone()).collect(),
        logging,
        realtime: bool_of(cf, "realtime", true),
        rtprio: int_of(cf, "rtprio").and_then(|v| u8::try_from(v).ok()),
        hopfudge: int_of(cf, "hopfudge")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(1),
        max_rexmit_delay: Duration::from_millis(int_of(cf, "max_rexmit_delay").unwrap_or(250)),
        log_badpack: bool_of(cf, "log_badpack", true),
        cluster_name: cf
            .value("cluster")
            .map_or_else(|| "linux-ha".to_string(), |v| v.value.clone()),
        parameters,
        local_node: local,
        uuidfrom: match cf.value("uuidfrom").map(|v| v.value.as_str()) {
            Some("nodename") => UuidFrom::NodeName,
            _ => UuidFrom::File,
        },
        hbgenmethod: match cf.value("hbgenmethod").map(|v| v.value.as_str()) {
            Some("time") => GenMethod::Time,
            _ => GenMethod::File,
        },
        msgfmt: match cf.value("msgfmt").map(|v| v.value.as_str()) {
            Some("netstring") => MsgFmt::Netstring,
            _ => MsgFmt::Classic,
        },
        traditional_compression: bool_of(cf, "traditional_compression", false),
        compression_threshold: int_of(cf, "compression_threshold")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(2),
        conn_logd_time: time_of(cf, "conn_logd_time").map_or(Duration::from_secs(60), |t| t.0),
        coredumps: bool_of(cf, "coredumps", true),
        coreroot: cf.value("coreroot").map(|v| PathBuf::from(&v.value)),
        memreserve: int_of(cf, "memreserve")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(6500),
        logfacility_name,
    })
}

/// The recorded parameter table (§1.2): raw strings as written, fixed defaults as in the
/// table, computed defaults as `Nms` / numbers.
fn parameters(cf: &HaCf, t: &Timing, udpport: u16) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    for dir in directives::recorded() {
        let value = match (cf.value(dir.name), dir.default) {
            (Some(v), _) => v.value.clone(),
            (None, DefaultValue::Fixed(v)) => v.to_string(),
            (None, _) => match dir.name {
                "warntime" => format!("{}ms", t.warntime.as_millis()),
                "initdead" => format!("{}ms", t.initdead.as_millis()),
                "deadping" => format!("{}ms", t.deadping.as_millis()),
                "udpport" => udpport.to_string(),
                "debug" => "0".to_string(),
                "logfile" if cf.value("logfacility").is_some() => "/dev/null".to_string(),
                _ => continue,
            },
        };
        p.insert(dir.name.to_string(), value);
    }
    p.insert("hbversion".to_string(), "3.0.6".to_string());
    p
}

/// The whole check over three texts (no filesystem): what `load` does after reading, minus
/// the authkeys mode check. For tests, fuzzing and tools.
pub fn from_texts(
    dir: &Path,
    ha_cf: &str,
    haresources: &str,
    authkeys: &str,
    facts: &dyn HostFacts,
    opts: &CheckOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let parsed = Parsed {
        dir: dir.to_path_buf(),
        ha_cf: Ok(super::ha_cf::parse(ha_cf, &dir.join("ha.cf"))),
        authkeys: super::authkeys::parse_with_warnings(authkeys, &dir.join("authkeys")),
        haresources: Ok(super::haresources::parse(
            haresources,
            &dir.join("haresources"),
        )),
    };
    resolve(parsed, facts, opts)
}

/// Facts given in advance: for tests, fuzzing and the simulator. Everything named exists;
/// `Default` is a machine where every interface, device, host, user and file exists.
#[derive(Clone, Debug, Default)]
pub struct StaticHost {
    pub node: String,
    /// `None`: every interface exists.
    pub interfaces: Option<Vec<String>>,
    /// `None`: every device/file/directory exists.
    pub paths: Option<Vec<String>>,
    /// `None`: every host resolves.
    pub hosts: Option<Vec<String>>,
    pub services: Vec<(String, u16)>,
}

impl StaticHost {
    /// A machine called `node` on which everything exists.
    pub fn named(node: &str) -> StaticHost {
        StaticHost {
            node: node.to_string(),
            ..StaticHost::default()
        }
    }
}

fn listed(list: &Option<Vec<String>>, x: &str) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|i| i == x))
}

impl HostFacts for StaticHost {
    fn node_name(&self) -> String {
        self.node.clone()
    }
    fn interface_exists(&self, name: &str) -> bool {
        listed(&self.interfaces, name)
    }
    fn device_exists(&self, path: &str) -> bool {
        listed(&self.paths, path)
    }
    fn resolves(&self, host: &str) -> bool {
        listed(&self.hosts, host)
    }
    fn service_port(&self, service: &str) -> Option<u16> {
        self.services
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, p)| *p)
    }
    fn user_exists(&self, _user: &str) -> bool {
        true
    }
    fn is_executable(&self, path: &str) -> bool {
        listed(&self.paths, path)
    }
    fn file_exists(&self, path: &str) -> bool {
        listed(&self.paths, path)
    }
    fn dir_exists(&self, path: &str) -> bool {
        listed(&self.paths, path)
    }
}
