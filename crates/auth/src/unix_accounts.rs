//! Local UNIX accounts: does a user exist (`getpwnam`), and is it in one of some
//! groups (`getgrnam` + `getgrouplist`)? Creating one (`add_user_cmd`).
//! Upstream's `LocalAuthenticator` rules.
//!
//! Invariant: these calls may block on NSS (LDAP, sssd); callers run them on a
//! blocking thread (creating an account runs a child process, awaited).

use std::ffi::CString;

use nix::unistd::{Gid, Group, User, getgrouplist};
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
    /// Creating an account failed (the command could not run or failed).
    #[error("Failed to create system user {user}: {reason}")]
    Create {
        /// The user name.
        user: String,
        /// What went wrong, with the command's output.
        reason: String,
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

/// The account's own name for `name` (name to uid to name), `None` if there
/// is no such account.
pub(crate) fn canonical_name(name: &str) -> Result<Option<String>, AccountError> {
    let lookup = |source| AccountError::User {
        user: name.to_owned(),
        source,
    };
    let Some(account) = User::from_name(name).map_err(lookup)? else {
        return Ok(None);
    };
    Ok(User::from_uid(account.uid)
        .map_err(lookup)?
        .map(|found| found.name))
}

/// The gids `user` is in (primary and supplementary); `None` without an account.
fn group_ids(user: &str) -> Result<Option<Vec<Gid>>, AccountError> {
    let Some(account) = User::from_name(user).map_err(|source| AccountError::User {
        user: user.to_owned(),
        source,
    })?
    else {
        return Ok(None);
    };
    let c_name = CString::new(user).map_err(|_| AccountError::User {
        user: user.to_owned(),
        source: nix::Error::EINVAL,
    })?;
    getgrouplist(&c_name, account.gid)
        .map(Some)
        .map_err(|source| AccountError::User {
            user: user.to_owned(),
            source,
        })
}

/// Upstream's `check_allowed_groups`: whether `user` belongs to any of
/// `groups` (primary or supplementary). An unknown group is logged and
/// skipped, as upstream: it admits nobody, and other groups still count.
pub(crate) fn admitted_by_groups(user: &str, groups: &[String]) -> Result<bool, AccountError> {
    let Some(member_of) = group_ids(user)? else {
        return Ok(false);
    };
    for group in groups {
        match Group::from_name(group) {
            Ok(Some(found)) if member_of.contains(&found.gid) => return Ok(true),
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::error!("LocalAuthenticator.allowed_groups: no such group: [{group}]");
            }
            Err(e) => {
                return Err(AccountError::Group {
                    group: group.clone(),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(false)
}

/// Upstream's `add_system_user`: runs `add_user_cmd` with `USERNAME` replaced
/// in each argument, `--uid <uid>` when one is configured, and the name last.
/// A name beginning with `-` is refused: the command would read it as an option.
pub(crate) async fn create_user(
    command: &[String],
    name: &str,
    uid: Option<u32>,
) -> Result<(), AccountError> {
    let fail = |reason: String| AccountError::Create {
        user: name.to_owned(),
        reason,
    };
    if name.starts_with('-') {
        return Err(fail(
            "a name beginning with '-' would be read as an option".into(),
        ));
    }
    let mut args: Vec<String> = command
        .iter()
        .map(|arg| arg.replace("USERNAME", name))
        .collect();
    if let Some(uid) = uid {
        args.extend(["--uid".to_owned(), uid.to_string()]);
    }
    args.push(name.to_owned());
    let Some((program, rest)) = args.split_first() else {
        return Err(fail("LocalAuthenticator.add_user_cmd is empty".into()));
    };
    tracing::info!("Creating user: {}", args.join(" "));
    let output = tokio::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| fail(format!("cannot run {program:?}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(fail(format!("{} ({})", text.trim(), output.status)))
}

/// Whether `user` belongs to any of `groups` (primary or supplementary). An unknown
/// group is an error, as upstream: a typo must not silently demote admins.
pub(crate) fn is_member_of_any(user: &str, groups: &[String]) -> Result<bool, AccountError> {
    let Some(member_of) = group_ids(user)? else {
        return Ok(false);
    };
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
    fn allowed_groups_skip_an_unknown_group() {
        let groups = ["ferrohub-no-such-group-x9".to_owned(), "root".to_owned()];
        assert!(admitted_by_groups("root", &groups).unwrap());
        assert!(!admitted_by_groups("root", &groups[..1]).unwrap());
        assert!(!admitted_by_groups("ferrohub-no-such-user-x9", &groups).unwrap());
    }

    #[test]
    fn canonical_name_round_trips_through_the_uid() {
        assert_eq!(canonical_name("root").unwrap().as_deref(), Some("root"));
        assert_eq!(canonical_name("ferrohub-no-such-user-x9").unwrap(), None);
    }

    #[tokio::test]
    async fn create_user_runs_the_command_with_the_name_and_uid() {
        // `true` and `false` stand in for adduser, so only the arguments' effect and
        // a failing command are observable here; real accounts are created in
        // the end-to-end tests.
        create_user(&["true".into()], "someone", Some(4242))
            .await
            .unwrap();
        let err = create_user(&["false".into()], "someone", None)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Failed to create system user someone"),
            "{err}"
        );
        let err = create_user(&["true".into()], "-o", None).await.unwrap_err();
        assert!(err.to_string().contains("option"), "{err}");
    }

    #[test]
    fn an_unknown_group_is_an_error() {
        let err = is_member_of_any("root", &["ferrohub-no-such-group-x9".into()]).unwrap_err();
        assert!(err.to_string().contains("no such group"), "{err}");
    }
}
