//! `SlurmSpawner`: each user's server runs as a Slurm batch job, as
//! batchspawner 1.3's `SlurmSpawner` does it, with its option names.
//!
//! `start` renders `batch_script` and feeds it to `batch_submit_cmd`
//! (`sbatch`) as the user, follows the job with `batch_query_cmd`
//! (`squeue`), reading its state and execution host with the `state_*_re`
//! expressions, and reports the queue state through the request's progress.
//! Inside the job, batchspawner's own `batchspawner-singleuser` wrapper picks
//! a port and POSTs it to the hub, which delivers it to the waiting `start`
//! through [`ferrohub_spawn::ServerReports`]. The job id, host and port are
//! the stored state, so `poll` (`squeue`) and `stop` (`scancel`) work after
//! a hub restart too.
//!
//! Modules: `template` (batchspawner's `format_template`), `states` (the
//! state expressions, job ids), `command` (running the batch commands as the
//! user).

mod command;
mod states;
mod template;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_config::{Config, SlurmSpawnerConfig, SpawnerConfig};
use ferrohub_spawn::env::{EnvInputs, UserEnv, build_environment, hub_process_env};
use ferrohub_spawn::{SpawnError, SpawnRequest, Spawner, Started};
use serde_json::{Value, json};

pub use states::{JobStatus, StateMatcher, parse_job_id};
pub use template::{TemplateError, Vars, render};

use command::{Batch, CancelOnDrop};

/// Names accepted in `JupyterHub.spawner_class` for [`SlurmSpawner`].
pub const NAMES: [&str; 4] = [
    "slurm",
    "SlurmSpawner",
    "batchspawner.SlurmSpawner",
    "batchspawner.batchspawner.SlurmSpawner",
];

/// How long `stop` waits for a cancelled job to leave the queue.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// Starts servers as Slurm jobs (batchspawner's `SlurmSpawner`).
#[derive(Debug)]
pub struct SlurmSpawner {
    batch: Arc<Batch>,
    spawner: SpawnerConfig,
}

impl SlurmSpawner {
    /// Builds the spawner from `[Spawner]` and `[SlurmSpawner]`; fails on a
    /// state expression that does not compile.
    pub fn new(config: &Config) -> Result<Self, SpawnError> {
        let slurm: &SlurmSpawnerConfig = &config.slurm_spawner;
        let states = StateMatcher::new(slurm).map_err(|e| SpawnError::Config(e.to_string()))?;
        Ok(Self {
            batch: Arc::new(Batch::new(slurm.clone(), states)),
            spawner: config.spawner.clone(),
        })
    }

    /// The server's environment: upstream's `get_env()` plus `USER`, `HOME`
    /// and `SHELL` of the account (batchspawner's `UserEnvMixin`), the
    /// service URL on `SlurmSpawner.ip` with port 0, which the wrapper
    /// replaces with the port it picks.
    fn environment(
        &self,
        request: &SpawnRequest,
        account: &nix::unistd::User,
    ) -> std::collections::BTreeMap<String, String> {
        let text = |path: &std::path::Path| {
            let text = path.to_string_lossy();
            (!text.is_empty()).then(|| text.into_owned())
        };
        let user = UserEnv {
            user: request.username.clone(),
            home: text(&account.dir),
            shell: text(&account.shell),
        };
        let spawner = SpawnerConfig {
            ip: self.batch.config.ip.clone(),
            ..self.spawner.clone()
        };
        let inputs = EnvInputs {
            spawner: &spawner,
            request,
            port: 0,
            user: &user,
        };
        build_environment(&inputs, hub_process_env())
    }

    /// The variables of the templates: every `req_*` option without its
    /// prefix, `username`, `homedir` and `keepvars` defaults as upstream.
    fn vars(
        &self,
        request: &SpawnRequest,
        account: &nix::unistd::User,
        env: &std::collections::BTreeMap<String, String>,
    ) -> Vars {
        let c = &self.batch.config;
        let homedir = if c.req_homedir.is_empty() {
            account.dir.to_string_lossy().into_owned()
        } else {
            c.req_homedir.clone()
        };
        let mut keepvars = if c.req_keepvars.is_empty() {
            env.keys().cloned().collect::<Vec<_>>().join(",")
        } else {
            c.req_keepvars.clone()
        };
        if !c.req_keepvars_extra.is_empty() {
            keepvars.push(',');
            keepvars.push_str(&c.req_keepvars_extra);
        }
        let pairs: [(&str, &str); 23] = [
            ("partition", &c.req_partition),
            ("runtime", &c.req_runtime),
            ("memory", &c.req_memory),
            ("nprocs", &c.req_nprocs),
            ("ngpus", &c.req_ngpus),
            ("qos", &c.req_qos),
            ("account", &c.req_account),
            ("options", &c.req_options),
            ("reservation", &c.req_reservation),
            ("gres", &c.req_gres),
            ("cluster", &c.req_cluster),
            ("queue", &c.req_queue),
            ("host", &c.req_host),
            ("srun", &c.req_srun),
            ("prologue", &c.req_prologue),
            ("epilogue", &c.req_epilogue),
            ("homedir", &homedir),
            ("keepvars", &keepvars),
            ("keepvars_extra", &c.req_keepvars_extra),
            ("username", &request.username),
            ("ip", &c.ip),
            ("port", "0"),
            ("server_name", &request.server_name),
        ];
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect()
    }

