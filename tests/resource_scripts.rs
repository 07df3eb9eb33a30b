//! The scripts we ship in resource.d/, run through sys::script exactly as the daemon runs
//! them: summaries, exit codes, idempotence, logging layout, argument forms. The parts that
//! change the machine (addresses, mounts) run in private namespaces and only as root.
// These tests drive external tools (unshare, mkfs, shellcheck) and wait boundedly on
// background processes; the clock/spawn ban is for the library.
#![allow(clippy::disallowed_methods)]

mod common;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use heartbeat_rs::sys::script::{Context, Exit, Op, Outcome, Request, ScriptDirs, run_blocking};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("resource.d")
}

struct Rig {
    tmp: tempfile::TempDir,
    ctx: Context,
}

fn rig() -> Rig {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dirs = ScriptDirs {
        resource_dir: shipped(),
        init_dir: tmp.path().join("init.d"),
    };
    let t = tmp.path();
    let ctx = Context {
        dirs,
        env: vec![
            ("HA_CURHOST".into(), "node1".into()),
            ("HA_LOGFILE".into(), t.join("ha-log").display().to_string()),
            (
                "HA_DEBUGLOG".into(),
                t.join("ha-debug").display().to_string(),
            ),
            ("HA_DATEFMT".into(), "%Y/%m/%d_%T\t".into()),
            ("HA_RSCTMP".into(), t.join("rsctmp").display().to_string()),
        ],
        debuglog: Some(t.join("ha-debug")),
        capture_dir: t.to_path_buf(),
    };
    Rig { tmp, ctx }
}

impl Rig {
    fn run(&self, script: &str, args: &[&str], op: Op) -> Outcome {
        run_blocking(
            &self.ctx,
            &Request {
                script: script.into(),
                args: args.iter().map(|s| s.to_string()).collect(),
                op,
                timeout: Some(std::time::Duration::from_secs(60)),
            },
        )
        .expect("run")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    fn fake(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        common::write_exec(&p, &format!("#!/bin/sh\n{body}\n"), 0o755);
        p
    }
}

fn text(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.output).into_owned()
}

#[test]
fn every_script_is_posix_sh_and_executable() {
    for name in [
        "IPaddr",
        "IPaddr2",
        "IPv6addr",
        "Filesystem",
        "SendArp",
        "Delay",
        "MailTo",
    ] {
        let p = shipped().join(name);
        let mode = fs::metadata(&p).expect("script").permissions().mode();
        assert!(mode & 0o111 != 0, "{name} is not executable");
        let body = fs::read_to_string(&p).expect("read");
        assert!(body.starts_with("#!/bin/sh\n"), "{name}: shebang");
        assert!(body.contains("\nset -u\n"), "{name}: set -u");
        assert!(
            !body.contains("shellfuncs"),
            "{name} needs heartbeat's shellfuncs"
        );
        if Path::new("/bin/dash").exists() {
            let st = Command::new("dash")
                .arg("-n")
                .arg(&p)
                .status()
                .expect("dash");
            assert!(st.success(), "{name}: dash -n failed");
        }
    }
}

