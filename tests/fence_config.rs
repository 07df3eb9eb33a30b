//! The `fence_agent` ha.cf extension and the choice of fencing method per victim.

use std::path::{Path, PathBuf};

use heartbeat_rs::config::model::{FenceValue, NodeName};
use heartbeat_rs::config::resolve::{CheckOptions, Loaded, StaticHost, from_texts};
use heartbeat_rs::config::{Config, Diagnostic};
use heartbeat_rs::sys::fence::{Method, StonithParams, agent_input};

const BASE: &str =
    "node node1 node2 node3\nbcast eth0\nauto_failback on\nlogfile /var/log/ha-log\nuse_logd no\n";

fn run(extra: &str, facts: &StaticHost) -> Result<Loaded, Vec<Diagnostic>> {
    from_texts(
        Path::new("/etc/ha.d"),
        &format!("{BASE}{extra}"),
        "node1 10.0.0.1\n",
        "auth 1\n1 crc\n",
        facts,
        &CheckOptions::default(),
    )
}

fn cfg(extra: &str) -> Config {
    match run(extra, &StaticHost::named("node1")) {
        Ok(l) => l.config,
        Err(d) => panic!("{extra:?} refused: {d:?}"),
    }
}

fn first_error(extra: &str) -> String {
    let d = run(extra, &StaticHost::named("node1")).expect_err(extra);
    d.iter().find(|d| d.is_error()).unwrap().to_string()
}

fn node(n: &str) -> NodeName {
    NodeName::new(n)
}

#[test]
fn parses_agents_with_params_and_secrets() {
    let c = cfg(
        "fence_agent node2 fence_virsh ipaddr=10.0.0.9 login=root passwd=s3cret port=vm2\n\
                 fence_agent * /usr/local/sbin/fence_lab action=off\n",
    );
    assert_eq!(c.fence_agents.len(), 2);
    let a = &c.fence_agents[0];
    assert_eq!(a.node, Some(node("node2")));
    assert_eq!(a.agent, PathBuf::from("fence_virsh"));
    assert_eq!(a.params.len(), 4);
    assert_eq!(
        a.params[0],
        ("ipaddr".into(), FenceValue::Plain("10.0.0.9".into()))
    );
    assert!(
        matches!(a.params[2], (ref k, FenceValue::Secret(ref s)) if k == "passwd" && s.expose() == b"s3cret")
    );
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug leaks the password"
    );
    assert_eq!(c.fence_agents[1].node, None);
    // Stdin for node2: defaults first, then the line's parameters in order.
    assert_eq!(
        String::from_utf8(agent_input(&node("node2"), &a.params)).unwrap(),
        "action=reboot\nipaddr=10.0.0.9\nlogin=root\npasswd=s3cret\nport=vm2\n"
    );
}

#[test]
fn names_are_normalised_like_fencing_py() {
    let c = cfg("fence_agent NODE2 fence_ipmilan Power-Wait=5 PASSWORD=x\n");
    let a = &c.fence_agents[0];
    assert_eq!(a.node, Some(node("node2")));
    assert_eq!(a.params[0].0, "power_wait");
    assert!(matches!(a.params[1].1, FenceValue::Secret(_)));
}

#[test]
fn positioned_errors_that_never_quote_a_password() {
    assert_eq!(
        first_error("fence_agent node2\n"),
        "/etc/ha.d/ha.cf:6:18: error: expected a fence agent after `node2`, found end of line"
    );
    assert_eq!(
        first_error("fence_agent node2 ./fence_x\n"),
        "/etc/ha.d/ha.cf:6:19: error: expected a fence agent (an absolute path or fence_NAME), found `./fence_x`"
    );
    let e = first_error("fence_agent node2 fence_x passwd=hunter2 s3cretword\n");
    assert!(
        e.starts_with("/etc/ha.d/ha.cf:6:42: error: expected KEY=VALUE"),
        "{e}"
    );
    assert!(!e.contains("hunter2") && !e.contains("s3cretword"), "{e}");
    assert_eq!(
        first_error("fence_agent node2 fence_x action=on\n"),
        "/etc/ha.d/ha.cf:6:34: error: expected the fencing action reboot or off, found `on`"
    );
    let e = first_error("fence_agent node2 fence_x =v\n");
    assert!(
        e.starts_with("/etc/ha.d/ha.cf:6:27: error: expected a parameter name"),
        "{e}"
    );
}

