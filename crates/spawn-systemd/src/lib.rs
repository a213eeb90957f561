//! `SystemdSpawner`: each user's server runs as a transient systemd unit,
//! as systemdspawner 1.0 does it, with its option names.
//!
//! `start` picks a free port, stops a unit of the same name that is still
//! running and resets one that failed, writes the server's environment to
//! a private file in the unit's runtime directory, and starts the unit
//! with `systemd-run` (the account's uid and gid, its working directory,
//! the properties the options ask for: limits, isolation, read-only
//! paths). The unit name is the stored state, so `poll` (`systemctl
//! is-active`) and `stop` (`systemctl stop`) work after a hub restart.
//! systemd must be PID 1 of the hub's PID namespace, and the hub root, as
//! upstream.
//!
//! Modules: `unit` (templates, properties, the `systemd-run` command line;
//! pure), `systemctl` (running systemd's tools).

mod systemctl;
pub mod unit;

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_config::{Config, SpawnerConfig, SystemdSpawnerConfig};
use ferrohub_spawn::env::{EnvInputs, UserEnv, build_environment, hub_process_env};
use ferrohub_spawn::{SpawnError, SpawnRequest, Spawner, Started};
use serde_json::{Value, json};

use systemctl::UnitState;
use unit::{Limits, RunPlan, expand};

/// Names accepted in `JupyterHub.spawner_class` for [`SystemdSpawner`]:
/// ours (also upstream's entry point), the class, upstream's other entry
/// point and the class's two import paths.
pub const NAMES: [&str; 5] = [
    "systemd",
    "SystemdSpawner",
    "systemdspawner",
    "systemdspawner.SystemdSpawner",
    "systemdspawner.systemdspawner.SystemdSpawner",
];

/// Where runtime directories (and so the environment files) live.
const RUN_ROOT: &str = "/run";

/// Starts servers as transient systemd units (systemdspawner's
/// `SystemdSpawner`).
#[derive(Debug)]
pub struct SystemdSpawner {
    config: SystemdSpawnerConfig,
    spawner: SpawnerConfig,
    /// `SHELL` of the servers: `default_shell`, else the hub's `$SHELL`,
    /// else `/bin/bash` (read once, as upstream's trait default).
    shell: String,
}

