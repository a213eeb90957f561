//! `LocalProcessSpawner`: each hub user's server runs as that user's local
//! UNIX account (upstream's default spawner).

use async_trait::async_trait;
use ferrohub_config::Config;
use nix::unistd::{Uid, geteuid};
use serde_json::Value;

use crate::account::LocalAccount;
use crate::env::UserEnv;
use crate::launch::{Identity, ProcessSettings, start_process};
use crate::privileges::Credentials;
use crate::process::ProcessTable;
use crate::{SpawnError, SpawnRequest, Spawner, Started};

/// Starts servers as local processes owned by the user's own account; the hub
/// must run as root unless every user is the hub's own user.
#[derive(Debug)]
pub struct LocalProcessSpawner {
    settings: ProcessSettings,
    processes: ProcessTable,
}

/// Refuses accounts a server must not run as: root always, and any uid below
/// `min_uid` (system accounts). A hub user called `root` or `daemon` (created
/// by an admin, or by an authenticator that maps outside names) would
/// otherwise get a server with that account's powers.
pub(crate) fn check_uid(account: &LocalAccount, min_uid: u32) -> Result<(), SpawnError> {
    let uid = account.uid.as_raw();
    if uid == 0 {
        Err(SpawnError::RootAccount(account.name.clone()))
    } else if uid < min_uid {
        Err(SpawnError::UidBelowMinimum {
            user: account.name.clone(),
            uid,
            min_uid,
        })
    } else {
        Ok(())
    }
}

impl LocalProcessSpawner {
    /// Builds the spawner from `[Spawner]` and `[LocalProcessSpawner]`.
    pub fn new(config: &Config) -> Self {
        Self {
            settings: ProcessSettings::from_config(config),
            processes: ProcessTable::default(),
        }
    }
}

#[async_trait]
impl Spawner for LocalProcessSpawner {
    fn name(&self) -> &'static str {
        "LocalProcessSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let account = LocalAccount::lookup(&request.username).await?;
        check_uid(&account, self.settings.local.min_uid)?;
        let credentials =
            credentials_for(geteuid(), &account).map_err(|reason| SpawnError::Launch {
                cmd: self.settings.command_line(request),
                reason,
            })?;
        let identity = Identity {
            env: user_env(request, &account),
            credentials,
            workdir: account.home.clone(),
        };
        start_process(&self.settings, &self.processes, request, identity)
    }

    async fn poll(&self, state: &Value) -> Result<Option<i32>, SpawnError> {
        Ok(self.processes.poll_state(state))
    }

    async fn stop(&self, state: &Value) -> Result<(), SpawnError> {
        let timeouts = self.settings.stop_timeouts();
        self.processes.stop_state(state, timeouts).await
    }
}

/// Makes `command` run as the local account `username`, as upstream's
/// `Service.user` does for managed services: a root hub drops to the account's
/// ids and groups before exec (a non-root hub may only name itself), `USER`,
/// `HOME` and `SHELL` come from the account, and the process starts in `cwd`
/// or else the account's home.
pub async fn run_as_local_user(
    command: &mut tokio::process::Command,
    username: &str,
    cwd: Option<&std::path::Path>,
) -> Result<(), SpawnError> {
    let account = LocalAccount::lookup(username).await?;
    let credentials = credentials_for(geteuid(), &account).map_err(|reason| {
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        SpawnError::Launch {
            cmd: vec![program],
            reason,
        }
    })?;
    command.env("USER", username);
    if !account.home.as_os_str().is_empty() {
        command.env("HOME", &account.home);
    }
    if !account.shell.as_os_str().is_empty() {
        command.env("SHELL", &account.shell);
    }
    crate::privileges::prepare_child(command, credentials, cwd.unwrap_or(&account.home));
    Ok(())
}

/// `USER` is the hub name; `HOME` and `SHELL` come from passwd and are left
/// out when empty (upstream's `user_env`).
fn user_env(request: &SpawnRequest, account: &LocalAccount) -> UserEnv {
    let non_empty = |path: &std::path::Path| {
        let text = path.to_string_lossy();
        (!text.is_empty()).then(|| text.into_owned())
    };
    UserEnv {
        user: request.username.clone(),
        home: non_empty(&account.home),
        shell: non_empty(&account.shell),
    }
}

