//! A stored server is ours only while its pid still names the process we
//! started (same start time, uid and boot). A restarted hub must never adopt
//! or signal an unrelated process that happens to have the stored pid.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use ferrohub_spawn::{StopTimeouts, from_config, stop_child_group};
use serde_json::{Value, json};
use support::*;

/// An unrelated long-running process in its own process group, as `uid` if given.
struct Bystander(Child);

impl Bystander {
    fn start(uid: Option<u32>) -> Self {
        let mut command = Command::new("sleep");
        command.arg("600").process_group(0);
        if let Some(uid) = uid {
            command.uid(uid);
        }
        Self(command.spawn().unwrap())
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }

    /// Still running: not killed, not stopped by a signal we sent.
    fn is_untouched(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
            && matches!(proc_state(self.pid()), Some('S' | 'R' | 'D'))
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        // Clean-up goes on whatever fails; a failure shows with the test's output.
        if let Err(e) = self.0.kill() {
            eprintln!("killing the bystander: {e}");
        }
        if let Err(e) = self.0.wait() {
            eprintln!("reaping the bystander: {e}");
        }
    }
}

fn start_time_of(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

/// `state` with `pid` replaced, as if the kernel had given the pid to another process.
fn with_pid(state: &Value, pid: i32) -> Value {
    let mut state = state.clone();
    state["pid"] = json!(pid);
    state
}

#[tokio::test]
async fn a_pid_reused_by_another_process_is_gone_and_never_signalled() {
    let homes = tempfile::tempdir().unwrap();
    let config = simple_config(homes.path(), &["sleep", "1000"]);
    let before_restart = from_config(&config).unwrap();
    let started = before_restart
        .start(&request(&config, "fay"))
        .await
        .unwrap();
    let server = pid_of(&started);
    let _server = KillOnDrop(server);
    // The server dies while the hub is down, and its pid goes to someone else.
    before_restart.stop(&started.state).await.unwrap();
    let mut bystander = Bystander::start(None);
    let reused = with_pid(&started.state, bystander.pid());

    let after_restart = from_config(&config).unwrap();
    assert_eq!(after_restart.poll(&reused).await.unwrap(), Some(0));
    after_restart.stop(&reused).await.unwrap();
    assert!(bystander.is_untouched(), "the bystander was signalled");
}

#[tokio::test]
async fn a_process_of_another_user_is_not_ours_even_with_the_right_start_time() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to start a process as another user");
        return;
    }
    let mut bystander = Bystander::start(Some(65534));
    let pid = bystander.pid();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let claimed = json!({
        "pid": pid,
        "start_time": start_time_of(pid),
        "uid": 0,
        "boot_id": boot_id.trim(),
    });
    let homes = tempfile::tempdir().unwrap();
    let spawner = from_config(&simple_config(homes.path(), &["sleep", "1"])).unwrap();
    assert_eq!(spawner.poll(&claimed).await.unwrap(), Some(0));
    spawner.stop(&claimed).await.unwrap();
    assert!(bystander.is_untouched(), "the bystander was signalled");

    // With its true identity the same process would count as running.
    let true_identity = json!({
        "pid": pid,
        "start_time": start_time_of(pid),
        "uid": 65534,
        "boot_id": boot_id.trim(),
    });
    assert_eq!(spawner.poll(&true_identity).await.unwrap(), None);
}

#[tokio::test]
async fn a_state_from_before_identities_were_stored_is_never_signalled() {
    let mut bystander = Bystander::start(None);
    let homes = tempfile::tempdir().unwrap();
    let spawner = from_config(&simple_config(homes.path(), &["sleep", "1"])).unwrap();
    let old_row = json!({ "pid": bystander.pid() });
    assert_eq!(spawner.poll(&old_row).await.unwrap(), Some(0));
    spawner.stop(&old_row).await.unwrap();
    assert!(bystander.is_untouched(), "the bystander was signalled");
}

#[tokio::test]
async fn a_held_child_is_stopped_with_its_whole_group() {
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "trap \"\" INT; sleep 600 & echo $!; wait"])
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let leader = i32::try_from(child.id().unwrap()).unwrap();
    let mut line = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let stdout = child.stdout.take().unwrap();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .unwrap();
    }
    let grandchild: i32 = line.trim().parse().unwrap();
    let _cleanup = KillOnDrop(leader);
    let second = Duration::from_secs(1);
    let timeouts = StopTimeouts {
        interrupt: second,
        term: second,
        kill: second,
    };
    stop_child_group(&mut child, timeouts).await.unwrap();
    assert!(child.try_wait().unwrap().is_some(), "leader still running");
    // The grandchild was in the group: it got the signal too (reaped by init).
    for _ in 0..50 {
        if !is_running(grandchild) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!is_running(grandchild), "the group's other member survived");
}
