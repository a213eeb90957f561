//! `SudoSpawner`: a hub that runs without root starts, signals and stops
//! servers as other local users through a mediator run with `sudo`
//! (sudospawner 1.0's protocol, so an existing `sudospawner` sudoers rule and
//! the Python mediator keep working, and ferrohub's own
//! `ferrohub-sudospawner` can take its place).
//!
//! The protocol: the hub runs `sudo -u <user> <sudo_args> <sudospawner_path>
//! [--logging=<level>]`, writes one JSON object to its standard input and
//! closes it, then reads one JSON object from its standard output:
//! - `{"action": "spawn", "args": [...], "env": {...}}` starts the server
//!   (the mediator chooses the program; `args` are `Spawner.args` only) and
//!   answers `{"ok": true, "pid": N}` or `{"ok": false, "error": "..."}`;
//! - `{"action": "kill", "pid": N, "signal": S}` signals it and answers
//!   `{"ok": true, "alive": bool}`.
//!
//! The mediator's standard error (its log, then the server's output) is
//! copied into the hub's log. Polling needs no sudo: as upstream, the hub
//! looks at the process itself, here through `/proc` with the identity
//! (start time, uid, boot) recorded at start, so a reused pid is never taken
//! for the server and never signalled.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_config::{Config, SudoSpawnerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

use crate::account::LocalAccount;
use crate::command::resolve_program;
use crate::env::{EnvInputs, UserEnv, build_environment, hub_process_env, server_url};
use crate::identity::{Liveness, ProcessIdentity, StoredProcess};
use crate::launch::ProcessSettings;
use crate::port::free_port;
use crate::{SpawnError, SpawnRequest, Spawner, Started};

/// `JupyterHub.spawner_class` names of SudoSpawner: ours, upstream's
/// entry point (`sudo`) and its class paths.
pub const SUDO_NAMES: [&str; 4] = [
    "sudo",
    "SudoSpawner",
    "sudospawner.SudoSpawner",
    "sudospawner.spawner.SudoSpawner",
];

/// How long one mediator call may take (upstream waits for ever; a sudo
/// that hangs must not hold a start or a stop for ever here).
const MEDIATOR_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of the mediator's standard error kept for an error message.
const STDERR_LINES_KEPT: usize = 20;
/// How long a failed call waits for the rest of the mediator's stderr.
const STDERR_GRACE: Duration = Duration::from_secs(2);
/// First pause while waiting for a signalled server to exit.
const FIRST_DEATH_CHECK: Duration = Duration::from_millis(100);

/// One request to the mediator, serialised exactly as sudospawner's hub side
/// writes it (the Python mediator refuses any other key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum MediatorRequest {
    /// Start the server: its arguments (not the program) and environment.
    Spawn {
        /// `Spawner.args`.
        args: Vec<String>,
        /// The complete environment of the server.
        env: BTreeMap<String, String>,
    },
    /// Send `signal` (0 only asks whether it lives) to `pid`.
    Kill {
        /// The server's pid.
        pid: i32,
        /// The signal number.
        signal: i32,
    },
}

/// The mediator's answer; which fields are set depends on the action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MediatorReply {
    /// Whether the action worked.
    #[serde(default)]
    pub ok: bool,
    /// The started server's pid (spawn).
    pub pid: Option<i32>,
    /// Whether the process still lives after the signal (kill).
    pub alive: Option<bool>,
    /// Why not, when `ok` is false.
    pub error: Option<String>,
}

/// Why a mediator's output is not an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// No `{ ... }` in the output.
    #[error("no JSON object in the mediator's output {0:?}")]
    NoObject(String),
    /// Something between the braces that is not the answer.
    #[error("the mediator's answer is not valid: {0}")]
    Invalid(String),
}

