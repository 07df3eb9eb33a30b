//! Shared test helpers: where the shared specification and fixtures live.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared directory (`/work/shared` in the lab): `$HB_SHARED` if set, else the first
/// `shared/` found walking up from the crate root (the repo is `../shared`'s sibling, a
/// worktree may sit deeper).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HB_SHARED") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .map(|a| a.join("shared"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no shared/ directory above {}; set HB_SHARED",
                root.display()
            )
        })
}

/// `shared/fixtures/heartbeat-3.0.6`.
pub fn fixtures_dir() -> PathBuf {
    shared_dir().join("fixtures").join("heartbeat-3.0.6")
}
