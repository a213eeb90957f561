//! What the child does between `fork` and `exec`: drop to the server user's
//! groups and ids, then go to its home directory.
//!
//! Only async-signal-safe system calls run there (`setgroups`, `setgid`,
//! `setuid`, `chdir`), on data prepared before the fork; no allocation, no NSS.
#![allow(
    unsafe_code,
    reason = "CommandExt::pre_exec runs code between fork and exec (SAFETY comment below)"
)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, chdir, setgid, setgroups, setuid};
use tokio::process::Command;

/// The ids a server process switches to; `None` in [`prepare_child`] keeps the hub's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// User id to become.
    pub uid: Uid,
    /// Primary group id to become.
    pub gid: Gid,
    /// The complete supplementary group list (replaces the hub's, e.g. root's 0).
    pub groups: Vec<Gid>,
}

/// Arranges for the child to take `credentials` (in the order `setgroups`,
/// `setgid`, `setuid`, so the hub's groups never survive) and then to start in
/// `home`, or the nearest ancestor it may enter, or `/`. A failed id change
/// fails the spawn: a server must never run with the hub's privileges by accident.
pub(crate) fn prepare_child(command: &mut Command, credentials: Option<Credentials>, home: &Path) {
    let workdirs = workdir_candidates(home);
    let in_child = move || -> std::io::Result<()> {
        if let Some(ids) = &credentials {
            setgroups(&ids.groups)?;
            setgid(ids.gid)?;
            setuid(ids.uid)?;
            if !ids.uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
                // Root could be regained: the drop did not take effect.
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
        }
        for dir in &workdirs {
            if chdir(dir.as_c_str()).is_ok() {
                break;
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // the async-signal-safe system calls setgroups, setgid, setuid and chdir
    // through nix's thin wrappers, on a group list and C strings allocated
    // before the fork; it allocates nothing (io::Error from an OS code does not
    // allocate) and takes no locks.
    unsafe {
        command.pre_exec(in_child);
    }
}

/// `home`, then each ancestor up to `/`, as C strings made before the fork
/// (upstream walks up the same way when the home is missing or unreadable).
fn workdir_candidates(home: &Path) -> Vec<CString> {
    let mut dirs: Vec<CString> = if home.is_absolute() {
        home.ancestors()
            .filter_map(|dir| CString::new(dir.as_os_str().as_bytes()).ok())
            .collect()
    } else {
        Vec::new()
    };
    if dirs.last().is_none_or(|last| last.as_bytes() != b"/") {
        dirs.push(c"/".to_owned());
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_walk_up_to_root() {
        let dirs = workdir_candidates(Path::new("/home/alice/work"));
        let dirs: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(dirs, ["/home/alice/work", "/home/alice", "/home", "/"]);
    }

    #[test]
    fn relative_or_empty_home_means_root() {
        for home in ["", "relative/dir"] {
            let dirs = workdir_candidates(Path::new(home));
            assert_eq!(dirs, [c"/".to_owned()]);
        }
    }
}