impl MediatorReply {
    /// Reads the answer from the mediator's standard output as upstream does:
    /// the text from the first `{` to the last `}` (a mediator may print
    /// other lines around it).
    pub fn parse(output: &str) -> Result<Self, ReplyError> {
        let (Some(start), Some(end)) = (output.find('{'), output.rfind('}')) else {
            return Err(ReplyError::NoObject(output.to_owned()));
        };
        if end < start {
            return Err(ReplyError::NoObject(output.to_owned()));
        }
        serde_json::from_str(&output[start..=end])
            .map_err(|error| ReplyError::Invalid(error.to_string()))
    }
}

/// Starts servers through `sudo` and a mediator; the hub needs no root.
#[derive(Debug)]
pub struct SudoSpawner {
    settings: ProcessSettings,
    sudo: SudoSpawnerConfig,
    /// `sudospawner_path`, resolved on the hub's `PATH` once.
    mediator: String,
}

impl SudoSpawner {
    /// Builds the spawner from `[Spawner]`, `[LocalProcessSpawner]` (stop
    /// timeouts, `min_uid`) and `[SudoSpawner]`.
    pub fn new(config: &Config) -> Self {
        let sudo = config.sudo_spawner.clone();
        // Upstream's default is `shutil.which('sudospawner') or 'sudospawner'`.
        let path_env: BTreeMap<String, String> = hub_process_env()
            .into_iter()
            .filter(|(key, _)| key == "PATH")
            .collect();
        let mediator = resolve_program(&sudo.sudospawner_path, &path_env).map_or_else(
            |_| sudo.sudospawner_path.clone(),
            |path| path.to_string_lossy().into_owned(),
        );
        if config.spawner.cmd != ferrohub_config::SpawnerConfig::default().cmd {
            tracing::warn!(
                "SudoSpawner: Spawner.cmd is not used; the mediator decides what runs \
                 (sudospawner: the jupyterhub-singleuser beside it; ferrohub-sudospawner: \
                 its rule file's allowed_commands)"
            );
        }
        Self {
            settings: ProcessSettings::from_config(config),
            sudo,
            mediator,
        }
    }

    /// The command line of one mediator call for `user`.
    fn command_line(&self, user: &str) -> Vec<String> {
        let mut argv = vec!["sudo".to_owned(), "-u".to_owned(), user.to_owned()];
        argv.extend(self.sudo.sudo_args.iter().cloned());
        argv.push(self.mediator.clone());
        if let Some(level) = self.sudo.log_level() {
            argv.push(format!("--logging={level}"));
        }
        argv
    }

    /// Runs the mediator as `user` with one request and returns its answer;
    /// a failed sudo, a non-zero exit or `ok: false` are errors that say why.
    async fn call(
        &self,
        user: &str,
        request: &MediatorRequest,
    ) -> Result<MediatorReply, SpawnError> {
        let argv = self.command_line(user);
        let launch_error = |reason: String| SpawnError::Launch {
            cmd: argv.clone(),
            reason,
        };
        let input = serde_json::to_vec(request).map_err(|e| launch_error(e.to_string()))?;
        tracing::debug!(user, "running {}", argv.join(" "));
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| launch_error(e.to_string()))?;
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        // Lasts as long as the server holds the mediator's stderr: its log
        // reaches the hub's (as upstream's `relog_stderr`). Dropping the
        // handle on success leaves it running.
        let mut relog = child.stderr.take().map(|stderr| {
            tokio::spawn(relog_stderr(
                stderr,
                user.to_owned(),
                Arc::clone(&stderr_tail),
            ))
        });
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| launch_error("no stdin".into()))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| launch_error("no stdout".into()))?;
        let exchange = async {
            // A mediator that refuses before reading closes its stdin: not an error here.
            let _ignored = stdin.write_all(&input).await;
            drop(stdin);
            let mut output = Vec::new();
            stdout.read_to_end(&mut output).await?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((output, status))
        };
        let (output, status) = tokio::time::timeout(MEDIATOR_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                launch_error(format!(
                    "no answer in {} seconds",
                    MEDIATOR_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| launch_error(e.to_string()))?;
        let output = String::from_utf8_lossy(&output);
        let reply = MediatorReply::parse(&output);
        if !status.success() || reply.as_ref().is_ok_and(|r| !r.ok) {
            // Let the mediator's stderr (sudo's own complaint, say) arrive:
            // it ends with the mediator unless a started process holds it.
            if let Some(relog) = relog.as_mut() {
                let _finished = tokio::time::timeout(STDERR_GRACE, relog).await;
            }
            let why = match &reply {
                Ok(MediatorReply {
                    error: Some(error), ..
                }) => error.clone(),
                _ => {
                    let tail = stderr_tail
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .join("; ");
                    if tail.is_empty() {
                        "no error message".to_owned()
                    } else {
                        tail
                    }
                }
            };
            return Err(launch_error(format!(
                "the mediator failed ({status}): {why}"
            )));
        }
        reply.map_err(|e| launch_error(e.to_string()))
    }

    /// Sends `signal` to the server through the mediator; whether it lives.
    async fn signal(&self, user: &str, pid: i32, signal: i32) -> Result<bool, SpawnError> {
        let reply = self
            .call(user, &MediatorRequest::Kill { pid, signal })
            .await?;
        Ok(reply.alive.unwrap_or(false))
    }
}