    /// `{{cmd}}`: the wrapper, then `Spawner.cmd` and `Spawner.args`, each
    /// word shell-quoted where needed.
    fn command_line(&self, request: &SpawnRequest) -> String {
        std::iter::once(self.batch.config.batchspawner_singleuser_cmd.clone())
            .chain(request.settings.cmd.iter().cloned())
            .chain(request.settings.args.iter().cloned())
            .chain(self.spawner.debug.then(|| "--debug".to_owned()))
            .map(|word| ferrohub_spawn::command::shell_quote(&word))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The account a job runs as; never root.
fn account(username: &str) -> Result<nix::unistd::User, SpawnError> {
    let account = nix::unistd::User::from_name(username)
        .map_err(std::io::Error::from)?
        .ok_or_else(|| SpawnError::NoSuchUser(username.to_owned()))?;
    if account.uid.is_root() {
        return Err(SpawnError::RootAccount(username.to_owned()));
    }
    Ok(account)
}

/// `state` fields `poll` and `stop` need.
fn job_of(state: &Value) -> Option<(&str, &str)> {
    Some((
        state.get("job_id")?.as_str()?,
        state.get("username")?.as_str()?,
    ))
}

#[async_trait]
impl Spawner for SlurmSpawner {
    fn name(&self) -> &'static str {
        "SlurmSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let username = request.username.as_str();
        let account = account(username)?;
        let env = self.environment(request, &account);
        let mut vars = self.vars(request, &account, &env);
        vars.insert("cmd".into(), Value::String(self.command_line(request)));
        if let Value::Object(options) = &request.user_options {
            vars.extend(options.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let script = render(&self.batch.config.batch_script, &vars)
            .map_err(|e| SpawnError::Config(format!("SlurmSpawner.batch_script: {e}")))?;
        request.progress.report(0, "Submitting the batch job");
        let job_id = self.batch.submit(username, &vars, &env, &script).await?;
        tracing::info!(user = username, job_id, "batch job submitted");
        let guard = CancelOnDrop::new(Arc::clone(&self.batch), &job_id, username);
        let interval = self.batch.poll_interval();

        let mut last = None;
        let (host, status_text) = loop {
            let (status, output) = self.batch.query(&job_id, username).await?;
            let changed = last != Some(status);
            last = Some(status);
            match status {
                JobStatus::Running => {
                    let host = self.batch.states.exechost(&output).ok_or_else(|| {
                        SpawnError::Engine(format!(
                            "batch job {job_id} is running, but its host is not in the batch system's answer"
                        ))
                    })?;
                    request
                        .progress
                        .report(60, format!("Job {job_id} running on {host}"));
                    break (host, output);
                }
                JobStatus::Pending if changed => {
                    let state = output.split_whitespace().next().unwrap_or("PENDING");
                    request
                        .progress
                        .report(30, format!("Job {job_id} queued ({state})"));
                }
                JobStatus::Unknown if changed => {
                    request.progress.report(
                        30,
                        format!("Job {job_id}: the batch system does not answer; still trying"),
                    );
                }
                JobStatus::Pending | JobStatus::Unknown => {}
                JobStatus::NotFound => {
                    guard.disarm();
                    return Err(SpawnError::Engine(format!(
                        "batch job {job_id} disappeared while pending in the queue or died immediately after starting"
                    )));
                }
            }
            tokio::time::sleep(interval).await;
        };

        request.progress.report(
            80,
            format!("Job {job_id} started; waiting for the server to report its port"),
        );
        let port = loop {
            if let Some(report) = request
                .reports
                .wait(interval.max(Duration::from_secs(1)))
                .await
            {
                break report.port;
            }
            let (status, _) = self.batch.query(&job_id, username).await?;
            if status == JobStatus::NotFound {
                guard.disarm();
                return Err(SpawnError::Engine(format!(
                    "batch job {job_id} started but ended before the server reported its port"
                )));
            }
        };
        guard.disarm();
        let url = ferrohub_spawn::env::server_url(&host, port);
        tracing::info!(user = username, job_id, %url, "batch job's server reported its port");
        Ok(Started {
            url,
            state: json!({
                "job_id": job_id,
                "job_status": status_text,
                "username": username,
                "host": host,
                "port": port,
            }),
            api_token: None,
        })
    }

    async fn poll(&self, state: &Value) -> Result<Option<i32>, SpawnError> {
        let Some((job_id, username)) = job_of(state) else {
            return Ok(Some(0));
        };
        let (status, _) = self.batch.query(job_id, username).await?;
        Ok(match status {
            JobStatus::Running | JobStatus::Pending | JobStatus::Unknown => None,
            JobStatus::NotFound => Some(1),
        })
    }

    async fn stop(&self, state: &Value) -> Result<(), SpawnError> {
        let Some((job_id, username)) = job_of(state) else {
            return Ok(());
        };
        self.batch.cancel(job_id, username).await?;
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        while tokio::time::Instant::now() < deadline {
            let (status, _) = self.batch.query(job_id, username).await?;
            if status == JobStatus::NotFound {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tracing::warn!(
            job_id,
            "batch job still listed {} s after it was cancelled",
            STOP_WAIT.as_secs()
        );
        Ok(())
    }
}
