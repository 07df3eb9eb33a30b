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

/// Writes an executable file (a fake script or agent) without this process ever holding a
/// writable descriptor to it. Tests of one binary run in parallel threads; a child forked
/// by another test in the instant that descriptor was open inherits it until its own exec,
/// and exec of the file then fails with ETXTBSY ("Text file busy"): a flake seen in
/// `fence_runner` about once in a hundred runs. So a shell writes the file instead.
#[allow(clippy::disallowed_methods)] // a test helper: the child writes the file
pub fn write_exec(path: &Path, contents: &str, mode: u32) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("/bin/sh")
        .args(["-c", "cat > \"$1\" && chmod \"$2\" \"$1\"", "sh"])
        .arg(path)
        .arg(format!("{mode:o}"))
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh to write an executable");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(contents.as_bytes())
        .expect("write the executable's contents");
    let status = child.wait().expect("wait for sh");
    assert!(status.success(), "writing {}: {status}", path.display());
}
