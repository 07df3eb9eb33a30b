//! A key never appears in any output: Debug/Display of the model, diagnostics, summaries.

use std::path::Path;

use heartbeat_rs::cli::check_config::summary;
use heartbeat_rs::config::resolve::{CheckOptions, StaticHost, from_texts};
use heartbeat_rs::config::{AuthKey, Secret, authkeys};

const KEY: &str = "Tops3cretKeyMaterial";

#[test]
fn secret_debug_and_display_are_redacted() {
    let s = Secret::new(KEY);
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    assert_eq!(format!("{s}"), "<redacted>");
    assert_eq!(
        format!("{:?}", AuthKey::Sha1(s.clone())),
        "Sha1(Secret(<redacted>))"
    );
    assert_eq!(s.expose(), KEY.as_bytes());
}

#[test]
fn no_output_of_a_loaded_config_shows_the_key() {
    let ak = format!("auth 2\n1 md5 {KEY}x trailing words\n2 sha1 {KEY}\n");
    let l = from_texts(
        Path::new("/etc/ha.d"),
        "node node1\nbcast eth0\nauto_failback on\nlogfile /x\n",
        "",
        &ak,
        &StaticHost::named("node1"),
        &CheckOptions::default(),
    )
    .unwrap();
    let everything = format!("{:?}\n{:#?}\n{}", l, l.config, summary(&l.config));
    let warnings: String = l.warnings.iter().map(|w| w.to_string()).collect();
    assert!(!everything.contains(KEY), "{everything}");
    assert!(
        !warnings.contains(KEY) && !warnings.contains("trailing"),
        "{warnings}"
    );
    assert!(summary(&l.config).ends_with("auth sha1 (key 2)"));
}

#[test]
fn no_diagnostic_of_a_broken_authkeys_shows_a_key() {
    for text in [
        format!("auth 1\n1 crc {KEY}\n"),
        format!("auth 1\n1 {KEY}\n"),
        format!("{KEY}\n"),
        format!("a{KEY}\n1 crc\n"),
        format!("auth 1\n1 md5 {KEY}\0\n"),
        format!("auth 1\n{KEY} md5 {KEY}\n"),
        format!("1 sha1 {KEY}\nauth 1\n"),
        format!("auth 1\n1 sha1 {}\n", KEY.repeat(400)),
    ] {
        let e = authkeys::parse(&text, Path::new("authkeys")).unwrap_err();
        let shown: String = e.iter().map(|d| format!("{d}\n")).collect();
        assert!(!shown.contains(&KEY[..8]), "{shown}");
    }
}