/// Which ids the child switches to, given the hub's effective uid: root drops
/// to the account; a non-root hub can only start servers as itself, and then
/// changes nothing (it could not call `setgroups`).
fn credentials_for(hub_uid: Uid, account: &LocalAccount) -> Result<Option<Credentials>, String> {
    if hub_uid.is_root() {
        Ok(Some(Credentials {
            uid: account.uid,
            gid: account.gid,
            groups: account.groups.clone(),
        }))
    } else if hub_uid == account.uid {
        Ok(None)
    } else {
        Err(format!(
            "the hub runs as uid {hub_uid}, not root, so it cannot start a server as \
             user {} (uid {}); run the hub as root or use SimpleLocalProcessSpawner",
            account.name, account.uid
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use nix::unistd::Gid;

    use super::*;

    fn alice() -> LocalAccount {
        LocalAccount {
            name: "alice".into(),
            uid: Uid::from_raw(1001),
            gid: Gid::from_raw(1001),
            home: PathBuf::from("/home/alice"),
            shell: PathBuf::from("/bin/zsh"),
            groups: vec![Gid::from_raw(1001), Gid::from_raw(27)],
        }
    }

    #[test]
    fn root_hub_drops_to_the_account_and_its_groups() {
        let ids = credentials_for(Uid::from_raw(0), &alice())
            .unwrap()
            .unwrap();
        assert_eq!(ids.uid, Uid::from_raw(1001));
        assert_eq!(ids.gid, Gid::from_raw(1001));
        assert_eq!(ids.groups, [Gid::from_raw(1001), Gid::from_raw(27)]);
    }

    #[test]
    fn root_is_refused_whatever_the_minimum() {
        let root = LocalAccount {
            name: "root".into(),
            uid: Uid::from_raw(0),
            ..alice()
        };
        for min_uid in [0, 1000] {
            let error = check_uid(&root, min_uid).unwrap_err();
            assert_eq!(
                error.to_string(),
                "user root has uid 0; servers never run as root"
            );
        }
    }

    #[test]
    fn accounts_below_the_minimum_uid_are_refused() {
        assert!(check_uid(&alice(), 1000).is_ok());
        assert!(check_uid(&alice(), 1001).is_ok());
        let error = check_uid(&alice(), 1002).unwrap_err();
        assert_eq!(
            error.to_string(),
            "user alice has uid 1001, below LocalProcessSpawner.min_uid 1002"
        );
        let daemon = LocalAccount {
            uid: Uid::from_raw(1),
            ..alice()
        };
        assert!(
            check_uid(&daemon, 0).is_ok(),
            "min_uid 0 allows all but root"
        );
    }

    #[test]
    fn non_root_hub_may_start_only_its_own_user() {
        assert_eq!(credentials_for(Uid::from_raw(1001), &alice()), Ok(None));
        let error = credentials_for(Uid::from_raw(1000), &alice()).unwrap_err();
        assert!(error.contains("not root"), "{error}");
        assert!(error.contains("alice"), "{error}");
    }

    #[test]
    fn empty_passwd_fields_leave_home_and_shell_unset() {
        let request = SpawnRequest {
            username: "alice".into(),
            user_id: 1,
            server_name: String::new(),
            base_url: "/user/alice/".into(),
            hub_env: Default::default(),
            settings: crate::ServerSettings::from_config(&Default::default()),
            user_options: serde_json::json!({}),
            progress: crate::ProgressReporter::ignore(),
            reports: crate::ServerReports::new(),
        };
        let account = LocalAccount {
            home: PathBuf::new(),
            shell: PathBuf::new(),
            ..alice()
        };
        let env = user_env(&request, &account);
        assert_eq!(env.user, "alice");
        assert_eq!(env.home, None);
        assert_eq!(env.shell, None);
        assert_eq!(
            user_env(&request, &alice()).shell.as_deref(),
            Some("/bin/zsh")
        );
    }
}
