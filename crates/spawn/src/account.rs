//! The local UNIX account a LocalProcessSpawner server runs as.
//!
//! Everything about the account (passwd entry and group list) is read here, in
//! the hub process, *before* forking: NSS lookups may take locks or open
//! sockets, which is not allowed between `fork` and `exec`.

use std::ffi::CString;
use std::path::PathBuf;

use nix::unistd::{Gid, Uid, User, getgrouplist};

use crate::SpawnError;

/// A resolved local account: passwd entry plus every group it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalAccount {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: Uid,
    /// Primary group id.
    pub gid: Gid,
    /// Home directory from passwd (may be empty).
    pub home: PathBuf,
    /// Login shell from passwd (may be empty).
    pub shell: PathBuf,
    /// Primary and supplementary groups (`getgrouplist`).
    pub groups: Vec<Gid>,
}

impl LocalAccount {
    /// Looks the account up on a blocking thread (NSS may be slow, e.g. LDAP).
    pub(crate) async fn lookup(name: &str) -> Result<Self, SpawnError> {
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || Self::lookup_blocking(&owned))
            .await
            .map_err(std::io::Error::other)?
    }

    fn lookup_blocking(name: &str) -> Result<Self, SpawnError> {
        let no_such_user = || SpawnError::NoSuchUser(name.to_owned());
        let c_name = CString::new(name).map_err(|_| no_such_user())?;
        let user = User::from_name(name)
            .map_err(std::io::Error::from)?
            .ok_or_else(no_such_user)?;
        let groups = getgrouplist(&c_name, user.gid).map_err(std::io::Error::from)?;
        Ok(Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
            shell: user.shell,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn root_is_found_with_its_group() {
        let root = LocalAccount::lookup("root").await.unwrap();
        assert_eq!(root.uid, Uid::from_raw(0));
        assert_eq!(root.gid, Gid::from_raw(0));
        assert!(root.groups.contains(&Gid::from_raw(0)));
    }

    #[tokio::test]
    async fn unknown_names_are_no_such_user() {
        for name in ["ferrohub-no-such-user", "nul\0byte"] {
            let error = LocalAccount::lookup(name).await.unwrap_err();
            assert!(matches!(error, SpawnError::NoSuchUser(n) if n == name));
        }
    }
}
