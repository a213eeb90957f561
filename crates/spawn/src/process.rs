//! Watching and stopping server processes by pid.
//!
//! Children this hub started are reaped by a background task that records
//! their exit status (an unreaped child stays a zombie, and `kill(pid, 0)`
//! would call it alive). Processes from before a hub restart are only known by
//! pid: for them liveness is `kill(pid, 0)` plus a zombie check in `/proc`.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::process::Child;
use tokio::time::Instant;

use crate::SpawnError;

/// How long an exit status of our own child is remembered after it exits.
const EXIT_MEMORY: Duration = Duration::from_secs(3600);
/// First pause while waiting for a process to die (upstream's 0.1 s).
const FIRST_DEATH_CHECK: Duration = Duration::from_millis(100);
/// Longest pause between two checks while waiting for a process to die.
const MAX_DEATH_CHECK: Duration = Duration::from_secs(1);

/// The spawner state for a process server: `{"pid": N}`.
pub(crate) fn state_for(pid: i32) -> Value {
    json!({ "pid": pid })
}

/// The pid in a state, if it is a usable one (missing, 0 or negative means none:
/// signalling pid 0 or -1 would hit the hub's own group or everything).
fn pid_from_state(state: &Value) -> Option<i32> {
    let pid = state.get("pid")?.as_i64()?;
    i32::try_from(pid).ok().filter(|pid| *pid > 0)
}

/// Seconds to wait after each signal of a stop (`LocalProcessSpawner.*_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopTimeouts {
    /// After SIGINT.
    pub interrupt: Duration,
    /// After SIGTERM.
    pub term: Duration,
    /// After SIGKILL.
    pub kill: Duration,
}

/// How one of our children ended.
#[derive(Debug, Clone, Copy)]
struct Exit {
    /// Exit code, or minus the signal number (Python's `Popen.returncode`).
    code: i32,
    /// When the reaper saw it.
    at: Instant,
}

/// The children this spawner started, by pid, with their exit once reaped.
#[derive(Debug, Default)]
pub(crate) struct ProcessTable {
    children: Arc<Mutex<HashMap<i32, Arc<OnceLock<Exit>>>>>,
}

impl ProcessTable {
    /// Takes ownership of a freshly spawned child and starts reaping it.
    pub fn adopt(&self, mut child: Child) -> Result<i32, SpawnError> {
        let raw = child
            .id()
            .ok_or_else(|| SpawnError::State("the new process has no pid".into()))?;
        let pid = i32::try_from(raw).map_err(|_| SpawnError::State(format!("pid {raw}")))?;
        let exit = Arc::new(OnceLock::new());
        {
            let mut children = self.lock();
            children.retain(|_, done| done.get().is_none_or(|e| e.at.elapsed() < EXIT_MEMORY));
            children.insert(pid, Arc::clone(&exit));
        }
        let children = Arc::clone(&self.children);
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) => {
                    let code = status
                        .code()
                        .or_else(|| status.signal().map(|signal| -signal))
                        .unwrap_or(0);
                    tracing::debug!(pid, code, "server process exited");
                    let _ignored = exit.set(Exit {
                        code,
                        at: Instant::now(),
                    });
                }
                Err(error) => {
                    // Cannot tell any more; fall back to watching the pid.
                    tracing::warn!(pid, "waiting for server process failed: {error}");
                    lock(&children).remove(&pid);
                }
            }
        });
        Ok(pid)
    }

    /// [`Self::poll`] for a spawner state; no usable pid means not running (upstream).
    pub fn poll_state(&self, state: &Value) -> Option<i32> {
        pid_from_state(state).map_or(Some(0), |pid| self.poll(pid))
    }

    /// [`Self::stop`] for a spawner state; no usable pid means nothing to stop.
    pub async fn stop_state(
        &self,
        state: &Value,
        timeouts: StopTimeouts,
    ) -> Result<(), SpawnError> {
        match pid_from_state(state) {
            Some(pid) => self.stop(pid, timeouts).await,
            None => Ok(()),
        }
    }

    /// `None` while `pid` runs, else its exit status (0 when not ours to know).
    pub fn poll(&self, pid: i32) -> Option<i32> {
        let ours = self.lock().get(&pid).cloned();
        match ours {
            Some(exit) => exit.get().map(|e| e.code),
            None => poll_foreign(pid),
        }
    }

    /// Upstream's stop: SIGINT, SIGTERM, SIGKILL to the process group, each
    /// followed by a wait for the process to go; returns once it has gone (or,
    /// as upstream, after the last wait with a warning).
    pub async fn stop(&self, pid: i32, timeouts: StopTimeouts) -> Result<(), SpawnError> {
        let steps = [
            (Signal::SIGINT, timeouts.interrupt),
            (Signal::SIGTERM, timeouts.term),
            (Signal::SIGKILL, timeouts.kill),
        ];
        for (signal, wait) in steps {
            if self.poll(pid).is_some() {
                return Ok(());
            }
            tracing::debug!(pid, "sending {signal} to the server's process group");
            signal_group(pid, signal)?;
            if self.wait_for_exit(pid, wait).await {
                return Ok(());
            }
        }
        tracing::warn!(pid, "server process never died");
        Ok(())
    }

    /// Polls with a growing pause until `pid` has gone or `timeout` passed.
    async fn wait_for_exit(&self, pid: i32, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut pause = FIRST_DEATH_CHECK;
        loop {
            if self.poll(pid).is_some() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_DEATH_CHECK);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<OnceLock<Exit>>>> {
        lock(&self.children)
    }
}

/// Locks the table; a panic elsewhere cannot leave the map inconsistent, so a
/// poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Liveness of a process we did not start (hub restart): it exists and is not a zombie.
fn poll_foreign(pid: i32) -> Option<i32> {
    match kill(Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => Some(0),
        // EPERM: it exists but belongs to someone the hub may not signal.
        Ok(()) | Err(_) if is_zombie(pid) => Some(0),
        Ok(()) | Err(_) => None,
    }
}

/// A process that has exited but was not reaped yet (state `Z`, or `X` while being reaped).
pub(crate) fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name in parentheses may contain anything; the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Signals the server's whole process group (kernels included); falls back to
/// the pid alone if it is no group leader. A process already gone is fine.
fn signal_group(pid: i32, signal: Signal) -> Result<(), SpawnError> {
    let target = Pid::from_raw(pid);
    match killpg(target, signal) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) => match kill(target, signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(std::io::Error::from(errno).into()),
        },
        Err(errno) => Err(std::io::Error::from(errno).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_come_only_from_positive_numbers() {
        assert_eq!(pid_from_state(&json!({"pid": 1234})), Some(1234));
        assert_eq!(pid_from_state(&state_for(77)), Some(77));
        for bad in [
            json!({}),
            json!(null),
            json!({"pid": 0}),
            json!({"pid": -1}),
            json!({"pid": "12"}),
            json!({"pid": 1u64 << 40}),
        ] {
            assert_eq!(pid_from_state(&bad), None, "{bad}");
        }
    }

    #[test]
    fn the_test_process_is_alive_and_not_a_zombie() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(!is_zombie(me));
        assert_eq!(poll_foreign(me), None);
    }
}