#[test]
fn a_missing_agent_is_reported_with_the_password_masked() {
    let facts = StaticHost {
        node: "node1".into(),
        paths: Some(vec![]),
        ..StaticHost::default()
    };
    let d = run(
        "fence_agent node2 /opt/fence_nowhere passwd=hunter2\n",
        &facts,
    )
    .expect_err("missing agent");
    let all: String = d.iter().map(|d| format!("{d}\n")).collect();
    assert!(all.contains("/opt/fence_nowhere"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn method_per_victim() {
    // An agent for node2, one for everyone else, and a STONITH device: agents win.
    let c = cfg("stonith_host * null node1 node2 node3\n\
                 fence_agent * fence_a\n\
                 fence_agent node2 fence_b\n");
    let agent_of = |n: &str| match Method::for_node(&c, &node(n)) {
        Some(Method::Agent { program, .. }) => program,
        other => panic!("{other:?}"),
    };
    assert_eq!(agent_of("node2"), PathBuf::from("fence_b"));
    assert_eq!(agent_of("node3"), PathBuf::from("fence_a"));

    let c = cfg("stonith_host * null node1 node2\nstonith_host node1 external/ssh node2 node3\n");
    assert_eq!(
        Method::for_node(&c, &node("node2")),
        Some(Method::Stonith {
            device_type: "external/ssh".into(),
            params: StonithParams::Positional("node2 node3".into())
        })
    );
    let c = cfg("stonith_host * meatware node1 node2\n");
    assert_eq!(Method::for_node(&c, &node("node2")), Some(Method::Meatware));
    // Another node's stonith_host line does not apply here.
    let c = cfg("stonith_host node2 null node1\n");
    assert_eq!(Method::for_node(&c, &node("node2")), None);
    assert_eq!(Method::for_node(&cfg(""), &node("node2")), None);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Whatever else is wrong on the line, no diagnostic ever shows the password.
        #[test]
        fn diagnostics_never_show_a_password(
            pw in "[A-Za-z0-9!@%^*+]{6,20}",
            before in prop::sample::select(vec!["", "bogus ", "login=x "]),
            after in prop::sample::select(vec!["", " stray", " action=on", " =v"]),
            agent in prop::sample::select(vec!["fence_x", "virsh", "/opt/fence_none"]),
        ) {
            let facts = StaticHost {
                node: "node1".into(),
                paths: Some(vec![]),
                ..StaticHost::default()
            };
            let line = format!("fence_agent node2 {agent} {before}passwd={pw}{after}\n");
            if let Err(d) = run(&line, &facts) {
                let all: String = d.iter().map(|d| format!("{d}\n{d:?}\n")).collect();
                prop_assert!(!all.contains(&pw), "{}", all);
            }
            if let Ok(l) = run(&line, &StaticHost::named("node1")) {
                let shown = format!("{:?}", l.config);
                prop_assert!(!shown.contains(&pw), "Debug shows the password");
            }
        }
    }
}

#[test]
fn fencer_uses_the_configured_method_or_fails() {
    use heartbeat_rs::sys::fence::{Fencer, Outcome, Settings};
    use heartbeat_rs::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fencer::new(Settings {
        meatware_dir: dir.path().to_path_buf(),
        work_dir: dir.path().to_path_buf(),
        ..Settings::default()
    });
    // Nothing configured for node3 here: a failure, never a silent success.
    let c = cfg("stonith_host node2 null node3\n");
    assert!(f.fence(Instant::ZERO, &c, &node("node3")).is_empty());
    let done = f.poll(Instant::ZERO);
    assert_eq!(done[0].outcome, Outcome::NotStarted);
    assert_eq!(done[0].log[0].1, "No fencing device configured for node3.");
    // meatware configured: the request is pending in the directory given.
    let c = cfg("stonith_host * meatware node2\n");
    let log = f.fence(Instant::ZERO, &c, &node("node2"));
    assert_eq!(log.len(), 2);
    assert!(dir.path().join("meatware.node2").exists());
    f.cancel_all();
}
