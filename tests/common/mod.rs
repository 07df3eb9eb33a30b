//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared directory (`/work/shared`: docs and heartbeat 3.0.6 fixtures): `$HB_SHARED` if
/// set, else the first `shared/` found walking up from the crate root (the repository may be
/// a worktree nested at any depth beside it).
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HB_SHARED") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in root.ancestors() {
        let candidate = dir.join("shared");
        if candidate.join("fixtures").is_dir() {
            return candidate;
        }
    }
    panic!(
        "cannot find the shared fixtures: set HB_SHARED or place shared/ beside {}",
        root.display()
    );
}

/// `shared/fixtures/heartbeat-3.0.6/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    shared_dir().join("fixtures/heartbeat-3.0.6").join(rel)
}

/// `shared/fixtures/heartbeat-3.0.6` (the same helper name as the wire tests use).
pub fn fixtures_dir() -> PathBuf {
    shared_dir().join("fixtures/heartbeat-3.0.6")
}
