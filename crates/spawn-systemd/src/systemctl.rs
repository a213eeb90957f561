//! Talking to systemd through its own tools, as upstream's `systemd.py`:
//! `systemd-run` starts a transient unit, `systemctl is-active`,
//! `is-failed`, `stop` and `reset-failed` follow and end it.

use std::process::Stdio;

use ferrohub_spawn::SpawnError;
use tokio::process::Command;

/// How `systemctl is-active` describes a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitState {
    /// Running (`active`, `reloading`).
    Active,
    /// Starting (`activating`).
    Activating,
    /// Ended with an error (`failed`).
    Failed,
    /// Anything else: `inactive`, `deactivating`, or no such unit.
    Gone,
}

/// Runs `program args`, returning its exit success, stdout and stderr; a
/// program that cannot be run at all is a `Launch` error naming it.
async fn run(program: &str, args: &[String]) -> Result<(bool, String, String), SpawnError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| SpawnError::Launch {
            cmd: std::iter::once(program.to_owned())
                .chain(args.iter().cloned())
                .collect(),
            reason: e.to_string(),
        })?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    ))
}

async fn systemctl(args: &[&str]) -> Result<(bool, String, String), SpawnError> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run("systemctl", &args).await
}

/// The unit's state (`systemctl is-active`).
pub(crate) async fn state(unit: &str) -> Result<UnitState, SpawnError> {
    let (_, out, _) = systemctl(&["is-active", "--", unit]).await?;
    Ok(match out.as_str() {
        "active" | "reloading" => UnitState::Active,
        "activating" => UnitState::Activating,
        "failed" => UnitState::Failed,
        _ => UnitState::Gone,
    })
}

/// Whether the unit is running (`systemctl is-active` succeeds).
pub(crate) async fn is_active(unit: &str) -> Result<bool, SpawnError> {
    Ok(systemctl(&["is-active", "--quiet", "--", unit]).await?.0)
}

/// Whether the unit ended in failure and is still listed
/// (`systemctl is-failed`).
pub(crate) async fn is_failed(unit: &str) -> Result<bool, SpawnError> {
    Ok(systemctl(&["is-failed", "--quiet", "--", unit]).await?.0)
}

/// Stops the unit (`systemctl stop`, which waits until it is stopped); a
/// unit that is not loaded is already stopped.
pub(crate) async fn stop(unit: &str) -> Result<(), SpawnError> {
    let (ok, _, err) = systemctl(&["stop", "--", unit]).await?;
    if !ok && !err.contains("not loaded") {
        tracing::warn!(unit, "systemctl stop: {err}");
    }
    Ok(())
}

/// Forgets a failed unit so one of the same name can start
/// (`systemctl reset-failed`).
pub(crate) async fn reset_failed(unit: &str) -> Result<(), SpawnError> {
    let (ok, _, err) = systemctl(&["reset-failed", "--", unit]).await?;
    if !ok {
        tracing::warn!(unit, "systemctl reset-failed: {err}");
    }
    Ok(())
}

/// Starts a transient unit (`systemd-run` with `args`); a refusal is a
/// `Launch` error with what `systemd-run` said.
pub(crate) async fn start(args: &[String]) -> Result<(), SpawnError> {
    let (ok, _, err) = run("systemd-run", args).await?;
    if ok {
        Ok(())
    } else {
        Err(SpawnError::Launch {
            cmd: std::iter::once("systemd-run".to_owned())
                .chain(args.iter().cloned())
                .collect(),
            reason: err,
        })
    }
}
