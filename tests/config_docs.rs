//! docs/configuration.md embeds the directive reference generated from the one directive
//! table; this test fails if they disagree (`HB_BLESS=1` rewrites the block).

use std::fs;
use std::path::Path;

use heartbeat_rs::config::directives::{DIRECTIVES, reference_markdown};

const BEGIN: &str = "<!-- BEGIN DIRECTIVES (generated) -->\n";
const END: &str = "<!-- END DIRECTIVES -->";

#[test]
fn configuration_md_matches_the_directive_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let doc = fs::read_to_string(&path).unwrap();
    let start = doc.find(BEGIN).expect("BEGIN marker") + BEGIN.len();
    let end = doc.find(END).expect("END marker");
    let table = reference_markdown();
    if std::env::var_os("HB_BLESS").is_some() {
        let new = format!("{}{}{}", &doc[..start], table, &doc[end..]);
        fs::write(&path, new).unwrap();
        return;
    }
    assert_eq!(
        &doc[start..end],
        table,
        "docs/configuration.md is out of date: run HB_BLESS=1 cargo test --test config_docs"
    );
    for d in DIRECTIVES {
        assert!(doc.contains(&format!("| `{}` |", d.name)), "{}", d.name);
    }
    assert!(doc.contains("## Differences from heartbeat"));
}
