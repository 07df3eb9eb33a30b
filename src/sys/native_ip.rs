//! In-process `IPaddr` / `IPaddr2` resources: the same argument, results and summary lines
//! as our resource.d scripts, without forking a shell, so a takeover adds the address in
//! microseconds and the first gratuitous ARP leaves at once. The caller (the daemon's loop)
//! sends the returned [`Announcer`]'s frames on its timer through an [`ArpSender`].
//!
//! [`ArpSender`]: crate::sys::arp::ArpSender

use std::time::Duration;

use crate::sys::netaddr::{IpSpec, NetAddrError, add_ipv4, del_ipv4, has_ipv4};
use crate::sys::script::{Exit, Op, Outcome};
use crate::sys::send_arp::Announcer;

/// Which scripts this module can stand in for.
pub fn handles(script: &str, args: &[String]) -> bool {
    matches!(script, "IPaddr" | "IPaddr2") && args.len() == 1
}

/// heartbeat's repeat defaults: IPaddr 10 pairs every 500 ms, IPaddr2 5 every 200 ms.
pub fn arp_defaults(script: &str) -> (u32, Duration) {
    if script == "IPaddr2" {
        (5, Duration::from_millis(200))
    } else {
        (10, Duration::from_millis(500))
    }
}

/// The result of a native operation.
#[derive(Debug)]
pub struct NativeOutcome {
    /// As a script run would report it (`output` holds the summary line(s) it prints).
    pub outcome: Outcome,
    /// Lines our script would log (`INFO: ...`, `ERROR: ...`), for the log router.
    pub log: Vec<String>,
    /// After a start: announce on this interface.
    pub announce: Option<(String, Announcer)>,
}

fn done(op: Op, code: i32, mut log: Vec<String>, msg: &str) -> NativeOutcome {
    log.push(msg.to_owned());
    NativeOutcome {
        outcome: Outcome {
            op,
            exit: Exit::Code(code),
            output: format!("{msg}\n").into_bytes(),
        },
        log,
        announce: None,
    }
}

/// Runs `op` on the address `arg` (`ip[/nm[/if[/bcast]]]`). `arp` overrides the repeat
/// count and interval (ha.cf `env ARP_REPEAT=` / `ARP_INTERVAL_MS=`).
pub fn run(script: &str, arg: &str, op: Op, arp: Option<(u32, Duration)>) -> NativeOutcome {
    const OK: &str = "INFO:  Success";
    const RUNNING: &str = "INFO:  Running OK";
    const STOPPED: &str = "INFO:  Resource is stopped";
    const GENERIC: &str = "ERROR:  Generic error";
    const NOT_CONFIGURED: &str = "ERROR:  Program is not configured";
    let spec = match IpSpec::parse(arg) {
        Ok(s) => s,
        Err(e) => return done(op, 6, vec![format!("ERROR: {e}")], NOT_CONFIGURED),
    };
    match op {
        Op::Status => match has_ipv4(spec.ip) {
            Ok(Some(_)) => done(op, 0, vec![], RUNNING),
            Ok(None) => done(op, 7, vec![], STOPPED),
            Err(e) => done(op, 1, vec![format!("ERROR: {e}")], GENERIC),
        },
        Op::Stop => match del_ipv4(spec.ip) {
            Ok(_) => done(op, 0, vec![], OK),
            Err(e) => done(op, 1, vec![format!("ERROR: {e}")], GENERIC),
        },
        Op::Start => match add_ipv4(&spec) {
            Ok(added) => {
                let mut n = done(
                    op,
                    0,
                    vec![format!(
                        "INFO: added {}/{} on {}",
                        spec.ip, added.prefix, added.iface
                    )],
                    OK,
                );
                if added.changed {
                    let (count, interval) = arp.unwrap_or_else(|| arp_defaults(script));
                    n.announce = Some((added.iface, Announcer::new(spec.ip, count, interval)));
                }
                n
            }
            Err(e @ NetAddrError::Netlink(_)) => done(op, 1, vec![format!("ERROR: {e}")], GENERIC),
            Err(e) => done(op, 6, vec![format!("ERROR: {e}")], NOT_CONFIGURED),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_scripts_with_one_argument() {
        assert!(handles("IPaddr", &["10.0.0.1".into()]));
        assert!(handles("IPaddr2", &["10.0.0.1/24/eth0".into()]));
        assert!(!handles("IPaddr", &[]));
        assert!(!handles("Filesystem", &["a".into()]));
        assert_eq!(arp_defaults("IPaddr2"), (5, Duration::from_millis(200)));
        assert_eq!(arp_defaults("IPaddr"), (10, Duration::from_millis(500)));
    }

    #[test]
    fn bad_arguments_answer_like_the_script() {
        let n = run("IPaddr", "10.0.0.300", Op::Start, None);
        assert_eq!(n.outcome.exit, Exit::Code(6));
        assert_eq!(n.outcome.output, b"ERROR:  Program is not configured\n");
        assert!(!n.outcome.ok());
        let s = run("IPaddr", "10.0.0.1/40", Op::Status, None);
        assert!(!s.outcome.ok());
    }

    #[test]
    fn status_of_an_absent_address_is_stopped() {
        // TEST-NET-1 is never configured on a real host.
        let n = run("IPaddr2", "192.0.2.213", Op::Status, None);
        assert_eq!(n.outcome.output, b"INFO:  Resource is stopped\n");
        assert!(!n.outcome.ok());
    }
}
