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
}

impl ClusterConfig {
    pub fn nice_failback(&self) -> bool {
        self.auto_failback != AutoFailback::Legacy
    }
}

impl From<&Config> for ClusterConfig {
    fn from(c: &Config) -> ClusterConfig {
        let stonith_device = c
            .stonith
            .first()
            .map(|d| match d {
                crate::config::StonithDirective::Stonith { device_type, .. }
                | crate::config::StonithDirective::StonithHost { device_type, .. } => {
                    device_type.clone()
                }
            })
            .unwrap_or_default();
        ClusterConfig {
            nodes: c.nodes.clone(),
            ping_nodes: c.ping_nodes.clone(),
            media: c.media.iter().map(|m| m.link_name()).collect(),
            timing: c.timing,
            auto_failback: c.auto_failback,
            groups: c.groups.clone(),
            stonith: !c.stonith.is_empty(),
            stonith_device,
            auth: c.auth.clone(),
            max_rexmit_delay: c.max_rexmit_delay,
            hopfudge: c.hopfudge,
        }
    }
}