impl SystemdSpawner {
    /// Builds the spawner from `[Spawner]` and `[SystemdSpawner]`.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        let systemd = config.systemd_spawner.clone();
        let shell = systemd.default_shell.clone().unwrap_or_else(|| {
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/bash".to_owned())
        });
        Self {
            config: systemd,
            spawner: config.spawner.clone(),
            shell,
        }
    }

    /// The unit name for a request: `unit_name_template` expanded, and for
    /// a named server `-<server name>` after it (escaped as systemd-escape
    /// does). Upstream names every server of a user alike, so a second
    /// named server would stop the first one's unit; here each has its own.
    #[must_use]
    pub fn unit_name(&self, request: &SpawnRequest) -> String {
        let unit = expand(
            &self.config.unit_name_template,
            &request.username,
            request.user_id,
        );
        if request.server_name.is_empty() {
            unit
        } else {
            format!("{unit}-{}", unit::escape(&request.server_name))
        }
    }

    /// The effective limits: `[SystemdSpawner]`'s, else the request's
    /// (`[Spawner]` with a profile applied).
    fn limits(&self, request: &SpawnRequest) -> Limits {
        Limits {
            mem_limit: self
                .config
                .mem_limit
                .map(u64::from)
                .or(request.settings.mem_limit),
            cpu_limit: self.config.cpu_limit.or(request.settings.cpu_limit),
        }
    }

    /// Who the server runs as, where it starts, and its environment.
    fn identity(&self, request: &SpawnRequest, port: u16) -> Result<Identity, SpawnError> {
        let (username, id) = (request.username.as_str(), request.user_id);
        let limits = self.limits(request);
        let mut effective = request.clone();
        effective.settings.mem_limit = limits.mem_limit;
        effective.settings.cpu_limit = limits.cpu_limit;
        let (ids, working_dir, user) = if self.config.dynamic_users {
            let home = expand("/var/lib/{USERNAME}", username, id);
            let user = UserEnv {
                user: username.to_owned(),
                home: Some(home.clone()),
                shell: Some(self.shell.clone()),
            };
            (None, home, user)
        } else {
            let name = expand(&self.config.username_template, username, id);
            let account = nix::unistd::User::from_name(&name)
                .map_err(std::io::Error::from)?
                .ok_or_else(|| SpawnError::NoSuchUser(name.clone()))?;
            if account.uid.is_root() {
                return Err(SpawnError::RootAccount(name));
            }
            let home = account.dir.to_string_lossy().into_owned();
            let working_dir = match &self.config.user_workingdir {
                Some(dir) => expand(dir, username, id),
                None => home.clone(),
            };
            let user = UserEnv {
                user: name,
                home: (!home.is_empty()).then_some(home),
                shell: Some(self.shell.clone()),
            };
            let ids = (account.uid.as_raw(), account.gid.as_raw());
            (Some(ids), working_dir, user)
        };
        let inputs = EnvInputs {
            spawner: &self.spawner,
            request: &effective,
            port,
            user: &user,
        };
        let mut env = build_environment(&inputs, hub_process_env());
        if self.config.dynamic_users {
            // systemd names the dynamic account; its USER stays.
            env.remove("USER");
        }
        if !self.config.extra_paths.is_empty() {
            let path = unit::extended_path(
                &self.config.extra_paths,
                env.get("PATH").map(String::as_str),
                username,
                id,
            );
            env.insert("PATH".into(), path);
        }
        env.insert("SHELL".into(), self.shell.clone());
        Ok(Identity {
            ids,
            working_dir,
            env,
        })
    }

    /// `Spawner.cmd` and `Spawner.args`, expanded, the program made
    /// absolute (systemd-run does not search the unit's `PATH`): looked up
    /// in the server's `PATH`, else the hub's.
    fn command(
        &self,
        request: &SpawnRequest,
        env: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, SpawnError> {
        let (username, id) = (request.username.as_str(), request.user_id);
        let mut command: Vec<String> = request
            .settings
            .cmd
            .iter()
            .chain(&request.settings.args)
            .map(|word| expand(word, username, id))
            .collect();
        let Some(program) = command.first_mut() else {
            return Err(SpawnError::Config(
                "Spawner.cmd is empty; SystemdSpawner needs a command".into(),
            ));
        };
        if !Path::new(program.as_str()).is_absolute() {
            let mut search = env.clone();
            if !search.contains_key("PATH")
                && let Ok(path) = std::env::var("PATH")
            {
                search.insert("PATH".into(), path);
            }
            let found =
                ferrohub_spawn::command::resolve_program(program, &search).map_err(|reason| {
                    SpawnError::Launch {
                        cmd: request.settings.cmd.clone(),
                        reason,
                    }
                })?;
            *program = found.to_string_lossy().into_owned();
        }
        Ok(command)
    }

    /// Waits until the unit runs (upstream polls once a second for
    /// `start_timeout`); a unit that ended already is an error.
    async fn wait_active(&self, unit: &str) -> Result<(), SpawnError> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.spawner.start_timeout.max(1));
        loop {
            match systemctl::state(unit).await? {
                UnitState::Active => return Ok(()),
                UnitState::Failed | UnitState::Gone => {
                    return Err(SpawnError::Engine(format!(
                        "the server's systemd unit {unit} ended as it started; see journalctl -u {unit}"
                    )));
                }
                UnitState::Activating => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SpawnError::Engine(format!(
                    "the server's systemd unit {unit} did not become active in {} s",
                    self.spawner.start_timeout
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Who a server runs as, where it starts, and what it is told.
struct Identity {
    /// `--uid`/`--gid`; `None` with dynamic users.
    ids: Option<(u32, u32)>,
    /// `--working-directory`.
    working_dir: String,
    /// The server's environment (the environment file).
    env: BTreeMap<String, String>,
}

/// Writes the environment file, private to root (0400, in a 0700
/// directory), as upstream's `make_environment_file`.
fn write_environment_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Stops the unit of a `start` that does not finish (the hub's
/// `start_timeout`, a stop request, an error after `systemd-run`), so no
/// server runs that the hub does not know about.
struct StopOnDrop(Option<String>);

impl StopOnDrop {
    /// The start succeeded: the unit is the hub's now.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(unit) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                tracing::info!(unit, "start did not finish; stopping its unit");
                if let Err(e) = systemctl::stop(&unit).await {
                    tracing::warn!(unit, "could not stop the unit: {e}");
                }
            });
        }
    }
}

/// The unit name in the stored state.
fn unit_of(state: &Value) -> Option<&str> {
    state.get("unit_name")?.as_str()
}

#[async_trait]
impl Spawner for SystemdSpawner {
    fn name(&self) -> &'static str {
        "SystemdSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let unit = self.unit_name(request);
        // A unit of this name the hub does not know about (a leftover of
        // an earlier hub, or of a start that failed): stopped, as upstream.
        if systemctl::is_active(&unit).await? {
            tracing::info!(
                unit,
                "unit already exists but is not known to the hub; stopping it"
            );
            systemctl::stop(&unit).await?;
            if systemctl::is_active(&unit).await? {
                return Err(SpawnError::Engine(format!(
                    "could not stop the existing systemd unit {unit}"
                )));
            }
        }
        // A failed unit of this name keeps its name taken until reset.
        if systemctl::is_failed(&unit).await? {
            tracing::info!(unit, "unit in a failed state; resetting it");
            systemctl::reset_failed(&unit).await?;
        }
        let port = ferrohub_spawn::port::free_port()?;
        let Identity {
            ids,
            working_dir,
            env,
        } = self.identity(request, port)?;
        let command = self.command(request, &env)?;
        let mut properties = unit::properties(
            &self.config,
            self.limits(request),
            &request.username,
            request.user_id,
        );
        unit::add_run_defaults(&mut properties, &unit);
        let environment_file = if env.is_empty() {
            None
        } else {
            let path: PathBuf = unit::environment_file(&properties, Path::new(RUN_ROOT), &unit);
            let text =
                unit::environment_text(&env).map_err(|e| SpawnError::Config(e.to_string()))?;
            write_environment_file(&path, &text)?;
            Some(path)
        };
        let plan = RunPlan {
            unit: unit.clone(),
            working_dir,
            ids,
            slice: self.config.slice.clone(),
            properties,
            environment_file,
            command,
        };
        request.progress.report(20, "Starting the systemd unit");
        let guard = StopOnDrop(Some(unit.clone()));
        systemctl::start(&unit::run_arguments(&plan)).await?;
        tracing::info!(user = %request.username, unit, port, "systemd unit started");
        self.wait_active(&unit).await?;
        guard.disarm();
        Ok(Started {
            url: ferrohub_spawn::env::server_url(&self.spawner.ip, port),
            state: json!({ "unit_name": unit }),
            api_token: None,
        })
    }

    async fn poll(&self, state: &Value) -> Result<Option<i32>, SpawnError> {
        let Some(unit) = unit_of(state) else {
            return Ok(Some(0));
        };
        Ok(if systemctl::is_active(unit).await? {
            None
        } else {
            Some(1)
        })
    }

    async fn stop(&self, state: &Value) -> Result<(), SpawnError> {
        if let Some(unit) = unit_of(state) {
            systemctl::stop(unit).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unit/unit.env");
        write_environment_file(&path, "A=1\n").unwrap();
        // Written again (a restart of the same unit): replaced.
        write_environment_file(&path, "A=2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=2\n");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o400);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn the_unit_name_expands_the_template() {
        let mut config = Config::default();
        config.systemd_spawner.unit_name_template = "hub-{USERID}-{USERNAME}".into();
        let spawner = SystemdSpawner::new(&config);
        let request = ferrohub_spawn::SpawnRequest {
            username: "alice".into(),
            user_id: 42,
            server_name: String::new(),
            base_url: "/user/alice/".into(),
            hub_env: BTreeMap::new(),
            settings: ferrohub_spawn::ServerSettings::from_config(&config.spawner),
            user_options: json!({}),
            progress: ferrohub_spawn::ProgressReporter::ignore(),
            reports: ferrohub_spawn::ServerReports::default(),
        };
        assert_eq!(spawner.unit_name(&request), "hub-42-alice");
        // A named server gets a unit of its own.
        let named = ferrohub_spawn::SpawnRequest {
            server_name: "gpu run/2".into(),
            ..request
        };
        assert_eq!(spawner.unit_name(&named), "hub-42-alice-gpu\\x20run-2");
    }

    #[tokio::test]
    async fn state_without_a_unit_is_a_stopped_server() {
        let spawner = SystemdSpawner::new(&Config::default());
        assert_eq!(spawner.poll(&json!({})).await.unwrap(), Some(0));
        spawner.stop(&json!({})).await.unwrap();
    }
}
