//! The validated configuration: what `ha.cf`, `haresources` and `authkeys` mean once parsed.
//!
//! Everything here is plain data. Parsers in this module's siblings build it; the core, the
//! wire layer and the edge read it. Types are chosen so that a wrong state cannot be built:
//! node names are always lower-case, key indices are always 0–15, a `crc` key never carries
//! a secret and an `md5`/`sha1` key always does, and secrets never print.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::time::Duration;

/// A cluster node name. Heartbeat lower-cases every node name it reads (ha.cf, packets,
/// `uname -n`), so names compare case-insensitively; this type stores the lower-cased form.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(String);

impl NodeName {
    pub fn new(name: &str) -> NodeName {
        NodeName(name.to_ascii_lowercase())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A shared secret from `authkeys`. Its `Debug` and `Display` never show the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }
    /// The raw key bytes, for the HMAC computation only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An authkeys index, 0–15 (`MAXAUTH` = 16 in heartbeat).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyIndex(u8);

impl KeyIndex {
    pub const MAX: u8 = 15;

    pub fn new(n: u8) -> Option<KeyIndex> {
        (n <= Self::MAX).then_some(KeyIndex(n))
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An authentication method as heartbeat names it (`crc`, `md5`, `sha1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    Crc,
    Md5,
    Sha1,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5 => "md5",
            AuthMethod::Sha1 => "sha1",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key line of authkeys: `crc` has no secret, `md5` and `sha1` always have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKey {
    Crc,
    Md5(Secret),
    Sha1(Secret),
}

impl AuthKey {
    pub fn method(&self) -> AuthMethod {
        match self {
            AuthKey::Crc => AuthMethod::Crc,
            AuthKey::Md5(_) => AuthMethod::Md5,
            AuthKey::Sha1(_) => AuthMethod::Sha1,
        }
    }
}

/// The parsed authkeys file: every configured key (all accepted on receive, for rollover)
/// and the index used to sign what we send. Invariant: `keys` contains `send_index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthKeys {
    send_index: KeyIndex,
    keys: BTreeMap<KeyIndex, AuthKey>,
}

impl AuthKeys {
    /// `None` when `send_index` has no key (heartbeat: "Auth Key [N] not found").
    pub fn new(send_index: KeyIndex, keys: BTreeMap<KeyIndex, AuthKey>) -> Option<AuthKeys> {
        keys.contains_key(&send_index)
            .then_some(AuthKeys { send_index, keys })
    }
    /// A one-key set, convenient for tests and tools.
    pub fn single(index: KeyIndex, key: AuthKey) -> AuthKeys {
        AuthKeys {
            send_index: index,
            keys: BTreeMap::from([(index, key)]),
        }
    }
    pub fn send_index(&self) -> KeyIndex {
        self.send_index
    }
    pub fn send_key(&self) -> &AuthKey {
        // The constructor guarantees the entry exists.
        &self.keys[&self.send_index]
    }
    pub fn get(&self, index: KeyIndex) -> Option<&AuthKey> {
        self.keys.get(&index)
    }
    pub fn iter(&self) -> impl Iterator<Item = (KeyIndex, &AuthKey)> {
        self.keys.iter().map(|(i, k)| (*i, k))
    }
}

/// `auto_failback` (§4.1 of the behaviour spec). `On`/`Off` are heartbeat's "nice_failback"
/// modes; `Legacy` is the default when the directive is absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutoFailback {
    On,
    Off,
    Legacy,
}

/// One heartbeat medium. Each `bcast` interface, `ucast` line, `mcast` line and serial
/// device is one medium. UDP media carry the port latched when they were declared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Medium {
    Bcast {
        iface: String,
        port: u16,
    },
    Ucast {
        iface: String,
        peer: String,
        port: u16,
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
        peer: String,
        port: u16,
    },
    Mcast6 {
        iface: String,
        group: String,
        port: u16,
        hops: u8,
        loop_back: bool,
    },
    Serial {
        device: PathBuf,
        baud: Baud,
    },
}

impl Medium {
    /// The link name heartbeat shows in logs and `cl_status`: the interface for UDP media,
    /// the tty path for serial.
    pub fn link_name(&self) -> String {
        match self {
            Medium::Bcast { iface, .. }
            | Medium::Ucast { iface, .. }
            | Medium::Mcast { iface, .. }
            | Medium::Ucast6 { iface, .. }
            | Medium::Mcast6 { iface, .. } => iface.clone(),
            Medium::Serial { device, .. } => device.display().to_string(),
        }
    }
}

/// Serial speeds heartbeat accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Baud {
    B9600,
    B19200,
    B38400,
    B57600,
    B115200,
    B230400,
    B460800,
}

impl Baud {
    pub fn from_rate(rate: u32) -> Option<Baud> {
        Some(match rate {
            9600 => Baud::B9600,
            19200 => Baud::B19200,
            38400 => Baud::B38400,
            57600 => Baud::B57600,
            115200 => Baud::B115200,
            230400 => Baud::B230400,
            460800 => Baud::B460800,
            _ => return None,
        })
    }
    pub fn rate(self) -> u32 {
        match self {
            Baud::B9600 => 9600,
            Baud::B19200 => 19200,
            Baud::B38400 => 38400,
            Baud::B57600 => 57600,
            Baud::B115200 => 115200,
            Baud::B230400 => 230400,
            Baud::B460800 => 460800,
        }
    }
}

/// A ping pseudo-node: `ping HOST` (one host, named by it) or `ping_group NAME HOST...`
/// (alive while any member answers). Ping nodes never hold resources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PingNode {
    pub name: String,
    pub hosts: Vec<String>,
    pub is_group: bool,
}

