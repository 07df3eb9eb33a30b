//! THE table of `ha.cf` directives (behaviour spec §1.3). It drives the parser (which names
//! exist, how the rest of the line is split, how each value is checked), `heartbeat -D`
//! (the fixed defaults, in heartbeat's order) and `docs/configuration.md` (a test fails if
//! the document and this table disagree).

/// How the text after the directive name is handed over (§1.1 rule 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Split on commas and whitespace; each token is applied as its own `NAME TOKEN` line.
    Tokens,
    /// The rest of the line is one string, parsed by the directive itself.
    WholeLine,
}

/// What one value (token) must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A time value (`2`, `1.5`, `500ms`, `100us`).
    Time,
    /// `true/on/yes/y/1` or `false/off/no/n/0`, any case.
    Bool,
    /// A decimal integer in `min..=max`.
    Int { min: u64, max: u64 },
    /// One of a fixed list of words; `nocase` for case-insensitive matching.
    Choice {
        words: &'static [&'static str],
        nocase: bool,
    },
    /// Any token (names, paths, interfaces, hosts).
    Word,
    /// A whole line with its own grammar (media, stonith, clients, apiauth).
    Line,
}

/// What the directive is for (the "v1" column of the spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Core,
    Wire,
    Log,
    Opt,
    /// Only meaningful with pacemaker/CRM; accepted, validated, otherwise ignored.
    Crm,
    /// Obsolete.
    Obs,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Core => "core",
            Class::Wire => "wire",
            Class::Log => "log",
            Class::Opt => "opt",
            Class::Crm => "CRM",
            Class::Obs => "obsolete",
        }
    }
}

