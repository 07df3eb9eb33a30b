//! The pure core never touches the OS (architecture.md §1, §5): no file under src/cluster,
//! src/wire, src/config (except load.rs) or src/time.rs may import the edge, the OS crates,
//! the logger, sockets, files, processes or a clock.

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] = &[
    "crate::sys",
    "mio::",
    "nix::",
    "log::",
    "syslog::",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
    "UnixStream",
    "UnixDatagram",
    "std::fs",
    "std::process",
    "std::thread",
    "Instant::now",
    "SystemTime",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn core_modules_do_not_touch_the_os() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for d in ["cluster", "wire", "config"] {
        rust_files(&root.join(d), &mut files);
    }
    files.push(root.join("time.rs"));
    files.retain(|p| !p.ends_with("config/load.rs"));
    assert!(files.len() >= 8, "found only {files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read source");
        for (no, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pat in FORBIDDEN {
                if code.contains(pat) {
                    bad.push(format!(
                        "{}:{}: `{pat}` in: {}",
                        f.display(),
                        no + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "the core touches the OS:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_checker_itself_catches_a_violation() {
    let sample = "use std::fs::File;\nfn f() { let _ = std::time::Instant::now(); }\n";
    let hits: Vec<&&str> = FORBIDDEN.iter().filter(|p| sample.contains(**p)).collect();
    assert!(hits.contains(&&"std::fs") && hits.contains(&&"Instant::now"));
}
