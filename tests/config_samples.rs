//! Real configurations: every ha.cf/haresources/authkeys that real heartbeat 3.0.6 ran with in
//! the captured fixtures, and the Debian heartbeat package's own annotated samples.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use heartbeat_rs::config::load::{ConfigError, load_with};
use heartbeat_rs::config::resolve::{CheckOptions, Loaded, StaticHost};
use heartbeat_rs::config::{AuthMethod, AutoFailback, Medium, authkeys, ha_cf, haresources};

/// Copies a fixture directory to a temporary one (authkeys mode 600: git keeps no modes) and
/// loads it as `node` on a machine where the lab's interfaces and devices exist.
fn load_fixture(dir: &Path, node: &str) -> Result<Loaded, ConfigError> {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["ha.cf", "haresources", "authkeys"] {
        let src = dir.join(name);
        let src = if src.exists() {
            src
        } else {
            // cl_status/ keeps only ha.cf and haresources; its runs used the lab's keys.
            common::fixture("logs/config").join(name)
        };
        fs::copy(&src, tmp.path().join(name)).unwrap();
    }
    let keys = tmp.path().join("authkeys");
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).unwrap();
    let facts = StaticHost {
        node: node.to_string(),
        interfaces: Some(vec!["eth0".into()]),
        paths: Some(vec!["/dev/ttyS0".into()]),
        hosts: Some(vec![]),
        services: vec![],
    };
    let r = load_with(tmp.path(), None, &CheckOptions::default(), &facts);
    drop(tmp);
    r
}

fn fixture_dirs() -> Vec<(PathBuf, String)> {
    let mut v = vec![
        (common::fixture("logs/config"), "node1".to_string()),
        (common::fixture("cl_status"), "node1".to_string()),
    ];
    let wire = common::fixture("wire");
    let mut runs: Vec<_> = fs::read_dir(&wire)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    for run in runs {
        for node in ["node1", "node2"] {
            v.push((run.join(node), node.to_string()));
        }
    }
    v
}

#[test]
fn every_fixture_configuration_is_accepted() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 30, "found only {} fixture dirs", dirs.len());
    for (dir, node) in dirs {
        let l =
            load_fixture(&dir, &node).unwrap_or_else(|e| panic!("{} refused:\n{e}", dir.display()));
        let c = &l.config;
        assert_eq!(c.local_node.as_str(), node);
        assert_eq!(c.nodes.len(), 2, "{}", dir.display());
        assert_eq!(c.auto_failback, AutoFailback::On);
        assert_eq!(c.timing.keepalive.as_millis(), 1000);
        assert_eq!(c.timing.deadtime.as_millis(), 3000);
        assert_eq!(c.timing.initdead.as_millis(), 10000);
        assert_eq!(c.groups.len(), 1);
        assert_eq!(c.groups[0].resources[0].script, "IPaddr");
        assert_eq!(c.groups[0].resources[0].args, ["192.0.2.100/24/eth0"]);
        assert_eq!(c.groups[0].resources[1].args, ["web"]);
        let name = dir.to_string_lossy();
        let medium = &c.media[0];
        if name.contains("mcast") {
            assert!(matches!(
                medium,
                Medium::Mcast {
                    ttl: 1,
                    loop_back: false,
                    port: 694,
                    ..
                }
            ));
        } else if name.contains("serial") {
            assert!(matches!(medium, Medium::Serial { .. }));
            // `baud` after `serial` warns (heartbeat: "baudrate setting must precede media").
            assert!(
                l.warnings
                    .iter()
                    .any(|w| w.message.contains("`baud` after a medium"))
            );
        } else if name.contains("ucast") {
            let peer = if node == "node1" {
                "192.0.2.12"
            } else {
                "192.0.2.11"
            };
            assert!(matches!(medium, Medium::Ucast { peer: p, .. } if p == peer));
        } else {
            assert!(matches!(medium, Medium::Bcast { port: 694, .. }));
        }
        if name.contains("ping") || name.ends_with("cl_status") {
            assert_eq!(c.ping_nodes.len(), 1, "{name}");
        }
        let method = c.auth.send_key().method();
        if name.contains("-crc") {
            assert_eq!(method, AuthMethod::Crc);
        } else if name.contains("-md5") {
            assert_eq!(method, AuthMethod::Md5);
        } else {
            assert_eq!(method, AuthMethod::Sha1);
        }
        // The run's node names come out of both files in lower case.
        assert_eq!(c.groups[0].node.as_str(), "node1");
    }
}