/// A directive's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    None,
    /// A fixed default string, recorded as-is and printed by `-D`.
    Fixed(&'static str),
    /// Computed after parsing; the text says how.
    Computed(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Directive {
    pub name: &'static str,
    pub arity: Arity,
    pub kind: Kind,
    pub default: DefaultValue,
    /// The last applied raw value is readable as a parameter (`cl_status hbparameter`).
    pub recorded: bool,
    pub class: Class,
    /// One line of documentation, including heartbeat's validation rule.
    pub doc: &'static str,
}

const BOOL: Kind = Kind::Bool;
const TIME: Kind = Kind::Time;
const WORD: Kind = Kind::Word;
const LINE: Kind = Kind::Line;

const fn d(
    name: &'static str,
    arity: Arity,
    kind: Kind,
    default: DefaultValue,
    recorded: bool,
    class: Class,
    doc: &'static str,
) -> Directive {
    Directive {
        name,
        arity,
        kind,
        default,
        recorded,
        class,
        doc,
    }
}

use Arity::{Tokens as T, WholeLine as W};
use Class::*;
use DefaultValue::{Computed, Fixed, None as NoDefault};

/// Every directive the Debian heartbeat 3.0.6 build accepts. Order: the directives with a
/// fixed default come in the order `heartbeat -D` prints them.
pub static DIRECTIVES: &[Directive] = &[
    d(
        "cluster",
        T,
        WORD,
        Fixed("linux-ha"),
        true,
        Opt,
        "Cluster name.",
    ),
    d(
        "hopfudge",
        T,
        Kind::Int { min: 0, max: 255 },
        Fixed("1"),
        true,
        Obs,
        "Extra hops allowed on serial rings (0-255).",
    ),
    d(
        "keepalive",
        T,
        TIME,
        Fixed("1000ms"),
        true,
        Core,
        "Interval between our heartbeats; must be > 0.",
    ),
    d(
        "deadtime",
        T,
        TIME,
        Fixed("30000ms"),
        true,
        Core,
        "Silence after which a node is declared dead; must be > 2 x keepalive.",
    ),
    d(
        "deadping",
        T,
        TIME,
        Computed("deadtime"),
        true,
        Core,
        "Silence after which a ping node is declared dead; must be > 2 x keepalive.",
    ),
    d(
        "warntime",
        T,
        TIME,
        Computed("deadtime / 2"),
        true,
        Core,
        "Silence after which a late heartbeat is logged; must be > 0.",
    ),
    d(
        "initdead",
        T,
        TIME,
        Computed("deadtime if > 10 s; 12 s if deadtime < 6 s; else 2 x deadtime"),
        true,
        Core,
        "Dead time used at start-up; must be >= deadtime (a warning below 10 s).",
    ),
    d(
        "watchdog",
        T,
        WORD,
        NoDefault,
        true,
        Core,
        "Watchdog device; may be given once.",
    ),
    d(
        "baud",
        T,
        Kind::Choice {
            words: &[
                "9600", "19200", "38400", "57600", "115200", "230400", "460800",
            ],
            nocase: false,
        },
        Fixed("19200"),
        true,
        Opt,
        "Serial speed; may be given once, before the serial lines it applies to.",
    ),
    d(
        "udpport",
        T,
        Kind::Int { min: 1, max: 65535 },
        Computed("ha-cluster/udp from /etc/services, else 694"),
        true,
        Core,
        "UDP port of bcast/ucast; must precede the media it applies to.",
    ),
    d(
        "auto_failback",
        T,
        Kind::Choice {
            words: &[
                "legacy", "true", "on", "yes", "y", "1", "false", "off", "no", "n", "0",
            ],
            nocase: true,
        },
        Fixed("legacy"),
        true,
        Core,
        "on / off (nice_failback modes) or legacy.",
    ),
    d(
        "hbgenmethod",
        T,
        Kind::Choice {
            words: &["file", "time"],
            nocase: false,
        },
        Fixed("file"),
        true,
        Wire,
        "Where the generation number comes from.",
    ),
    d(
        "realtime",
        T,
        BOOL,
        Fixed("true"),
        true,
        Opt,
        "Lock memory and run with SCHED_FIFO.",
    ),
    d(
        "msgfmt",
        T,
        Kind::Choice {
            words: &["classic", "netstring"],
            nocase: false,
        },
        Fixed("classic"),
        true,
        Wire,
        "Message format.",
    ),
    d(
        "conn_logd_time",
        T,
        TIME,
        Fixed("60"),
        true,
        Log,
        "Interval between reconnection attempts to the logging daemon; must be > 0.",
    ),
    d(
        "log_badpack",
        T,
        BOOL,
        Fixed("true"),
        true,
        Log,
        "Log malformed and unauthenticated packets.",
    ),
    d(
        "syslogmsgfmt",
        T,
        BOOL,
        Fixed("true"),
        true,
        Log,
        "Write file log lines in syslog layout.",
    ),
    d(
        "coredumps",
        T,
        BOOL,
        Fixed("true"),
        true,
        Opt,
        "Allow core dumps.",
    ),
    d(
        "pacemaker",
        T,
        Kind::Choice {
            words: &[
                "true", "on", "yes", "y", "1", "false", "off", "no", "n", "0", "respawn",
                "minimal", "manual", "ccm-only", "valgrind",
            ],
            nocase: true,
        },
        Fixed("false"),
        true,
        Core,
        "CRM mode; heartbeat-rs supports only v1 (off).",
    ),
    d(
        "crm",
        T,
        Kind::Choice {
            words: &[
                "true", "on", "yes", "y", "1", "false", "off", "no", "n", "0", "respawn",
                "minimal", "manual", "ccm-only", "valgrind",
            ],
            nocase: true,
        },
        NoDefault,
        false,
        Core,
        "Alias of pacemaker.",
    ),
    d(
        "autojoin",
        T,
        Kind::Choice {
            words: &["none", "other", "any"],
            nocase: true,
        },
        Fixed("none"),
        true,
        Core,
        "Let undeclared nodes join; must be none in v1.",
    ),
    d(
        "uuidfrom",
        T,
        Kind::Choice {
            words: &["file", "nodename"],
            nocase: false,
        },
        Fixed("file"),
        true,
        Wire,
        "Where the node UUID comes from.",
    ),
    d(
        "compression",
        T,
        Kind::Choice {
            words: &["zlib", "bz2"],
            nocase: false,
        },
        Fixed("zlib"),
        true,
        Wire,
        "Compression plugin.",
    ),
    d(
        "compression_threshold",
        T,
        Kind::Int {
            min: 1,
            max: 1 << 32,
        },
        Fixed("2"),
        true,
        Wire,
        "Messages bigger than this many KB are compressed; must be > 0.",
    ),
    d(
        "traditional_compression",
        T,
        BOOL,
        Fixed("no"),
        true,
        Wire,
        "Compress whole messages rather than fields.",
    ),
    d(
        "max_rexmit_delay",
        T,
        Kind::Int {
            min: 1,
            max: 1 << 32,
        },
        Fixed("250"),
        true,
        Wire,
        "Upper bound (ms) of the retransmission request delay; must be > 0.",
    ),
    d(
        "record_config_changes",
        T,
        BOOL,
        Fixed("on"),
        true,
        Crm,
        "CRM only.",
    ),
    d(
        "record_pengine_inputs",
        T,
        BOOL,
        Fixed("on"),
        true,
        Crm,
        "CRM only.",
    ),
    d(
        "enable_config_writes",
        T,
        BOOL,
        Fixed("on"),
        true,
        Crm,
        "CRM only.",
    ),
    d(
        "memreserve",
        T,
        Kind::Int {
            min: 1,
            max: 1 << 32,
        },
        Fixed("6500"),
        true,
        Opt,
        "KB of memory to lock in advance; must be > 0.",
    ),
    // Membership.
    d(
        "node",
        T,
        WORD,
        NoDefault,
        false,
        Core,
        "Cluster node names (lower-cased; at most 100 nodes and ping nodes).",
    ),
    d(
        "quorum_server",
        T,
        WORD,
        NoDefault,
        true,
        Crm,
        "Quorum server host (quirk: also replaces the cluster name).",
    ),
    // Media.
    d(
        "bcast",
        T,
        WORD,
        NoDefault,
        false,
        Core,
        "UDP broadcast on each named interface.",
    ),
    d(
        "udp",
        T,
        WORD,
        NoDefault,
        false,
        Obs,
        "Obsolete alias of bcast (a warning).",
    ),
    d(
        "ucast",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`DEV PEER`: UDP unicast to PEER through DEV.",
    ),
    d(
        "mcast",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`DEV GROUP PORT TTL LOOP`: UDP multicast; TTL 0-4, LOOP 0 or 1.",
    ),
    d(
        "ucast6",
        W,
        LINE,
        NoDefault,
        false,
        Opt,
        "`DEV PEER6`: IPv6 unicast.",
    ),
    d(
        "mcast6",
        W,
        LINE,
        NoDefault,
        false,
        Opt,
        "`DEV GROUP6 PORT HOPS LOOP`: IPv6 multicast.",
    ),
    d(
        "serial",
        T,
        WORD,
        NoDefault,
        false,
        Opt,
        "Serial heartbeat on each named tty (uses baud).",
    ),
    d(
        "ping",
        T,
        WORD,
        NoDefault,
        false,
        Core,
        "Ping nodes, one per host.",
    ),
    d(
        "ping6",
        T,
        WORD,
        NoDefault,
        false,
        Opt,
        "IPv6 ping nodes, one per host.",
    ),
    d(
        "ping_group",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`NAME HOST...`: one ping node alive while any host answers.",
    ),
    // Resource management.
    d(
        "nice_failback",
        T,
        BOOL,
        NoDefault,
        false,
        Obs,
        "Obsolete; see auto_failback (a warning; meaning depends on what precedes it).",
    ),
    d(
        "stonith",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`TYPE CONFIGFILE`: the STONITH device.",
    ),
    d(
        "stonith_host",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`FROMHOST|* TYPE PARAMS...`: the STONITH device used from FROMHOST.",
    ),
    d(
        "fence_agent",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`NODE|* AGENT [KEY=VALUE]...`: the Red Hat fence agent that fences NODE (heartbeat-rs extension, docs/fencing.md).",
    ),
    d(
        "fence_delay",
        T,
        TIME,
        NoDefault,
        true,
        Core,
        "Fence race delay: in a two-node partition the node not favoured (holding fewer groups, or not the first group's home node on a tie) waits this long before fencing its peer; unset or 0: no delay (heartbeat-rs extension, docs/fencing.md).",
    ),
    d(
        "respawn",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`USER /ABS/PATH [ARGS]`: a client started at comm-up and restarted when it exits.",
    ),
    d(
        "failfast",
        W,
        LINE,
        NoDefault,
        false,
        Opt,
        "As respawn; the machine reboots if the client dies abnormally.",
    ),
    d(
        "apiauth",
        W,
        LINE,
        NoDefault,
        false,
        Core,
        "`CLIENT [uid=LIST] [gid=LIST]`: who may sign on to the API as CLIENT.",
    ),
    d(
        "env",
        T,
        WORD,
        NoDefault,
        false,
        Opt,
        "`NAME=VALUE`: exported to every child as HA_NAME=VALUE.",
    ),
    d(
        "crm_daemon_dir",
        T,
        WORD,
        NoDefault,
        true,
        Crm,
        "CRM only; must precede pacemaker.",
    ),
    d(
        "crmd_spawns_pengine",
        T,
        BOOL,
        NoDefault,
        true,
        Crm,
        "CRM only; must precede pacemaker.",
    ),
    // Logging and process.
    d(
        "logfacility",
        T,
        Kind::Choice {
            words: &[
                "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news",
                "security", "syslog", "user", "uucp", "local0", "local1", "local2", "local3",
                "local4", "local5", "local6", "local7", "none",
            ],
            nocase: false,
        },
        NoDefault,
        true,
        Log,
        "Syslog facility, or none (kern also disables syslog: heartbeat quirk).",
    ),
    d(
        "logfile",
        T,
        WORD,
        NoDefault,
        true,
        Log,
        "Log file (/dev/null: none).",
    ),
    d(
        "debugfile",
        T,
        WORD,
        NoDefault,
        true,
        Log,
        "Debug log file (/dev/null: none).",
    ),
    d(
        "use_logd",
        T,
        BOOL,
        Computed("on if none of logfile, debugfile, logfacility is given"),
        true,
        Log,
        "Log through the logging daemon.",
    ),
    d(
        "debug",
        T,
        Kind::Int { min: 0, max: 255 },
        Computed("0, plus one per -d"),
        true,
        Log,
        "Debug level 0-255.",
    ),
    d(
        "rtprio",
        T,
        Kind::Int { min: 1, max: 99 },
        Computed("halfway between the SCHED_FIFO minimum and maximum"),
        true,
        Opt,
        "SCHED_FIFO priority 1-99.",
    ),
    d(
        "coreroot",
        T,
        WORD,
        NoDefault,
        true,
        Opt,
        "Directory for core dumps.",
    ),
    d(
        "use_apphbd",
        T,
        BOOL,
        NoDefault,
        false,
        Opt,
        "Register with the application heartbeat daemon.",
    ),
];

/// The directive called exactly `name` (names are case-sensitive).
pub fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.name == name)
}

