//! Starting a server process: port, environment, command line, then
//! `fork`/`exec` in a new process group with the user's identity.
//!
//! Shared by both local-process spawners; they differ only in the
//! [`Identity`] they pass in.

use std::path::PathBuf;
use std::process::Stdio;

use ferrohub_config::{Config, LocalProcessSpawnerConfig, SpawnerConfig};
use tokio::process::Command;

use crate::command::{command_line, resolve_program, shell_quote};
use crate::env::{EnvInputs, UserEnv, build_environment, hub_process_env, server_url};
use crate::port::free_port;
use crate::privileges::{Credentials, prepare_child};
use crate::process::{ProcessTable, StopTimeouts};
use crate::{SpawnError, SpawnRequest, Started};

/// The settings a process spawner uses, copied out of the hub's [`Config`].
#[derive(Debug, Clone)]
pub(crate) struct ProcessSettings {
    /// `[Spawner]`.
    pub spawner: SpawnerConfig,
    /// `[LocalProcessSpawner]` (also used by the simple spawner, its subclass upstream).
    pub local: LocalProcessSpawnerConfig,
}

impl ProcessSettings {
    /// Copies the relevant sections.
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            spawner: config.spawner.clone(),
            local: config.local_process_spawner.clone(),
        }
    }

    /// The command line of one server: its settings' `cmd` and `args`
    /// (a profile may change them), wrapped in `shell_cmd`.
    pub(crate) fn command_line(&self, request: &SpawnRequest) -> Vec<String> {
        let settings = &request.settings;
        command_line(&settings.cmd, &settings.args, &self.local.shell_cmd)
    }

    /// The waits between stop signals.
    pub(crate) fn stop_timeouts(&self) -> StopTimeouts {
        let seconds = std::time::Duration::from_secs;
        StopTimeouts {
            interrupt: seconds(self.local.interrupt_timeout),
            term: seconds(self.local.term_timeout),
            kill: seconds(self.local.kill_timeout),
        }
    }
}

/// Who a server runs as and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// `USER`, `HOME`, `SHELL` for the environment.
    pub env: UserEnv,
    /// Ids to switch to; `None` runs the server as the hub's own user.
    pub credentials: Option<Credentials>,
    /// The starting directory (or its nearest enterable ancestor).
    pub workdir: PathBuf,
}

/// Launches one server and registers it in `processes`; returns as soon as the
/// process exists (readiness is the caller's business).
pub(crate) fn start_process(
    settings: &ProcessSettings,
    processes: &ProcessTable,
    request: &SpawnRequest,
    identity: Identity,
) -> Result<Started, SpawnError> {
    let argv = settings.command_line(request);
    let launch_error = |reason: String| SpawnError::Launch {
        cmd: argv.clone(),
        reason,
    };
    let Some(program_name) = argv.first() else {
        return Err(SpawnError::Config(
            "Spawner.cmd is empty: nothing to start".into(),
        ));
    };
    let port = match settings.spawner.port {
        0 => free_port()?,
        port => port,
    };
    let inputs = EnvInputs {
        spawner: &settings.spawner,
        request,
        port,
        user: &identity.env,
    };
    let env = build_environment(&inputs, hub_process_env());
    let program = resolve_program(program_name, &env).map_err(launch_error)?;

    let quoted: Vec<String> = argv.iter().map(|w| shell_quote(w)).collect();
    tracing::info!(user = %request.username, "Spawning {}", quoted.join(" "));
    let mut command = Command::new(&program);
    command
        .arg0(program_name)
        .args(&argv[1..])
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // Own process group: the hub signals the whole tree, and a hub killed
        // with SIGKILL leaves the server running for re-adoption (so no kill_on_drop).
        .process_group(0);
    prepare_child(&mut command, identity.credentials, &identity.workdir);
    let child = command
        .spawn()
        .map_err(|error| launch_error(error.to_string()))?;
    let identity = processes.adopt(child)?;
    tracing::info!(
        user = %request.username,
        pid = identity.pid,
        uid = identity.uid,
        port,
        "server process started"
    );
    Ok(Started {
        url: server_url(&settings.spawner.ip, port),
        state: identity.to_state(),
        api_token: None,
    })
}