/// One resource of a group, from a haresources token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    /// The token as written (after normalisation), e.g. `IPaddr::10.0.0.1/24` or
    /// `10.0.0.1/24`. A group's first token is its key.
    pub token: String,
    /// Script name: text before the first `::`, or `IPaddr` for the bare-IP shorthand.
    pub script: String,
    /// Arguments passed before `start|stop|status`.
    pub args: Vec<String>,
}

/// One haresources logical line: a node and its ordered resources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceGroup {
    /// The preferred ("home") node of the group.
    pub node: NodeName,
    /// Started left to right, stopped right to left. Never empty.
    pub resources: Vec<Resource>,
}

impl ResourceGroup {
    /// The group's key: its first resource token.
    pub fn key(&self) -> &str {
        &self.resources[0].token
    }
}

/// `stonith TYPE CONFIGFILE` or `stonith_host FROM|* TYPE PARAMS...` (behaviour spec §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StonithDirective {
    Stonith {
        device_type: String,
        config_file: PathBuf,
    },
    StonithHost {
        /// `None` for `*` (every node).
        from: Option<NodeName>,
        device_type: String,
        params: Vec<String>,
    },
}

/// `fence_agent NODE|* AGENT [KEY=VALUE]...` (a heartbeat-rs extension, docs/fencing.md): the
/// Red Hat fence agent that fences NODE (`*`: any node without a line of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceAgent {
    /// The victim; `None` for `*`.
    pub node: Option<NodeName>,
    /// An absolute path, or a bare `fence_NAME` looked up in `/usr/sbin`.
    pub agent: PathBuf,
    /// Handed to the agent on stdin, in order.
    pub params: Vec<(String, FenceValue)>,
}

/// A fence agent parameter value; `passwd`/`password` values are [`Secret`]s (redacted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FenceValue {
    Plain(String),
    Secret(Secret),
}

impl FenceValue {
    /// Parameter names whose values are secrets.
    pub const SECRET_KEYS: &'static [&'static str] = &["passwd", "password"];
}

/// A `respawn` / `failfast` client child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientChild {
    pub user: String,
    pub command: PathBuf,
    pub args: Vec<String>,
    /// `failfast`: reboot the machine if the child dies abnormally.
    pub failfast: bool,
}

impl ClientChild {
    /// `respawn hacluster /usr/lib(exec)/heartbeat/ipfail`: heartbeat-rs runs ipfail's
    /// logic in its core instead (behaviour spec §5.2, docs/fencing.md), so the edge does
    /// not need to start this client.
    pub fn is_ipfail(&self) -> bool {
        self.command.file_name().is_some_and(|f| f == "ipfail")
    }
}

impl Config {
    /// The built-in ipfail is on: some `respawn`/`failfast` line names an `ipfail` binary.
    pub fn ipfail(&self) -> bool {
        self.clients.iter().any(ClientChild::is_ipfail)
    }
}

/// An `apiauth CLIENT [uid=LIST] [gid=LIST]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiAuth {
    pub client: String,
    pub uids: Vec<String>,
    pub gids: Vec<String>,
}

/// Syslog facilities `logfacility` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Facility {
    Auth,
    Authpriv,
    Cron,
    Daemon,
    Ftp,
    Kern,
    Lpr,
    Mail,
    News,
    Security,
    Syslog,
    User,
    Uucp,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

/// Where log lines go (behaviour spec §9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// `None` when syslog is disabled (`logfacility none`, unset, or the `kern` quirk).
    pub facility: Option<Facility>,
    /// `None` means no file (unset or `/dev/null`).
    pub logfile: Option<PathBuf>,
    pub debugfile: Option<PathBuf>,
    pub use_logd: bool,
    pub syslogmsgfmt: bool,
    /// 0–255; each `-d` on the command line adds one.
    pub debug: u8,
}