/// Copies the mediator's standard error into the hub's log, keeping the
/// first lines for an error message.
async fn relog_stderr(
    stderr: tokio::process::ChildStderr,
    user: String,
    kept: Arc<Mutex<Vec<String>>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "sudospawner", user = %user, "{line}");
        let mut kept = kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() < STDERR_LINES_KEPT {
            kept.push(line);
        }
    }
}

/// The user a stored state's server runs as (stored at start: a stop needs
/// it to run the mediator as that user).
fn stored_user(state: &Value) -> Result<&str, SpawnError> {
    state
        .get("user")
        .and_then(Value::as_str)
        .filter(|user| !user.is_empty())
        .ok_or_else(|| SpawnError::State("SudoSpawner state without its user".into()))
}

#[async_trait]
impl Spawner for SudoSpawner {
    fn name(&self) -> &'static str {
        "SudoSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let account = LocalAccount::lookup(&request.username).await?;
        crate::local::check_uid(&account, self.settings.local.min_uid)?;
        let port = match self.settings.spawner.port {
            0 => free_port()?,
            port => port,
        };
        let non_empty = |path: &std::path::Path| {
            let text = path.to_string_lossy();
            (!text.is_empty()).then(|| text.into_owned())
        };
        let user = UserEnv {
            user: request.username.clone(),
            home: non_empty(&account.home),
            shell: non_empty(&account.shell),
        };
        let inputs = EnvInputs {
            spawner: &self.settings.spawner,
            request,
            port,
            user: &user,
        };
        let env = build_environment(&inputs, hub_process_env());
        let spawn = MediatorRequest::Spawn {
            args: request.settings.args.clone(),
            env,
        };
        tracing::info!(user = %request.username, "Spawning through {}", self.mediator);
        let reply = self.call(&account.name, &spawn).await?;
        let pid = reply
            .pid
            .filter(|pid| *pid > 0)
            .ok_or_else(|| SpawnError::State("the mediator answered no pid".into()))?;
        let identity = ProcessIdentity::read(pid).map_err(|error| SpawnError::Launch {
            cmd: self.command_line(&account.name),
            reason: format!("the server (pid {pid}) is gone already: {error}"),
        })?;
        if identity.uid != account.uid.as_raw() {
            return Err(SpawnError::Launch {
                cmd: self.command_line(&account.name),
                reason: format!(
                    "pid {pid} runs as uid {}, not as {} (uid {})",
                    identity.uid, account.name, account.uid
                ),
            });
        }
        tracing::info!(user = %request.username, pid, uid = identity.uid, port, "server process started");
        let mut state = identity.to_state();
        state["user"] = Value::from(account.name);
        Ok(Started {
            url: server_url(&self.settings.spawner.ip, port),
            state,
            api_token: None,
        })
    }

    async fn poll(&self, state: &Value) -> Result<Option<i32>, SpawnError> {
        Ok(match StoredProcess::from_state(state) {
            StoredProcess::Identified(identity) => match identity.liveness() {
                Liveness::Running => None,
                Liveness::Gone => Some(0),
            },
            StoredProcess::None | StoredProcess::Unverified(_) => Some(0),
        })
    }

    /// Upstream's stop (`LocalProcessSpawner.stop` through the mediator):
    /// SIGINT, SIGTERM, SIGKILL, each followed by its timeout, signalled
    /// only while the recorded process still runs.
    async fn stop(&self, state: &Value) -> Result<(), SpawnError> {
        let StoredProcess::Identified(identity) = StoredProcess::from_state(state) else {
            return Ok(());
        };
        let user = stored_user(state)?;
        let timeouts = self.settings.stop_timeouts();
        let steps = [
            (libc::SIGINT, timeouts.interrupt),
            (libc::SIGTERM, timeouts.term),
            (libc::SIGKILL, timeouts.kill),
        ];
        for (signal, wait) in steps {
            if identity.liveness() == Liveness::Gone {
                return Ok(());
            }
            tracing::debug!(
                pid = identity.pid,
                signal,
                "signalling the server through the mediator"
            );
            self.signal(user, identity.pid, signal).await?;
            let deadline = Instant::now() + wait;
            let mut pause = FIRST_DEATH_CHECK;
            while identity.liveness() == Liveness::Running && Instant::now() < deadline {
                tokio::time::sleep(pause.min(deadline - Instant::now())).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
        if identity.liveness() == Liveness::Running {
            tracing::warn!(pid = identity.pid, "server process never died");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_are_written_as_sudospawner_writes_them() {
        let spawn = MediatorRequest::Spawn {
            args: vec!["--debug".into()],
            env: BTreeMap::from([("JUPYTERHUB_USER".into(), "alice".into())]),
        };
        assert_eq!(
            serde_json::to_value(&spawn).unwrap(),
            json!({"action": "spawn", "args": ["--debug"], "env": {"JUPYTERHUB_USER": "alice"}})
        );
        let kill = MediatorRequest::Kill {
            pid: 42,
            signal: 15,
        };
        assert_eq!(
            serde_json::to_value(&kill).unwrap(),
            json!({"action": "kill", "pid": 42, "signal": 15})
        );
    }

    #[test]
    fn replies_are_read_between_the_outer_braces() {
        let reply = MediatorReply::parse("log line\n{\"ok\": true, \"pid\": 7}\n").unwrap();
        assert_eq!(reply.pid, Some(7));
        assert!(reply.ok);
        let alive = MediatorReply::parse("{\"ok\": true, \"alive\": false}").unwrap();
        assert_eq!(alive.alive, Some(false));
        let refused =
            MediatorReply::parse("{\"ok\": false, \"error\": \"Exited with status: 1\"}").unwrap();
        assert!(!refused.ok);
        assert_eq!(refused.error.as_deref(), Some("Exited with status: 1"));
        assert!(matches!(
            MediatorReply::parse("sudo: a password is required"),
            Err(ReplyError::NoObject(_))
        ));
        assert!(matches!(
            MediatorReply::parse("} {"),
            Err(ReplyError::NoObject(_))
        ));
        assert!(matches!(
            MediatorReply::parse("{not json}"),
            Err(ReplyError::Invalid(_))
        ));
    }

    #[test]
    fn the_command_line_is_upstreams() {
        let mut config = Config::default();
        config.sudo_spawner.sudospawner_path = "/opt/hub/bin/sudospawner".into();
        let spawner = SudoSpawner::new(&config);
        assert_eq!(
            spawner.command_line("alice"),
            [
                "sudo",
                "-u",
                "alice",
                "-nH",
                "/opt/hub/bin/sudospawner",
                "--logging=INFO"
            ]
        );
        config.sudo_spawner.mediator_log_level = String::new();
        config.sudo_spawner.sudo_args = vec![];
        let quiet = SudoSpawner::new(&config);
        assert_eq!(
            quiet.command_line("bob"),
            ["sudo", "-u", "bob", "/opt/hub/bin/sudospawner"]
        );
    }

    #[test]
    fn a_state_without_a_user_cannot_be_stopped_through_sudo() {
        assert!(stored_user(&json!({"pid": 5})).is_err());
        assert!(stored_user(&json!({"pid": 5, "user": ""})).is_err());
        assert_eq!(stored_user(&json!({"user": "alice"})).unwrap(), "alice");
    }

    /// A SudoSpawner whose mediator is the shell script `body`, run as root
    /// through real sudo; `None` (with a note) where that cannot run.
    fn scripted(dir: &std::path::Path, name: &str, body: &str) -> Option<SudoSpawner> {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() || !std::path::Path::new("/usr/bin/sudo").exists() {
            eprintln!("skipped: needs root and sudo (CI has both)");
            return None;
        }
        let script = dir.join(name);
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut config = Config::default();
        config.sudo_spawner.sudospawner_path = script.to_string_lossy().into_owned();
        Some(SudoSpawner::new(&config))
    }

    #[tokio::test]
    async fn the_mediator_gets_the_request_and_its_errors_surface() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("request.json");
        let Some(answers) = scripted(
            dir.path(),
            "answers",
            &format!(
                "cat > {}; echo \"$*\" > {}.args; echo 'log line'; echo '{{\"ok\": true, \"alive\": true}}'",
                seen.display(),
                seen.display()
            ),
        ) else {
            return;
        };
        let request = MediatorRequest::Kill { pid: 1, signal: 0 };
        let reply = answers.call("root", &request).await.unwrap();
        assert_eq!(reply.alive, Some(true));
        let written: Value = serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
        assert_eq!(written, json!({"action": "kill", "pid": 1, "signal": 0}));
        let args = std::fs::read_to_string(format!("{}.args", seen.display())).unwrap();
        assert_eq!(args.trim(), "--logging=INFO");

        let refuses = scripted(
            dir.path(),
            "refuses",
            "cat >/dev/null; echo '{\"ok\": false, \"error\": \"user x is not allowed\"}'; exit 1",
        )
        .unwrap();
        let error = refuses
            .call("root", &request)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("user x is not allowed"), "{error}");
        assert!(error.contains("exit status: 1"), "{error}");

        let breaks = scripted(
            dir.path(),
            "breaks",
            "cat >/dev/null; echo 'Traceback: it broke' >&2; exit 3",
        )
        .unwrap();
        let error = breaks.call("root", &request).await.unwrap_err().to_string();
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(error.contains("Traceback: it broke"), "{error}");

        let garbles =
            scripted(dir.path(), "garbles", "cat >/dev/null; echo 'no json here'").unwrap();
        let error = garbles
            .call("root", &request)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("no JSON object"), "{error}");
    }

    #[tokio::test]
    async fn states_without_identity_are_gone_and_never_signalled() {
        let mut config = Config::default();
        // A mediator that would fail loudly if it were ever run.
        config.sudo_spawner.sudospawner_path = "/nonexistent/mediator".into();
        let spawner = SudoSpawner::new(&config);
        let me = i32::try_from(std::process::id()).unwrap();
        let state = json!({"pid": me, "user": "root"});
        assert_eq!(spawner.poll(&state).await.unwrap(), Some(0));
        spawner.stop(&state).await.unwrap();
        let mine = ProcessIdentity::read(me).unwrap().to_state();
        assert_eq!(
            spawner.poll(&mine).await.unwrap(),
            None,
            "our own process runs"
        );
    }
}
