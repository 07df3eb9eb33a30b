//! What SIGHUP has to do (behaviour spec §4.12, §8.6): compare the modification times of
//! `ha.cf` and `authkeys` with those seen at start (or at the last reload). A changed `ha.cf`
//! means a quick restart keeping resources; a changed `authkeys` alone means re-reading the
//! keys; neither gives `info: Configuration unchanged.` `haresources` is never watched (it is
//! read at every use).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a reload found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `ha.cf` changed: quick restart (re-exec with `-R`), resources kept.
    HaCf,
    /// Only `authkeys` changed: re-read the keys.
    AuthKeys,
    /// `info: Configuration unchanged.`
    Unchanged,
}

/// The modification times of the files SIGHUP watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigStamps {
    ha_cf: PathBuf,
    authkeys: PathBuf,
    ha_cf_mtime: Option<SystemTime>,
    authkeys_mtime: Option<SystemTime>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl ConfigStamps {
    /// Records the current modification times (a missing file counts as "no time").
    pub fn capture(ha_cf: &Path, authkeys: &Path) -> ConfigStamps {
        ConfigStamps {
            ha_cf: ha_cf.to_owned(),
            authkeys: authkeys.to_owned(),
            ha_cf_mtime: mtime(ha_cf),
            authkeys_mtime: mtime(authkeys),
        }
    }

    /// Compares with the files now and remembers the new times.
    pub fn check(&mut self) -> Change {
        let now = ConfigStamps::capture(&self.ha_cf, &self.authkeys);
        let change = if now.ha_cf_mtime != self.ha_cf_mtime {
            Change::HaCf
        } else if now.authkeys_mtime != self.authkeys_mtime {
            Change::AuthKeys
        } else {
            Change::Unchanged
        };
        *self = now;
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, FileTimes};
    use std::time::Duration;

    fn touch(p: &Path, secs: u64) {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_times(FileTimes::new().set_modified(t))
            .unwrap();
    }

    #[test]
    fn reload_classifies_changes_like_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let (cf, ak) = (dir.path().join("ha.cf"), dir.path().join("authkeys"));
        std::fs::write(&cf, "x").unwrap();
        std::fs::write(&ak, "y").unwrap();
        touch(&cf, 1000);
        touch(&ak, 1000);
        let mut s = ConfigStamps::capture(&cf, &ak);
        assert_eq!(s.check(), Change::Unchanged);
        touch(&ak, 2000);
        assert_eq!(s.check(), Change::AuthKeys);
        assert_eq!(s.check(), Change::Unchanged, "remembered");
        touch(&ak, 3000);
        touch(&cf, 3000);
        assert_eq!(
            s.check(),
            Change::HaCf,
            "ha.cf wins: the restart re-reads both"
        );
        std::fs::remove_file(&ak).unwrap();
        assert_eq!(s.check(), Change::AuthKeys, "a vanished file is a change");
    }
}