/// Membership timers, all resolved (computed defaults applied, §1.3/§1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub keepalive: Duration,
    pub deadtime: Duration,
    pub warntime: Duration,
    pub initdead: Duration,
    pub deadping: Duration,
}

/// The whole validated configuration of one node's `/etc/ha.d`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The configuration directory the files were read from.
    pub dir: PathBuf,
    /// Normal cluster nodes in declaration order (lower-cased).
    pub nodes: Vec<NodeName>,
    pub ping_nodes: Vec<PingNode>,
    pub media: Vec<Medium>,
    pub timing: Timing,
    pub udpport: u16,
    pub auto_failback: AutoFailback,
    pub groups: Vec<ResourceGroup>,
    pub auth: AuthKeys,
    pub stonith: Vec<StonithDirective>,
    /// `fence_agent` lines in file order.
    pub fence_agents: Vec<FenceAgent>,
    /// `fence_delay` (our extension): how long the node not favoured in a fence race waits
    /// before fencing; zero when unset.
    pub fence_delay: Duration,
    pub watchdog: Option<PathBuf>,
    pub clients: Vec<ClientChild>,
    pub apiauth: Vec<ApiAuth>,
    /// `env NAME=VALUE` entries; exported to children as `HA_NAME=VALUE`.
    pub env: Vec<(String, String)>,
    pub logging: Logging,
    pub realtime: bool,
    pub rtprio: Option<u8>,
    pub hopfudge: u8,
    pub max_rexmit_delay: Duration,
    pub log_badpack: bool,
    pub cluster_name: String,
    /// The recorded parameter table (`cl_status hbparameter -p NAME`): the raw string last
    /// applied for each recorded directive, or its default (§1.2).
    pub parameters: BTreeMap<String, String>,
    /// This node's name (lower-cased): `--node`, else the nodeinfo/`uname -n` rule (§0).
    pub local_node: NodeName,
    pub uuidfrom: UuidFrom,
    pub hbgenmethod: GenMethod,
    pub msgfmt: MsgFmt,
    /// `traditional_compression`.
    pub traditional_compression: bool,
    /// `compression_threshold`, in KB.
    pub compression_threshold: u32,
    /// `conn_logd_time`: interval between reconnection attempts to the logging daemon.
    pub conn_logd_time: Duration,
    pub coredumps: bool,
    pub coreroot: Option<PathBuf>,
    /// `memreserve`, in KB.
    pub memreserve: u32,
    /// The `logfacility` value as written (`HA_LOGFACILITY` for scripts), `None` if unset.
    pub logfacility_name: Option<String>,
}

impl Config {
    /// The fence agent for `victim`: its own `fence_agent` line, else a `*` one (the last
    /// line wins in both cases, like `stonith`).
    pub fn fence_agent_for(&self, victim: &NodeName) -> Option<&FenceAgent> {
        let last = |f: &dyn Fn(&FenceAgent) -> bool| self.fence_agents.iter().rev().find(|a| f(a));
        last(&|a| a.node.as_ref() == Some(victim)).or_else(|| last(&|a| a.node.is_none()))
    }

    /// The STONITH device this node uses: the last `stonith` line, or `stonith_host` line for
    /// `*` or this node, in the file (§7.1: each applicable line replaces the previous one).
    pub fn active_stonith(&self) -> Option<&StonithDirective> {
        self.stonith.iter().rev().find(|d| match d {
            StonithDirective::Stonith { .. } => true,
            StonithDirective::StonithHost { from, .. } => {
                from.as_ref().is_none_or(|n| *n == self.local_node)
            }
        })
    }
}

/// `uuidfrom`: where the node UUID comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UuidFrom {
    File,
    NodeName,
}

/// `hbgenmethod`: where the generation number comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GenMethod {
    File,
    Time,
}

/// `msgfmt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgFmt {
    Classic,
    Netstring,
}

impl Facility {
    /// The facility `logfacility NAME` selects; `None` for `none` or an unknown name.
    pub fn from_name(name: &str) -> Option<Facility> {
        Some(match name {
            "auth" => Facility::Auth,
            "authpriv" => Facility::Authpriv,
            "cron" => Facility::Cron,
            "daemon" => Facility::Daemon,
            "ftp" => Facility::Ftp,
            "kern" => Facility::Kern,
            "lpr" => Facility::Lpr,
            "mail" => Facility::Mail,
            "news" => Facility::News,
            "security" => Facility::Security,
            "syslog" => Facility::Syslog,
            "user" => Facility::User,
            "uucp" => Facility::Uucp,
            "local0" => Facility::Local0,
            "local1" => Facility::Local1,
            "local2" => Facility::Local2,
            "local3" => Facility::Local3,
            "local4" => Facility::Local4,
            "local5" => Facility::Local5,
            "local6" => Facility::Local6,
            "local7" => Facility::Local7,
            _ => return None,
        })
    }
}