#[test]
fn the_fixture_is_refused_as_a_node_it_does_not_declare() {
    let e = load_fixture(&common::fixture("logs/config"), "node3").unwrap_err();
    assert!(
        e.to_string()
            .contains("expected this node (`node3`) among the declared nodes")
    );
}

const DEBIAN_DOC: &str = "/usr/share/doc/heartbeat";

/// Where the samples are: the installed package, or (images that exclude /usr/share/doc)
/// the copy scripts/install-test-deps extracts from the .deb into target/.
fn doc_dir() -> std::path::PathBuf {
    let installed = Path::new(DEBIAN_DOC);
    if installed.join("ha.cf.gz").exists() {
        return installed.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/heartbeat-doc/usr/share/doc/heartbeat")
}

/// The Debian package's sample files (scripts/install-test-deps installs the package
/// without starting it). A test may spawn gzip; the core may not.
#[allow(clippy::disallowed_methods)]
fn debian_sample(name: &str) -> String {
    let plain = doc_dir().join(name);
    if let Ok(t) = fs::read_to_string(&plain) {
        return t;
    }
    let gz = doc_dir().join(format!("{name}.gz"));
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap_or_else(|e| panic!("gzip -dc {}: {e}", gz.display()));
    assert!(
        out.status.success(),
        "{} missing: run scripts/install-test-deps (installs the heartbeat package)",
        gz.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Uncomments `#word ...` lines whose first word satisfies `keep`.
fn uncomment(text: &str, keep: impl Fn(&str) -> bool) -> String {
    text.lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest)
                if rest
                    .split([' ', '\t'])
                    .next()
                    .is_some_and(|w| !w.is_empty() && keep(w)) =>
            {
                rest.to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn debian_sample_files_as_shipped() {
    let cf = ha_cf::parse(&debian_sample("ha.cf"), Path::new("ha.cf"));
    assert_eq!(cf.errors(), 0, "{:?}", cf.diags);
    assert_eq!(cf.value("logfacility").unwrap().value, "local0");
    let hr = haresources::parse(&debian_sample("haresources"), Path::new("haresources"));
    assert!(hr.diags.is_empty() && hr.groups.is_empty());
    // The shipped authkeys has every line commented out: heartbeat refuses it too.
    let e = authkeys::parse(&debian_sample("authkeys"), Path::new("authkeys")).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .contains("expected an `auth N` line, found none")
    );
}

#[test]
fn debian_sample_examples_uncommented() {
    // ha.cf: every commented-out example directive switched on.
    let text = uncomment(&debian_sample("ha.cf"), |w| {
        w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    });
    let cf = ha_cf::parse(&text, Path::new("ha.cf"));
    let errors: Vec<String> = cf
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    // Exactly what heartbeat also refuses: `hbaping` is not built by Debian, the
    // `msgfmt classic/netstring` line is documentation notation, and `apiauth ipfail`
    // is given twice.
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].contains("found `hbaping`"));
    assert!(errors[1].contains("expected one apiauth line for `ipfail`"));
    assert!(errors[2].contains("found `classic/netstring`"));
    assert_eq!(cf.nodes.len(), 2);
    assert!(cf.media.len() >= 10);
    // A stonith password never reaches a diagnostic.
    assert!(
        cf.diags
            .iter()
            .all(|d| !d.to_string().contains("mysecretpassword"))
    );

    let text = uncomment(&debian_sample("haresources"), |w| {
        w.starts_with("just.") || w == "node1" || w == "node-name"
    });
    let hr = haresources::parse(&text, Path::new("haresources"));
    assert_eq!(hr.groups.len(), 6);
    assert!(hr.diags.iter().all(|d| !d.is_error()), "{:?}", hr.diags);
    let g = &hr.groups[4].group;
    assert_eq!(g.node.as_str(), "just.linux-ha.org");
    assert_eq!(g.resources[0].args, ["135.9.216.3/28/eth0/135.9.216.12"]);
    let fs = &hr.groups[5].group.resources[1];
    assert_eq!((fs.script.as_str(), fs.args.len()), ("Filesystem", 3));

    let text = uncomment(&debian_sample("authkeys"), |w| {
        w == "auth" || w.bytes().all(|b| b.is_ascii_digit())
    });
    let k = authkeys::parse(&text, Path::new("authkeys")).unwrap();
    assert_eq!(k.send_key().method(), AuthMethod::Crc);
    assert_eq!(k.iter().count(), 3);
}