#[test]
fn shellcheck_is_clean_when_installed() {
    let Ok(out) = Command::new("shellcheck")
        .current_dir(shipped())
        .args([
            "-x",
            "-s",
            "sh",
            "IPaddr",
            "IPaddr2",
            "IPv6addr",
            "Filesystem",
        ])
        .args(["SendArp", "Delay", "MailTo", "hbrs-funcs"])
        .output()
    else {
        eprintln!("SKIP: shellcheck not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn pseudo_resource_lifecycle_and_summaries() {
    let r = rig();
    let a = ["0", "0"];
    let o = r.run("Delay", &a, Op::Status);
    assert_eq!(
        (text(&o).as_str(), o.exit),
        ("INFO:  Resource is stopped\n", Exit::Code(7))
    );
    assert!(!o.ok());
    // stop when already stopped succeeds
    let o = r.run("Delay", &a, Op::Stop);
    assert_eq!(o.exit, Exit::Code(0));
    assert_eq!(r.run("Delay", &a, Op::Start).exit, Exit::Code(0));
    assert_eq!(
        r.run("Delay", &a, Op::Start).exit,
        Exit::Code(0),
        "idempotent start"
    );
    let o = r.run("Delay", &a, Op::Status);
    assert_eq!(
        (text(&o).as_str(), o.exit),
        ("INFO:  Running OK\n", Exit::Code(0))
    );
    assert!(o.ok());
    assert_eq!(r.run("Delay", &a, Op::Stop).exit, Exit::Code(0));
    assert!(!r.run("Delay", &a, Op::Status).ok());
    // start/stop summaries went to the debug log (their stdout)
    let dbg = fs::read_to_string(r.path("ha-debug")).expect("debug log");
    assert!(dbg.contains("\nINFO:  Success\n") || dbg.starts_with("INFO:  Success\n"));
}

#[test]
fn log_lines_have_heartbeats_layout() {
    let r = rig();
    r.run("Delay", &["0", "0"], Op::Status);
    let log = fs::read_to_string(r.path("ha-log")).expect("ha-log");
    // "2026/11/21_23:21:45  Delay(Delay_0)[4711]:    INFO:  Resource is stopped"
    let line = log.lines().last().expect("a line");
    let (date, rest) = line.split_at(19);
    assert!(is_date(date), "date in {line:?}");
    let rest = rest.strip_prefix("  Delay(Delay_0)[").expect("tag");
    let (pid, rest) = rest.split_once("]:    ").expect("pid");
    assert!(pid.parse::<u32>().is_ok());
    assert_eq!(rest, "INFO:  Resource is stopped");

    let dbg = fs::read_to_string(r.path("ha-debug")).expect("ha-debug");
    // "Delay(Delay_0)[4711]:<TAB>2026/11/21_23:21:45 INFO:  Resource is stopped"
    let line = dbg.lines().last().expect("a line");
    let (tag, rest) = line.split_once(":\t").expect("tab");
    assert!(tag.starts_with("Delay(Delay_0)["));
    let (date, rest) = rest.split_at(19);
    assert!(is_date(date));
    assert_eq!(rest, " INFO:  Resource is stopped");
}

fn is_date(s: &str) -> bool {
    // YYYY/MM/DD_HH:MM:SS
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'/',
            10 => b == b'_',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

#[test]
fn mailto_mails_on_takeover_and_release() {
    let mut r = rig();
    let mails = r.path("mails");
    let mailer = r.fake(
        "mail",
        &format!("{{ printf '%s|' \"$@\"; echo; }} >> {}", mails.display()),
    );
    r.ctx
        .env
        .push(("HA_MAILCMD".into(), mailer.display().to_string()));
    let a = ["ops@example.org,dba@example.org", "web"];
    assert_eq!(r.run("MailTo", &a, Op::Start).exit, Exit::Code(0));
    assert!(r.run("MailTo", &a, Op::Status).ok());
    assert_eq!(r.run("MailTo", &a, Op::Stop).exit, Exit::Code(0));
    assert_eq!(r.run("MailTo", &a, Op::Stop).exit, Exit::Code(0));
    let sent = fs::read_to_string(&mails).expect("mails");
    let lines: Vec<&str> = sent.lines().collect();
    assert_eq!(lines.len(), 2, "{sent}");
    assert!(lines[0].starts_with("-s|web Takeover in progress at "));
    assert!(lines[0].contains(" on "));
    assert!(lines[0].ends_with("|ops@example.org|dba@example.org|"));
    assert!(lines[1].starts_with("-s|web Migrating resource away at "));
    assert!(lines[1].ends_with("|ops@example.org|dba@example.org|"));
}

#[test]
fn mailto_without_a_mailer_fails_to_start_but_stops() {
    let mut r = rig();
    r.ctx
        .env
        .push(("HA_MAILCMD".into(), "/nonexistent/mail".into()));
    let o = r.run("MailTo", &["root"], Op::Start);
    assert_eq!(o.exit, Exit::Code(5));
    assert_eq!(r.run("MailTo", &["root"], Op::Stop).exit, Exit::Code(0));
}

#[test]
fn sendarp_calls_a_send_arp_compatible_command() {
    let mut r = rig();
    let rec = r.path("arp-args");
    let fake = r.fake(
        "send_arp",
        &format!(
            "printf '%s ' \"$@\" > {}; mv {} {}",
            r.path("arp-tmp").display(),
            r.path("arp-tmp").display(),
            rec.display()
        ),
    );
    r.ctx
        .env
        .push(("HA_SEND_ARP".into(), fake.display().to_string()));
    let a = ["192.0.2.100/eth0"];
    assert!(!r.run("SendArp", &a, Op::Status).ok());
    assert_eq!(r.run("SendArp", &a, Op::Start).exit, Exit::Code(0));
    assert!(r.run("SendArp", &a, Op::Status).ok());
    // the announcement runs in the background, as heartbeat's does
    assert!(wait_for(&rec), "send_arp was not called");
    let args = fs::read_to_string(&rec).expect("args");
    let rsctmp = r.path("rsctmp");
    assert_eq!(
        args,
        format!(
            "-i 500 -r 10 -p {}/send_arp-192.0.2.100 eth0 192.0.2.100 auto not_used not_used ",
            rsctmp.display()
        )
    );
    assert_eq!(r.run("SendArp", &a, Op::Stop).exit, Exit::Code(0));
    assert!(!r.run("SendArp", &a, Op::Status).ok());
}

#[allow(clippy::disallowed_methods)] // a bounded wait for a background process in a test
fn wait_for(p: &Path) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if p.exists() {
            return true;
        }
        std::thread::yield_now();
    }
    p.exists()
}

#[test]
fn argument_errors_use_heartbeats_texts_and_codes() {
    let r = rig();
    let o = r.run("IPaddr", &["192.0.2.100/33"], Op::Start);
    assert_eq!(o.exit, Exit::Code(6));
    let dbg = fs::read_to_string(r.path("ha-debug")).expect("debug");
    assert!(dbg.contains("ERROR:  Program is not configured\n"), "{dbg}");
    let o = r.run("IPaddr", &["192.0.2.300"], Op::Status);
    assert_eq!(
        (text(&o).lines().last(), o.exit),
        (Some("ERROR:  Program is not configured"), Exit::Code(6))
    );
    assert!(!o.ok());
    // wrong number of arguments: usage, exit 1
    let o = r.run("IPaddr", &[], Op::Status);
    assert_eq!(o.exit, Exit::Code(1));
    assert!(text(&o).starts_with("usage: "));
    let o = r.run("Delay", &["x"], Op::Status);
    assert_eq!(o.exit, Exit::Code(6));
    let o = r.run("Filesystem", &["/dev/sdz1", "relative"], Op::Status);
    assert_eq!(o.exit, Exit::Code(6));
    let o = r.run("IPv6addr", &["not-an-address"], Op::Status);
    assert_eq!(o.exit, Exit::Code(6));
}

#[test]
fn ipaddr_status_of_an_absent_address_is_stopped() {
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIP: iproute2 `ip` not installed");
        return;
    }
    let r = rig();
    // 192.0.2.0/24 is TEST-NET-1: never configured on a real host.
    let o = r.run("IPaddr2", &["192.0.2.213/24/eth0"], Op::Status);
    assert_eq!(
        (text(&o).as_str(), o.exit),
        ("INFO:  Resource is stopped\n", Exit::Code(7))
    );
    let o = r.run(
        "Filesystem",
        &["/dev/nonexistent", "/nonexistent/mnt", "ext4"],
        Op::Status,
    );
    assert_eq!(o.exit, Exit::Code(7));
    // stop of what is not there succeeds
    assert_eq!(
        r.run(
            "Filesystem",
            &["/dev/nonexistent", "/nonexistent/mnt"],
            Op::Stop
        )
        .exit,
        Exit::Code(0)
    );
}

