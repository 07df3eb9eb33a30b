//! Entry point shared by the `cluster_packet` fuzz target (`fuzz/`) and its corpus replay
//! test. The wire fuzzers stop at the signature: a random message never verifies, so the
//! core's handling of *authentic* but odd messages (a peer with a bug, a newer heartbeat,
//! a key holder gone wrong) was reached only through the simulator's well-formed traffic.
//! Here every message is signed with the cluster's key first, so it reaches the core.
//!
//! Input: one selector byte (mode, STONITH, ipfail), then wire messages (netstring or
//! classic text) separated by [`SEPARATOR`]. node1 receives them from the LAN half a
//! second apart, answers every job and fence at once, and runs its timers in between.
//! Any panic is a bug found; nothing else is asserted, because an authentic message may
//! legitimately change anything.

use super::{Action, Boot, Cluster, ClusterConfig, Input, StatusView};
use crate::config::{
    AuthKey, AuthKeys, AutoFailback, KeyIndex, NodeName, PingNode, Resource, ResourceGroup, Secret,
    Timing,
};
use crate::time::{Duration, Instant};
use crate::wire;

/// Between two messages of one input.
pub const SEPARATOR: &[u8] = b"\n@@\n";

/// The fixture captures' key (`1 sha1 testkey`), so captured packets verify as they are.
fn keys() -> Option<AuthKeys> {
    KeyIndex::new(1).map(|i| AuthKeys::single(i, AuthKey::Sha1(Secret::new("testkey"))))
}

fn group(node: &str, ip: &str) -> ResourceGroup {
    ResourceGroup {
        node: NodeName::new(node),
        resources: vec![Resource {
            token: ip.into(),
            script: "IPaddr".into(),
            args: vec![ip.into()],
        }],
    }
}

fn config(selector: u8, auth: AuthKeys) -> ClusterConfig {
    ClusterConfig {
        nodes: vec![NodeName::new("node1"), NodeName::new("node2")],
        ping_nodes: vec![PingNode {
            name: "192.0.2.254".into(),
            hosts: vec!["192.0.2.254".into()],
            is_group: false,
        }],
        media: vec!["eth0".into()],
        timing: Timing {
            keepalive: Duration::from_secs(1),
            deadtime: Duration::from_secs(5),
            warntime: Duration::from_secs(3),
            initdead: Duration::from_secs(10),
            deadping: Duration::from_secs(5),
        },
        auto_failback: [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy]
            [usize::from(selector % 3)],
        groups: vec![group("node1", "192.0.2.100"), group("node2", "192.0.2.101")],
        stonith: selector & 0x04 != 0,
        stonith_device: "fuzz".into(),
        auth,
        max_rexmit_delay: Duration::from_millis(250),
        hopfudge: 1,
        fence_delay: Duration::ZERO,
        ipfail: selector & 0x08 != 0 && selector % 3 != 2,
        log_badpack: true,
    }
}

/// Drains node1's actions, answering what needs an answer: jobs and notifications
/// succeed, fences succeed. Bounded, so a core that never stops asking cannot hang us.
fn settle(c: &mut Cluster, now: Instant) {
    for _ in 0..1000 {
        let Some(a) = c.poll_action() else {
            return;
        };
        match a {
            Action::Run(job) => c.handle(
                now,
                Input::JobFinished {
                    job: job.id,
                    ok: true,
                },
            ),
            Action::Notify(n) => c.handle(
                now,
                Input::JobFinished {
                    job: n.id,
                    ok: true,
                },
            ),
            Action::Fence { node } => c.handle(now, Input::FenceFinished { node, ok: true }),
            _ => {}
        }
    }
}

/// Runs node1's timers up to `until`, settling after each.
fn run_until(c: &mut Cluster, until: Instant) {
    for _ in 0..1000 {
        match c.poll_timeout() {
            Some(t) if t <= until => {
                c.handle_timeout(t);
                settle(c, t);
            }
            _ => return,
        }
    }
}

/// Returns node1's final view (for the corpus test: the seeds must reach the core).
pub fn cluster_packet(data: &[u8]) -> Option<StatusView> {
    let (&selector, rest) = data.split_first()?;
    let auth = keys()?;
    let boot = Boot {
        generation: 7,
        seed: 1,
        wall_secs: 1_000,
        pid: 42,
        uuid: [1; 16],
        restart: None,
    };
    let mut now = Instant::from_micros(0);
    let mut c = Cluster::new(
        config(selector, auth.clone()),
        NodeName::new("node1"),
        boot,
        now,
    )
    .ok()?;
    settle(&mut c, now);
    c.handle(
        now,
        Input::PingReply {
            host: "192.0.2.254".into(),
        },
    );
    for chunk in split(rest).take(64) {
        now += Duration::from_millis(500);
        run_until(&mut c, now);
        // As received (a captured packet verifies as it is), then signed by us.
        c.handle(
            now,
            Input::Datagram {
                medium: 0,
                bytes: chunk.to_vec(),
            },
        );
        settle(&mut c, now);
        if let Ok(r) = wire::parse(chunk)
            && let Ok(bytes) = wire::encode_udp(r.message(), &auth)
        {
            c.handle(now, Input::Datagram { medium: 0, bytes });
            settle(&mut c, now);
        }
        let _ = c.status();
    }
    run_until(&mut c, now + Duration::from_secs(30));
    Some(c.status())
}

fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let d = rest?;
        match d.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                rest = Some(&d[i + SEPARATOR.len()..]);
                Some(&d[..i])
            }
            None => {
                rest = None;
                Some(d)
            }
        }
    })
}
