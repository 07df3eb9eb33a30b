//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared directory (`/work/shared` in the workspace): `$HB_SHARED` if set, else the
/// first `shared/` found beside the crate root or one of its ancestors.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HB_SHARED") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in manifest.ancestors() {
        let candidate = dir.join("shared");
        if candidate.join("fixtures").is_dir() {
            return candidate;
        }
    }
    panic!(
        "shared/ not found above {}; set HB_SHARED",
        manifest.display()
    );
}

/// `shared/fixtures/heartbeat-3.0.6/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    shared_dir().join("fixtures/heartbeat-3.0.6").join(rel)
}
