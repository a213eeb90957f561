//! Local UNIX accounts: does a user exist (`getpwnam`), and is it in one of some
//! groups (`getgrnam` + `getgrouplist`)? Upstream's `LocalAuthenticator` rules.
//!
//! Invariant: these calls may block on NSS (LDAP, sssd); callers run them on a
//! blocking thread.

use std::ffi::CString;

use nix::unistd::{Group, User, getgrouplist};
use thiserror::Error;

/// A lookup that could not be answered (not "no such user": that is `false`).
#[derive(Debug, Error)]
pub(crate) enum AccountError {
    /// The user database could not be read.
    #[error("looking up user {user:?} failed: {source}")]
    User {
        /// The user name looked up.
        user: String,
        /// The system error.
        source: nix::Error,
    },
    /// A configured group does not exist or the group database could not be read.
    #[error("looking up group {group:?} failed: {reason}")]
    Group {
        /// The group name looked up.
        group: String,
        /// What went wrong.
        reason: String,
    },
}

/// Whether `name` is a local account; the spawner runs servers as it, so a user
/// without one cannot use the hub.
pub(crate) fn user_exists(name: &str) -> Result<bool, AccountError> {
    User::from_name(name)
        .map(|user| user.is_some())
        .map_err(|source| AccountError::User {
            user: name.to_owned(),
            source,
        })
}

/// Whether `user` belongs to any of `groups` (primary or supplementary). An unknown
/// group is an error, as upstream: a typo must not silently demote admins.
pub(crate) fn is_member_of_any(user: &str, groups: &[String]) -> Result<bool, AccountError> {
    let Some(account) = User::from_name(user).map_err(|source| AccountError::User {
        user: user.to_owned(),
        source,
    })?
    else {
        return Ok(false);
    };
    let c_name = CString::new(user).map_err(|_| AccountError::User {
        user: user.to_owned(),
        source: nix::Error::EINVAL,
    })?;
    let member_of = getgrouplist(&c_name, account.gid).map_err(|source| AccountError::User {
        user: user.to_owned(),
        source,
    })?;
    for group in groups {
        let gid = match Group::from_name(group) {
            Ok(Some(found)) => found.gid,
            Ok(None) => {
                return Err(AccountError::Group {
                    group: group.clone(),
                    reason: "no such group".into(),
                });
            }
            Err(e) => {
                return Err(AccountError::Group {
                    group: group.clone(),
                    reason: e.to_string(),
                });
            }
        };
        if member_of.contains(&gid) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_a_made_up_name_does_not() {
        assert!(user_exists("root").unwrap());
        assert!(!user_exists("ferrohub-no-such-user-x9").unwrap());
        assert!(!user_exists("ro\0ot").unwrap());
    }

    #[test]
    fn root_is_in_its_primary_group() {
        assert!(is_member_of_any("root", &["root".into()]).unwrap());
        assert!(!is_member_of_any("ferrohub-no-such-user-x9", &["root".into()]).unwrap());
    }

    #[test]
    fn an_unknown_group_is_an_error() {
        let err = is_member_of_any("root", &["ferrohub-no-such-group-x9".into()]).unwrap_err();
        assert!(err.to_string().contains("no such group"), "{err}");
    }
}
