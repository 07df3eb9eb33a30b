//! Shared test helpers: where the fixtures are.

use std::path::PathBuf;

/// The shared directory (`/work/shared` on the build machine): `HB_SHARED` if set, else the
/// first `shared/` found next to the manifest directory or one of its ancestors.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HB_SHARED") {
        return Some(PathBuf::from(p));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let cand = dir.join("shared");
        if cand.join("fixtures").is_dir() {
            return Some(cand);
        }
        if !dir.pop() {
            return None;
        }
    }
}