fn root_with_unshare() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP: needs root (private network/mount namespaces)");
        return false;
    }
    let ok = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: unshare -n not available");
    }
    ok
}

/// Runs `body` in a new network namespace with a veth pair (d0 10.9.0.1/24, d1 peer), so
/// nothing outside the test is touched. Prints the body's output, returns it.
fn in_netns(r: &Rig, body: &str) -> String {
    let script = format!(
        "set -e\nip link set lo up\nip link add d0 type veth peer name d1\nip link set d0 up\n\
         ip link set d1 up\nip addr add 10.9.0.1/24 dev d0\nset +e\nR={rd}\n\
         export HA_RSCTMP={tmp}/rsctmp HA_LOGFILE={tmp}/ha-log HA_DEBUGLOG={tmp}/ha-debug \
         HA_SEND_ARP=/nonexistent\n{body}\n",
        rd = shipped().display(),
        tmp = r.tmp.path().display(),
    );
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("unshare");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{s}{}", String::from_utf8_lossy(&out.stderr));
    s
}

#[test]
fn ipaddr_adds_and_removes_an_address_idempotently() {
    if !root_with_unshare() {
        return;
    }
    let r = rig();
    let out = in_netns(
        &r,
        r#"
for t in IPaddr IPaddr2; do
  $R/$t 10.9.0.100 status; echo "rc=$?"
  $R/$t 10.9.0.100 start; echo "rc=$?"
  $R/$t 10.9.0.100 start; echo "rc=$?"
  ip -o -4 addr show dev d0 | grep -c ' 10.9.0.100/24 ' | sed 's/^/count=/'
  $R/$t 10.9.0.100 status; echo "rc=$?"
  $R/$t 10.9.0.100 stop; echo "rc=$?"
  $R/$t 10.9.0.100 stop; echo "rc=$?"
  ip -o -4 addr show dev d0 | grep -c ' 10.9.0.100/' | sed 's/^/count=/'
done
$R/IPaddr2 10.9.0.101/255.255.255.0/d0:web/10.9.0.127 start; echo "rc=$?"
ip -o -4 addr show dev d0 | grep ' 10.9.0.101/' | sed 's/.*inet //; s/ scope.* \(d0:web\).*/ \1/'
$R/IPaddr 10.9.0.101 stop; echo "rc=$?"
$R/IPaddr 10.9.0.102/25 start >/dev/null; ip -o -4 addr show dev d0 | grep -c ' 10.9.0.102/25 brd 10.9.0.127 '
$R/IPaddr 10.9.0.102 stop >/dev/null
$R/IPaddr 10.8.0.100 start; echo "rc=$?"
"#,
    );
    let once = "INFO:  Resource is stopped\nrc=7\nINFO:  Success\nrc=0\nINFO:  Success\nrc=0\n\
                count=1\nINFO:  Running OK\nrc=0\nINFO:  Success\nrc=0\nINFO:  Success\nrc=0\ncount=0\n";
    let expected = format!(
        "{once}{once}INFO:  Success\nrc=0\n10.9.0.101/24 brd 10.9.0.127 d0:web\nINFO:  Success\nrc=0\n1\n\
         ERROR: Unable to find nic or netmask for 10.8.0.100 (no connected route covers it)\n\
         ERROR:  Program is not configured\nrc=6\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn ipv6addr_adds_and_removes_an_address() {
    if !root_with_unshare() {
        return;
    }
    let r = rig();
    let out = in_netns(
        &r,
        r#"
sysctl -qw net.ipv6.conf.d0.disable_ipv6=0 2>/dev/null
ip -6 addr add 2001:db8::1/64 dev d0 nodad
$R/IPv6addr 2001:db8::100 status; echo "rc=$?"
$R/IPv6addr 2001:db8::0100 start; echo "rc=$?"
$R/IPv6addr 2001:db8:0::100 status; echo "rc=$?"
ip -o -6 addr show dev d0 | grep -c ' 2001:db8::100/64 ' | sed 's/^/count=/'
$R/IPv6addr 2001:db8::100 stop; echo "rc=$?"
$R/IPv6addr 2001:db8::100 stop; echo "rc=$?"
$R/IPv6addr 2001:db8::100 status; echo "rc=$?"
"#,
    );
    assert_eq!(
        out,
        "INFO:  Resource is stopped\nrc=7\nINFO:  Success\nrc=0\nINFO:  Running OK\nrc=0\ncount=1\n\
         INFO:  Success\nrc=0\nINFO:  Success\nrc=0\nINFO:  Resource is stopped\nrc=7\n"
    );
}

#[test]
fn filesystem_mounts_a_loop_image_and_unmounts_it_even_when_busy() {
    if !root_with_unshare() {
        return;
    }
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("mkfs.ext4") || !have("losetup") {
        eprintln!("SKIP: mkfs.ext4/losetup not installed");
        return;
    }
    let r = rig();
    let img = r.path("fs.img");
    let mnt = r.path("mnt");
    let f = fs::File::create(&img).expect("img");
    f.set_len(8 << 20).expect("size");
    drop(f);
    let st = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&img)
        .status()
        .expect("mkfs");
    assert!(st.success());
    let body = format!(
        r#"set -u
R={rd}
export HA_RSCTMP={tmp}/rsctmp HA_LOGFILE={tmp}/ha-log HA_DEBUGLOG={tmp}/ha-debug
$R/Filesystem {img} {mnt} ext4 status; echo "rc=$?"
$R/Filesystem {img} {mnt} ext4 start; echo "rc=$?"
$R/Filesystem {img} {mnt}/ ext4 start; echo "rc=$?"
$R/Filesystem {img} {mnt} ext4 status; echo "rc=$?"
echo hello > {mnt}/f
(cd {mnt} && exec sleep 1000) &
$R/Filesystem {img} {mnt} ext4 stop; echo "rc=$?"
$R/Filesystem {img} {mnt} ext4 stop; echo "rc=$?"
$R/Filesystem {img} {mnt} ext4 status; echo "rc=$?"
$R/Filesystem {img} {mnt} ext4 ro start; echo "rc=$?"
cat {mnt}/f; grep -c " {mnt} ext4 ro," /proc/mounts
$R/Filesystem {img} {mnt} ext4 ro stop; echo "rc=$?"
losetup -j {img} | wc -l
"#,
        rd = shipped().display(),
        tmp = r.tmp.path().display(),
        img = img.display(),
        mnt = mnt.display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &body])
        .output()
        .expect("unshare");
    let s = String::from_utf8_lossy(&out.stdout);
    eprintln!("{s}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        s,
        "INFO:  Resource is stopped\nrc=7\nINFO:  Success\nrc=0\nINFO:  Success\nrc=0\n\
         INFO:  Running OK\nrc=0\nINFO:  Success\nrc=0\nINFO:  Success\nrc=0\n\
         INFO:  Resource is stopped\nrc=7\nINFO:  Success\nrc=0\nhello\n1\nINFO:  Success\nrc=0\n0\n"
    );
}
