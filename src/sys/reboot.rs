//! The reboot action (a resource failed to stop, a `failfast` child died): the one edge
//! function that may take the machine down, and a replaceable one.
//!
//! The command comes from `HEARTBEAT_REBOOT_COMMAND` (split on whitespace) when set, else
//! `/sbin/reboot -f` after a `sync()`. The lab and every test set the variable (or build a
//! [`Reboot::command`]) to a harmless recorder. The reason is passed to the command in
//! `HB_REBOOT_REASON`. Under `cfg(test)` the default is `false`, so a unit test that forgets
//! to replace it still cannot reboot the machine running it.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::process::ExitStatus;

/// The environment variable that replaces the reboot command.
pub const ENV_COMMAND: &str = "HEARTBEAT_REBOOT_COMMAND";
/// The environment variable the command receives the reason in.
pub const ENV_REASON: &str = "HB_REBOOT_REASON";

#[cfg(not(test))]
const DEFAULT_COMMAND: &[&str] = &["/sbin/reboot", "-f"];
#[cfg(test)]
const DEFAULT_COMMAND: &[&str] = &["false"];

/// How to reboot this machine.
#[derive(Clone, PartialEq, Eq)]
pub struct Reboot {
    argv: Vec<OsString>,
    /// Only the real default syncs file systems first.
    sync_first: bool,
}

impl fmt::Debug for Reboot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reboot({:?})", self.argv)
    }
}

impl Reboot {
    /// `HEARTBEAT_REBOOT_COMMAND` if set and not empty, else the system default.
    pub fn from_env() -> Reboot {
        match std::env::var_os(ENV_COMMAND) {
            Some(cmd) if !cmd.to_string_lossy().trim().is_empty() => Reboot::command(
                cmd.to_string_lossy()
                    .split_whitespace()
                    .map(OsString::from)
                    .collect(),
            ),
            _ => Reboot {
                argv: DEFAULT_COMMAND.iter().map(OsString::from).collect(),
                sync_first: true,
            },
        }
    }

    /// A specific command (argv[0] and its arguments).
    pub fn command(argv: Vec<OsString>) -> Reboot {
        Reboot {
            argv,
            sync_first: false,
        }
    }

    pub fn argv(&self) -> &[OsString] {
        &self.argv
    }

    /// Runs the reboot command and waits for it. When it returns at all, the machine did
    /// not go down (a recorder, or a failed reboot); the caller decides what comes next.
    #[allow(clippy::disallowed_methods)] // the edge is where processes are spawned
    pub fn run(&self, reason: &str) -> io::Result<ExitStatus> {
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty reboot command"))?;
        if self.sync_first {
            nix::unistd::sync();
        }
        std::process::Command::new(program)
            .args(args)
            .env(ENV_REASON, reason)
            .status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_command_receives_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("reboots");
        let script = dir.path().join("record");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"${ENV_REASON} $*\" >> '{}'\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = Reboot::command(vec![script.into(), "now".into()]);
        let st = r.run("Resource STOP failure").unwrap();
        assert!(st.success());
        r.run("failfast").unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "Resource STOP failure now\nfailfast now\n"
        );
    }

    #[test]
    fn the_default_under_test_is_harmless() {
        // Tests must never see the real command even if the variable is unset.
        let r = Reboot {
            argv: DEFAULT_COMMAND.iter().map(OsString::from).collect(),
            sync_first: false,
        };
        assert_eq!(r.argv(), [OsString::from("false")]);
        assert!(!r.run("test").unwrap().success());
    }

    #[test]
    fn an_empty_command_is_an_error() {
        assert!(Reboot::command(vec![]).run("x").is_err());
    }
}