/// A directive whose name matches ignoring case, for a "did you mean" hint.
pub fn suggest(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// `heartbeat -D`: the directives with a fixed default, `NAME VALUE` one per line.
pub fn defaults_table() -> String {
    let mut out = String::new();
    for dir in DIRECTIVES {
        if let DefaultValue::Fixed(v) = dir.default {
            out.push_str(dir.name);
            out.push(' ');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

/// The directives recorded in the parameter table, with their default string if fixed.
pub fn recorded() -> impl Iterator<Item = &'static Directive> {
    DIRECTIVES.iter().filter(|d| d.recorded)
}

/// The directive reference as a Markdown table (embedded in docs/configuration.md; a test
/// fails if the document and this table disagree).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "| directive | values | default | class | recorded | meaning |\n|---|---|---|---|---|---|\n",
    );
    for d in DIRECTIVES {
        let values = match (d.arity, d.kind) {
            (Arity::WholeLine, _) | (_, Kind::Line) => "whole line".to_string(),
            (_, Kind::Time) => "time".to_string(),
            (_, Kind::Bool) => "boolean".to_string(),
            (_, Kind::Int { min, max }) => format!("integer {min}-{max}"),
            (_, Kind::Choice { words, nocase }) => {
                let w = words.join(" \\| ");
                if nocase { format!("{w} (any case)") } else { w }
            }
            (_, Kind::Word) => "word(s)".to_string(),
        };
        let default = match d.default {
            DefaultValue::None => "-".to_string(),
            DefaultValue::Fixed(v) => format!("`{v}`"),
            DefaultValue::Computed(how) => how.to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            d.name,
            values,
            default,
            d.class.name(),
            if d.recorded { "yes" } else { "no" },
            d.doc.replace('|', "\\|"),
        ));
    }
    out
}

