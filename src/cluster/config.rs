//! The core's own view of the configuration: only what the state machine needs, so the
//! simulator and tests can build one directly. `From<&Config>` derives it from ha.cf.

use crate::config::{AuthKeys, AutoFailback, Config, NodeName, PingNode, ResourceGroup, Timing};
use crate::time::Duration;

#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Normal nodes, in ha.cf order (this node included).
    pub nodes: Vec<NodeName>,
    pub ping_nodes: Vec<PingNode>,
    /// One name per medium, indexed like `Input::Datagram::medium`.
    pub media: Vec<String>,
    pub timing: Timing,
    pub auto_failback: AutoFailback,
    pub groups: Vec<ResourceGroup>,
    /// A STONITH device is configured: a dead peer is fenced before takeover.
    pub stonith: bool,
    /// Device id used in `Resetting node N with [ID]`.
    pub stonith_device: String,
    pub auth: AuthKeys,
    pub max_rexmit_delay: Duration,
    pub hopfudge: u8,
    /// Fence race delay (`fence_delay`): the node not favoured waits this long before its
    /// first attempt to fence a peer (docs/fencing.md §4). Zero: no delay.
    pub fence_delay: Duration,
    /// Built-in ipfail (behaviour spec §5.2): a node seeing fewer ping nodes than its peer
    /// hands its groups over. On when ha.cf respawns an `ipfail` client.
    pub ipfail: bool,
    /// `log_badpack`: log packets that fail authentication.
    pub log_badpack: bool,
}

impl ClusterConfig {
    pub fn nice_failback(&self) -> bool {
        self.auto_failback != AutoFailback::Legacy
    }
}

impl From<&Config> for ClusterConfig {
    fn from(c: &Config) -> ClusterConfig {
        // Fencing is configured when a STONITH line applies to this node (the last one
        // wins, and a `stonith_host` for another node does not count) or any fence agent
        // is declared. Getting this wrong means taking over without fencing.
        let active = c.active_stonith();
        let stonith_device = match active {
            Some(
                crate::config::StonithDirective::Stonith { device_type, .. }
                | crate::config::StonithDirective::StonithHost { device_type, .. },
            ) => device_type.clone(),
            None => c
                .fence_agents
                .first()
                .and_then(|a| a.agent.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let stonith = active.is_some() || !c.fence_agents.is_empty();
        ClusterConfig {
            nodes: c.nodes.clone(),
            ping_nodes: c.ping_nodes.clone(),
            media: c.media.iter().map(|m| m.link_name()).collect(),
            timing: c.timing,
            auto_failback: c.auto_failback,
            groups: c.groups.clone(),
            stonith,
            stonith_device,
            auth: c.auth.clone(),
            max_rexmit_delay: c.max_rexmit_delay,
            hopfudge: c.hopfudge,
            fence_delay: c.fence_delay,
            ipfail: c.ipfail(),
            log_badpack: c.log_badpack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{CheckOptions, StaticHost, from_texts};

    fn cluster_config(extra: &str) -> ClusterConfig {
        let ha_cf = format!("node node1 node2\nbcast eth0\nauto_failback on\n{extra}");
        let loaded = from_texts(
            std::path::Path::new("/etc/ha.d"),
            &ha_cf,
            "node1 192.0.2.100\n",
            "auth 1\n1 crc\n",
            &StaticHost::named("node1"),
            &CheckOptions::default(),
        )
        .expect("the test configuration is valid");
        ClusterConfig::from(&loaded.config)
    }

    #[test]
    fn no_fencing_line_means_no_fencing() {
        assert!(!cluster_config("").stonith);
    }

    #[test]
    fn a_fence_agent_alone_means_fencing_is_configured() {
        let c = cluster_config("fence_agent node2 /usr/sbin/fence_virsh ipaddr=192.0.2.1\n");
        assert!(
            c.stonith,
            "a fence_agent-only cluster must fence before takeover"
        );
        assert_eq!(c.stonith_device, "fence_virsh");
    }

    #[test]
    fn respawning_ipfail_turns_the_built_in_ipfail_on() {
        assert!(!cluster_config("").ipfail);
        assert!(cluster_config("respawn hacluster /usr/lib/heartbeat/ipfail\n").ipfail);
        assert!(cluster_config("respawn hacluster /usr/libexec/heartbeat/ipfail\n").ipfail);
        assert!(!cluster_config("respawn hacluster /usr/lib/heartbeat/ipfail2\n").ipfail);
    }

    #[test]
    fn fence_delay_is_read_and_defaults_to_none() {
        assert_eq!(cluster_config("").fence_delay, Duration::ZERO);
        assert_eq!(
            cluster_config("fence_delay 15\n").fence_delay,
            Duration::from_secs(15)
        );
        assert_eq!(
            cluster_config("fence_delay 1500ms\n").fence_delay,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn a_stonith_host_line_for_another_node_is_not_our_device() {
        let c = cluster_config("stonith_host node2 null node1\n");
        assert!(!c.stonith);
        let c = cluster_config("stonith_host node2 null node1\nstonith_host * ssh node1 node2\n");
        assert!(c.stonith);
        assert_eq!(c.stonith_device, "ssh");
    }
}
