//! Running the batch commands (`batch_submit_cmd`, `batch_query_cmd`,
//! `batch_cancel_cmd`) through the shell, as upstream's `run_command`:
//! `exec_prefix` first (by default `sudo -E -u {username}`). With an empty
//! `exec_prefix` and a hub running as root, the command runs as the user's
//! own account instead (privileges dropped before exec), so jobs belong to
//! the user without sudo; upstream would submit them as root.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrohub_config::SlurmSpawnerConfig;
use ferrohub_spawn::SpawnError;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

use crate::states::{JobStatus, StateMatcher, parse_job_id};
use crate::template::{Vars, render};

/// What a finished command said.
#[derive(Debug)]
pub(crate) struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// The configured batch commands and how to read their answers.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) config: SlurmSpawnerConfig,
    pub(crate) states: StateMatcher,
}

impl Batch {
    pub(crate) fn new(config: SlurmSpawnerConfig, states: StateMatcher) -> Self {
        Self { config, states }
    }

    /// `startup_poll_interval`, at least 50 ms (a zero or negative value
    /// would spin).
    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::try_from_secs_f64(self.config.startup_poll_interval)
            .unwrap_or_default()
            .max(Duration::from_millis(50))
    }

    /// `exec_prefix` and `command` rendered with `vars`, as one shell line.
    fn line(&self, command: &str, vars: &Vars) -> Result<String, SpawnError> {
        let render = |option: &str, template: &str| {
            render(template, vars)
                .map_err(|e| SpawnError::Config(format!("SlurmSpawner.{option}: {e}")))
        };
        let prefix = render("exec_prefix", &self.config.exec_prefix)?;
        let command = render("batch command", command)?;
        Ok(format!("{prefix} {command}").trim().to_owned())
    }

    /// The variables of the query and cancel commands.
    fn job_vars(&self, job_id: &str, username: &str) -> Vars {
        [
            ("job_id", job_id),
            ("username", username),
            ("partition", &self.config.req_partition),
            ("cluster", &self.config.req_cluster),
            ("account", &self.config.req_account),
            ("qos", &self.config.req_qos),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect()
    }

    /// Submits `script` with `env` as the job's submission environment;
    /// returns the job id. A refusal by the batch system is reported with
    /// its reason (the last line of its error output, which names the
    /// request's problem, e.g. an invalid partition).
    pub(crate) async fn submit(
        &self,
        username: &str,
        vars: &Vars,
        env: &BTreeMap<String, String>,
        script: &str,
    ) -> Result<String, SpawnError> {
        let line = self.line(&self.config.batch_submit_cmd, vars)?;
        let output = self.run(&line, username, Some(env), Some(script)).await?;
        if !output.success {
            tracing::error!(user = username, "job submission failed: {}", output.stderr);
            return Err(SpawnError::Engine(submit_refusal(&output.stderr)));
        }
        parse_job_id(&output.stdout).ok_or_else(|| {
            tracing::error!(
                user = username,
                "no job id in submission output {:?}",
                output.stdout
            );
            SpawnError::Engine(
                "the batch system printed no job id for the submitted job".to_owned(),
            )
        })
    }

    /// The job's state and the query's output (its error output when the
    /// query failed, as upstream: `Invalid job id` then means gone).
    pub(crate) async fn query(
        &self,
        job_id: &str,
        username: &str,
    ) -> Result<(JobStatus, String), SpawnError> {
        let line = self.line(
            &self.config.batch_query_cmd,
            &self.job_vars(job_id, username),
        )?;
        let output = self.run(&line, username, None, None).await?;
        let text = if output.success {
            output.stdout
        } else {
            output.stderr
        };
        Ok((self.states.status(&text), text))
    }

    /// Cancels the job.
    pub(crate) async fn cancel(&self, job_id: &str, username: &str) -> Result<(), SpawnError> {
        let line = self.line(
            &self.config.batch_cancel_cmd,
            &self.job_vars(job_id, username),
        )?;
        let output = self.run(&line, username, None, None).await?;
        if !output.success {
            tracing::warn!(job_id, "cancelling the job failed: {}", output.stderr);
        }
        Ok(())
    }

    /// Runs `line` with `sh -c`, as the user when the hub is root and
    /// `exec_prefix` is empty; `env` replaces the environment when given.
    async fn run(
        &self,
        line: &str,
        username: &str,
        env: Option<&BTreeMap<String, String>>,
        input: Option<&str>,
    ) -> Result<Output, SpawnError> {
        let mut command = tokio::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(line)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(env) = env {
            command.env_clear().envs(env);
        }
        if self.config.exec_prefix.trim().is_empty() && nix::unistd::geteuid().is_root() {
            ferrohub_spawn::run_as_local_user(&mut command, username, None).await?;
        }
        let launch = |e: std::io::Error| SpawnError::Launch {
            cmd: vec![line.to_owned()],
            reason: e.to_string(),
        };
        let mut child = command.spawn().map_err(launch)?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input.as_bytes()).await.map_err(launch)?;
        }
        let output = child.wait_with_output().await.map_err(launch)?;
        Ok(Output {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The client-safe part of a refused submission: sbatch's reason after
/// "Batch job submission failed: ", without the command's own prefix.
fn submit_refusal(stderr: &str) -> String {
    let reason = stderr
        .lines()
        .rev()
        .find_map(|line| line.split_once("submission failed:").map(|(_, r)| r.trim()))
        .filter(|r| !r.is_empty());
    match reason {
        Some(reason) => format!("the batch system refused the job: {reason}"),
        None => "the batch system refused the job (details are in the hub log)".to_owned(),
    }
}

/// Cancels a submitted job if `start` ends without handing it over (the
/// hub's `start_timeout` dropped the future, or the start failed), so no
/// job is left running that the hub does not know.
pub(crate) struct CancelOnDrop {
    batch: Arc<Batch>,
    job_id: String,
    username: String,
    armed: AtomicBool,
}

impl CancelOnDrop {
    pub(crate) fn new(batch: Arc<Batch>, job_id: &str, username: &str) -> Self {
        Self {
            batch,
            job_id: job_id.to_owned(),
            username: username.to_owned(),
            armed: AtomicBool::new(true),
        }
    }

    /// The job is handed over (or already gone): nothing to cancel.
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(job_id = %self.job_id, "cannot cancel the abandoned batch job: no runtime");
            return;
        };
        let (batch, job_id, username) = (
            Arc::clone(&self.batch),
            std::mem::take(&mut self.job_id),
            std::mem::take(&mut self.username),
        );
        tracing::warn!(job_id, "start did not finish; cancelling its batch job");
        runtime.spawn(async move {
            if let Err(e) = batch.cancel(&job_id, &username).await {
                tracing::error!(job_id, "cancelling the abandoned batch job failed: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_shows_sbatchs_reason_only() {
        let stderr = "sbatch: error: invalid partition specified: nosuch\n\
                      sbatch: error: Batch job submission failed: Invalid partition name specified";
        assert_eq!(
            submit_refusal(stderr),
            "the batch system refused the job: Invalid partition name specified"
        );
        assert_eq!(
            submit_refusal("sh: 1: sudo: not found"),
            "the batch system refused the job (details are in the hub log)"
        );
    }

    #[test]
    fn the_prefix_goes_before_each_command() {
        let batch = Batch::new(
            SlurmSpawnerConfig::default(),
            StateMatcher::new(&SlurmSpawnerConfig::default()).unwrap(),
        );
        let vars = batch.job_vars("17", "alice");
        assert_eq!(
            batch.line(&batch.config.batch_query_cmd, &vars).unwrap(),
            "sudo -E -u alice squeue -h -j 17 -o '%T %B'"
        );
        let plain = Batch::new(
            SlurmSpawnerConfig {
                exec_prefix: String::new(),
                ..SlurmSpawnerConfig::default()
            },
            StateMatcher::new(&SlurmSpawnerConfig::default()).unwrap(),
        );
        assert_eq!(
            plain.line(&plain.config.batch_cancel_cmd, &vars).unwrap(),
            "scancel 17"
        );
    }
}
