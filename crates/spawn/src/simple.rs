//! `SimpleLocalProcessSpawner`: servers run as the hub's own user in a home
//! made from a template. Needs no local accounts; for testing and demos only
//! (no isolation between users), exactly as upstream warns.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use async_trait::async_trait;
use ferrohub_config::Config;
use serde_json::Value;

use crate::env::{UserEnv, expand_template};
use crate::launch::{Identity, ProcessSettings, start_process};
use crate::process::ProcessTable;
use crate::{SpawnError, SpawnRequest, Spawner, Started};

/// The shell upstream's simple spawner always announces.
const SHELL: &str = "/bin/bash";

/// Starts servers without switching user, `HOME` = `home_dir_template` with
/// `{username}` replaced (created 0o755 if missing), `SHELL=/bin/bash`.
#[derive(Debug)]
pub struct SimpleLocalProcessSpawner {
    settings: ProcessSettings,
    home_dir_template: String,
    processes: ProcessTable,
}

impl SimpleLocalProcessSpawner {
    /// Builds the spawner from `[Spawner]`, `[LocalProcessSpawner]` and
    /// `[SimpleLocalProcessSpawner]`.
    ///
    /// `LocalProcessSpawner.min_uid` does not apply: this spawner never
    /// switches user, so every server runs as the hub's own user, root
    /// included when the hub runs as root (as upstream). That is only fit for
    /// tests and demos, which is why it is logged as a warning.
    pub fn new(config: &Config) -> Self {
        if nix::unistd::geteuid().is_root() {
            tracing::warn!(
                "SimpleLocalProcessSpawner runs every server as the hub's own user, here root, \
                 with no isolation between users: use it for testing only"
            );
        }
        Self {
            settings: ProcessSettings::from_config(config),
            home_dir_template: config
                .simple_local_process_spawner
                .home_dir_template
                .clone(),
            processes: ProcessTable::default(),
        }
    }

    /// The home directory `username` gets.
    pub fn home_dir(&self, username: &str) -> PathBuf {
        PathBuf::from(expand_template(&self.home_dir_template, username, ""))
    }
}

#[async_trait]
impl Spawner for SimpleLocalProcessSpawner {
    fn name(&self) -> &'static str {
        "SimpleLocalProcessSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let home = self.home_dir(&request.username);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&home)
            .map_err(|error| SpawnError::Launch {
                cmd: self.settings.command_line(request),
                reason: format!("cannot create home directory {}: {error}", home.display()),
            })?;
        let identity = Identity {
            env: UserEnv {
                user: request.username.clone(),
                home: Some(home.to_string_lossy().into_owned()),
                shell: Some(SHELL.to_owned()),
            },
            credentials: None,
            workdir: home,
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