/// Parses a time value (§1.2) into milliseconds, rounded half up. `None` if invalid.
pub fn parse_time_ms(s: &str) -> Option<u64> {
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(num_len);
    if num.is_empty() || num.bytes().filter(|b| *b == b'.').count() > 1 || num == "." {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let unit = unit.to_ascii_lowercase();
    let ms = if unit.is_empty() {
        value * 1000.0
    } else if unit.starts_with("ms") {
        value
    } else if unit == "us" || unit == "usec" {
        value / 1000.0
    } else {
        return None;
    };
    // Half up; `as` saturates absurdly large values rather than wrapping.
    Some((ms + 0.5).floor() as u64)
}

/// Parses a heartbeat boolean (§1.2).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_table_is_heartbeats() {
        let expected =
            "cluster linux-ha | hopfudge 1 | keepalive 1000ms | deadtime 30000ms | baud 19200 |
auto_failback legacy | hbgenmethod file | realtime true | msgfmt classic |
conn_logd_time 60 | log_badpack true | syslogmsgfmt true | coredumps true |
pacemaker false | autojoin none | uuidfrom file | compression zlib |
compression_threshold 2 | traditional_compression no | max_rexmit_delay 250 |
record_config_changes on | record_pengine_inputs on | enable_config_writes on | memreserve 6500";
        let lines: Vec<String> = expected
            .split(['|', '\n'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let got: Vec<String> = defaults_table().lines().map(str::to_string).collect();
        assert_eq!(got, lines);
    }

    #[test]
    fn names_are_unique_and_case_sensitive() {
        for (i, a) in DIRECTIVES.iter().enumerate() {
            assert!(
                DIRECTIVES[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
        assert!(lookup("Keepalive").is_none());
        assert_eq!(suggest("Keepalive").map(|d| d.name), Some("keepalive"));
        for gone in ["normalpoll", "hbaping", "rds", "tipc"] {
            assert!(lookup(gone).is_none());
        }
    }

    #[test]
    fn time_values() {
        for (s, ms) in [
            ("1", 1000),
            ("1.5", 1500),
            ("500ms", 500),
            ("500MSEC", 500),
            ("0.1", 100),
            (".5", 500),
            ("1000000us", 1000),
            ("499us", 0),
            ("500us", 1),
            ("501usec", 1),
        ] {
            assert_eq!(parse_time_ms(s), Some(ms), "{s}");
        }
        for s in ["", "ms", "1s", "1.2.3", ".", "-1", "1 ms", "2x", "1usx"] {
            assert_eq!(parse_time_ms(s), None, "{s}");
        }
    }

    #[test]
    fn booleans() {
        for s in ["true", "ON", "Yes", "y", "1"] {
            assert_eq!(parse_bool(s), Some(true));
        }
        for s in ["false", "Off", "NO", "n", "0"] {
            assert_eq!(parse_bool(s), Some(false));
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool("enable"), None);
    }
}
