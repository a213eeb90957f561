//! `[SlurmSpawner]`: the options of batchspawner 1.3's `SlurmSpawner` (and
//! the `BatchSpawnerBase` options it inherits), with upstream's names and
//! defaults, so an existing `c.SlurmSpawner.*` configuration carries over.

use serde::{Deserialize, Serialize};

/// batchspawner 1.3's default `SlurmSpawner.batch_script` (a Jinja2
/// template; `{{cmd}}` is the server's command line).
pub const DEFAULT_SLURM_BATCH_SCRIPT: &str = r#"#!/bin/bash
#SBATCH --output={{homedir}}/jupyterhub_slurmspawner_%j.log
#SBATCH --job-name=spawner-jupyterhub
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
#SBATCH --get-user-env=L
{% if partition  %}#SBATCH --partition={{partition}}
{% endif %}{% if runtime    %}#SBATCH --time={{runtime}}
{% endif %}{% if memory     %}#SBATCH --mem={{memory}}
{% endif %}{% if gres       %}#SBATCH --gres={{gres}}
{% endif %}{% if nprocs     %}#SBATCH --cpus-per-task={{nprocs}}
{% endif %}{% if reservation%}#SBATCH --reservation={{reservation}}
{% endif %}{% if options    %}#SBATCH {{options}}{% endif %}

set -euo pipefail

trap 'echo SIGTERM received' TERM
{{prologue}}
{% if srun %}{{srun}} {% endif %}{{cmd}}
echo "jupyterhub-singleuser ended gracefully"
{{epilogue}}
"#;

/// `[SlurmSpawner]` (batchspawner 1.3). Templated options (`exec_prefix`,
/// the three commands, `batch_script`) are Jinja2 when they contain `{{` or
/// `{%`, and Python `str.format` fields (`{username}`) otherwise, as upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmSpawnerConfig {
    /// The job script, fed to `batch_submit_cmd` on its standard input.
    pub batch_script: String,
    /// Submits the script (default `sbatch --parsable`); prints the job id.
    pub batch_submit_cmd: String,
    /// Asks for a job's state (default `squeue -h -j {job_id} -o '%T %B'`).
    pub batch_query_cmd: String,
    /// Cancels a job (default `scancel {job_id}`).
    pub batch_cancel_cmd: String,
    /// Put before each of the three commands (default `sudo -E -u
    /// {username}`). ferrohub: empty, with a hub running as root, runs the
    /// commands as the user's own account without sudo.
    pub exec_prefix: String,
    /// The wrapper that reports the server's port to the hub (default
    /// `batchspawner-singleuser`), put before `Spawner.cmd` in `{{cmd}}`.
    pub batchspawner_singleuser_cmd: String,
    /// `{{partition}}`: the Slurm partition.
    pub req_partition: String,
    /// `{{runtime}}`: the job's time limit (`--time`).
    pub req_runtime: String,
    /// `{{memory}}`: memory (`--mem`).
    pub req_memory: String,
    /// `{{nprocs}}`: CPUs per task.
    pub req_nprocs: String,
    /// `{{ngpus}}`: GPUs (for a custom script).
    pub req_ngpus: String,
    /// `{{qos}}`: quality of service (for a custom script).
    pub req_qos: String,
    /// `{{account}}`: the account charged (for a custom script).
    pub req_account: String,
    /// `{{options}}`: one more `#SBATCH` line's options.
    pub req_options: String,
    /// `{{reservation}}`: a reservation name.
    pub req_reservation: String,
    /// `{{gres}}`: generic resources (`--gres`).
    pub req_gres: String,
    /// `{{cluster}}`: the cluster (for a custom script).
    pub req_cluster: String,
    /// `{{queue}}`: a queue name (for a custom script).
    pub req_queue: String,
    /// `{{host}}`: a batch server host (for a custom script).
    pub req_host: String,
    /// `{{srun}}`: put before the command inside the job (default `srun`;
    /// empty runs it in the batch step itself).
    pub req_srun: String,
    /// `{{prologue}}`: shell lines before the server starts.
    pub req_prologue: String,
    /// `{{epilogue}}`: shell lines after it ends.
    pub req_epilogue: String,
    /// `{{homedir}}`; empty means the user's home from the passwd database.
    pub req_homedir: String,
    /// `{{keepvars}}`: environment variables the job keeps (`--export`);
    /// empty means every variable of the server's environment, as upstream.
    pub req_keepvars: String,
    /// Added to `keepvars` (comma-separated).
    pub req_keepvars_extra: String,
    /// Matches the query output of a job waiting to run.
    pub state_pending_re: String,
    /// Matches the query output of a running job.
    pub state_running_re: String,
    /// Captures the execution host from the query output (first group).
    pub state_exechost_re: String,
    /// If set, the host is this template expanded with the match (`\1`, `\g<name>`).
    pub state_exechost_exp: String,
    /// Matches the query output when the batch system does not answer
    /// (the job is then taken as still there); empty means not used.
    pub state_unknown_re: String,
    /// Seconds between state queries while a job starts (default 0.5).
    pub startup_poll_interval: f64,
    /// Address the server listens on in the job (default `0.0.0.0`:
    /// batch jobs run on another host).
    pub ip: String,
}

impl Default for SlurmSpawnerConfig {
    fn default() -> Self {
        Self {
            batch_script: DEFAULT_SLURM_BATCH_SCRIPT.into(),
            batch_submit_cmd: "sbatch --parsable".into(),
            batch_query_cmd: "squeue -h -j {job_id} -o '%T %B'".into(),
            batch_cancel_cmd: "scancel {job_id}".into(),
            exec_prefix: "sudo -E -u {username}".into(),
            batchspawner_singleuser_cmd: "batchspawner-singleuser".into(),
            req_partition: String::new(),
            req_runtime: String::new(),
            req_memory: String::new(),
            req_nprocs: String::new(),
            req_ngpus: String::new(),
            req_qos: String::new(),
            req_account: String::new(),
            req_options: String::new(),
            req_reservation: String::new(),
            req_gres: String::new(),
            req_cluster: String::new(),
            req_queue: String::new(),
            req_host: String::new(),
            req_srun: "srun".into(),
            req_prologue: String::new(),
            req_epilogue: String::new(),
            req_homedir: String::new(),
            req_keepvars: String::new(),
            req_keepvars_extra: String::new(),
            state_pending_re: "^(?:PENDING|CONFIGURING)".into(),
            state_running_re: "^(?:RUNNING|COMPLETING)".into(),
            state_exechost_re: r"\s+((?:[\w_-]+\.?)+)$".into(),
            state_exechost_exp: String::new(),
            state_unknown_re: "^slurm_load_jobs error: (?:Socket timed out on send/recv|Unable to contact slurm controller)".into(),
            startup_poll_interval: 0.5,
            ip: "0.0.0.0".into(),
        }
    }
}
