//! Watching and stopping server processes.
//!
//! Children this hub started are reaped by a background task that records
//! their exit status (an unreaped child stays a zombie and would look alive).
//! Processes from before a hub restart are known by their stored
//! [`ProcessIdentity`]: a pid counts as our server only while its start time,
//! uid and boot are the recorded ones, so a reused pid is never taken for it.
//!
//! [`stop_group`] is the one place in ferrohub that signals a process group.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::process::Child;
use tokio::time::Instant;

use crate::SpawnError;
use crate::identity::{Liveness, ProcessIdentity, StoredProcess};

/// How long an exit status of our own child is remembered after it exits.
const EXIT_MEMORY: Duration = Duration::from_secs(3600);
/// First pause while waiting for a process to die (upstream's 0.1 s).
const FIRST_DEATH_CHECK: Duration = Duration::from_millis(100);
/// Longest pause between two checks while waiting for a process to die.
const MAX_DEATH_CHECK: Duration = Duration::from_secs(1);

/// Seconds to wait after each signal of a stop (`LocalProcessSpawner.*_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopTimeouts {
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

/// One child we started: who it is, and its exit once reaped.
#[derive(Debug, Clone)]
struct ChildEntry {
    identity: ProcessIdentity,
    exit: Arc<OnceLock<Exit>>,
}

/// The children this spawner started, by pid, with their exit once reaped.
#[derive(Debug, Default)]
pub(crate) struct ProcessTable {
    children: Arc<Mutex<HashMap<i32, ChildEntry>>>,
}

impl ProcessTable {
    /// Takes ownership of a freshly spawned child, records its identity (read
    /// before reaping starts, so even a child that exited at once still has
    /// its `/proc` entry) and starts reaping it.
    pub(crate) fn adopt(&self, mut child: Child) -> Result<ProcessIdentity, SpawnError> {
        let raw = child
            .id()
            .ok_or_else(|| SpawnError::State("the new process has no pid".into()))?;
        let pid = i32::try_from(raw).map_err(|_| SpawnError::State(format!("pid {raw}")))?;
        let identity = ProcessIdentity::read(pid)?;
        let exit = Arc::new(OnceLock::new());
        {
            let mut children = self.lock();
            children.retain(|_, entry| {
                entry
                    .exit
                    .get()
                    .is_none_or(|e| e.at.elapsed() < EXIT_MEMORY)
            });
            let entry = ChildEntry {
                identity: identity.clone(),
                exit: Arc::clone(&exit),
            };
            children.insert(pid, entry);
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
                    // Cannot tell any more; fall back to checking the identity.
                    tracing::warn!(pid, "waiting for server process failed: {error}");
                    lock(&children).remove(&pid);
                }
            }
        });
        Ok(identity)
    }

    /// [`Self::poll`] for a spawner state. No pid means not running (upstream);
    /// a pid without identity cannot be verified and counts as gone.
    pub(crate) fn poll_state(&self, state: &Value) -> Option<i32> {
        match StoredProcess::from_state(state) {
            StoredProcess::None => Some(0),
            StoredProcess::Unverified(pid) => {
                tracing::warn!(
                    pid,
                    "stored server state has no process identity (start time, uid); \
                     treating pid {pid} as gone"
                );
                Some(0)
            }
            StoredProcess::Identified(identity) => self.poll(&identity),
        }
    }

    /// Stops the server of a spawner state. An unverifiable pid is never
    /// signalled: it may belong to anyone by now.
    pub(crate) async fn stop_state(
        &self,
        state: &Value,
        timeouts: StopTimeouts,
    ) -> Result<(), SpawnError> {
        match StoredProcess::from_state(state) {
            StoredProcess::None => Ok(()),
            StoredProcess::Unverified(pid) => {
                tracing::warn!(
                    pid,
                    "not signalling pid {pid}: its stored state has no process identity \
                     (start time, uid), so it may be an unrelated process"
                );
                Ok(())
            }
            StoredProcess::Identified(identity) => {
                stop_group(identity.pid, timeouts, || self.poll(&identity).is_none()).await
            }
        }
    }

    /// `None` while the process runs, else its exit status (0 when not ours to know).
    pub(crate) fn poll(&self, identity: &ProcessIdentity) -> Option<i32> {
        let ours = self.lock().get(&identity.pid).cloned();
        match ours {
            Some(entry) if entry.identity == *identity => entry.exit.get().map(|e| e.code),
            // The pid belongs to a later child of ours: the stored one is gone.
            Some(_) => Some(0),
            None => match identity.liveness() {
                Liveness::Running => None,
                Liveness::Gone => Some(0),
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, ChildEntry>> {
        lock(&self.children)
    }
}

/// Stops the process group led by `child`, a process this hub started and
/// still holds (a managed service): as long as it is not reaped its pid cannot
/// be reused, so it needs no identity check.
pub async fn stop_child_group(child: &mut Child, timeouts: StopTimeouts) -> Result<(), SpawnError> {
    let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) else {
        // Already reaped: nothing of it is left to signal.
        return Ok(());
    };
    stop_group(pid, timeouts, || matches!(child.try_wait(), Ok(None))).await
}

/// Upstream's stop: SIGINT, SIGTERM, SIGKILL to the process group led by
/// `pid`, each followed by a wait for it to go; returns once it has gone (or,
/// as upstream, after the last wait with a warning).
///
/// This is the only code that signals a process group. `running` is asked
/// right before every signal and the group is signalled only while it says
/// yes; callers make it true only for a process proven to be theirs (an
/// unreaped child, or a stored identity that still matches).
pub(crate) async fn stop_group(
    pid: i32,
    timeouts: StopTimeouts,
    mut running: impl FnMut() -> bool,
) -> Result<(), SpawnError> {
    let steps = [
        (Signal::SIGINT, timeouts.interrupt),
        (Signal::SIGTERM, timeouts.term),
        (Signal::SIGKILL, timeouts.kill),
    ];
    for (signal, wait) in steps {
        if !running() {
            return Ok(());
        }
        tracing::debug!(pid, "sending {signal} to the server's process group");
        signal_group(pid, signal)?;
        if wait_for_exit(&mut running, wait).await {
            return Ok(());
        }
    }
    tracing::warn!(pid, "server process never died");
    Ok(())
}

/// Polls with a growing pause until `running` says no or `timeout` passed.
async fn wait_for_exit(running: &mut impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_DEATH_CHECK;
    loop {
        if !running() {
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

/// Locks the table; a panic elsewhere cannot leave the map inconsistent, so a
/// poisoned lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    use std::os::unix::process::CommandExt;

    use super::*;

    fn quick() -> StopTimeouts {
        let second = Duration::from_secs(1);
        StopTimeouts {
            interrupt: second,
            term: second,
            kill: second,
        }
    }

    #[tokio::test]
    async fn a_group_that_is_not_running_is_never_signalled() {
        // pid 1 would be a disaster to signal; `running` says no, so it is not.
        let mut asked = 0;
        stop_group(1, quick(), || {
            asked += 1;
            false
        })
        .await
        .unwrap();
        assert_eq!(asked, 1);
    }

    #[tokio::test]
    async fn an_unverified_state_is_gone_and_never_signalled() {
        let mut sleeper = std::process::Command::new("sleep")
            .arg("600")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = i32::try_from(sleeper.id()).unwrap();
        let table = ProcessTable::default();
        let state = serde_json::json!({ "pid": pid });
        assert_eq!(table.poll_state(&state), Some(0));
        table.stop_state(&state, quick()).await.unwrap();
        assert_eq!(sleeper.try_wait().unwrap(), None, "sleep was signalled");
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
    }
}
