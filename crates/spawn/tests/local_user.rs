//! LocalProcessSpawner as root with real local accounts made by the test:
//! the server must run with exactly the user's ids and groups, in its home.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrohub_config::Config;
use ferrohub_spawn::{LocalProcessSpawner, SpawnError, Spawner, wait_for_http_server};
use support::*;

/// A local user (with one supplementary group) that exists for one test.
struct TestUser {
    name: String,
    group: String,
}

/// One passwd entry, as `getent` reports it.
struct Passwd {
    uid: u32,
    gid: u32,
    home: PathBuf,
    shell: String,
}

impl TestUser {
    /// Creates `fhsp<pid>u<n>` with `useradd` plus a group `fhsp<pid>g<n>` it is a member of.
    fn create(extra_useradd_args: &[&str]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = std::process::id();
        let user = Self {
            name: format!("fhsp{id}u{n}"),
            group: format!("fhsp{id}g{n}"),
        };
        run_admin("groupadd", &[&user.group]);
        let mut args = vec!["-G", &user.group, "-s", "/bin/sh"];
        args.extend_from_slice(extra_useradd_args);
        args.push(&user.name);
        run_admin("useradd", &args);
        user
    }

    fn passwd(&self) -> Passwd {
        let out = Command::new("getent")
            .args(["passwd", &self.name])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = line.trim().split(':').collect();
        Passwd {
            uid: fields[2].parse().unwrap(),
            gid: fields[3].parse().unwrap(),
            home: PathBuf::from(fields[5]),
            shell: fields[6].to_owned(),
        }
    }

    fn group_id(&self) -> u32 {
        let out = Command::new("getent")
            .args(["group", &self.group])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        line.split(':').nth(2).unwrap().parse().unwrap()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // A server killed a moment ago may still hold the account ("currently used").
        for _ in 0..40 {
            let out = Command::new("userdel").args(["-r", &self.name]).output();
            let gone = Command::new("getent").args(["passwd", &self.name]).output();
            if out.is_err() || gone.is_ok_and(|g| !g.status.success()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let _best_effort = Command::new("groupdel").arg(&self.group).output();
    }
}

/// Runs an account tool, retrying while another test holds the passwd lock.
fn run_admin(tool: &str, args: &[&str]) {
    for _ in 0..40 {
        let out = Command::new(tool).args(args).output().unwrap();
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("lock"), "{tool} {args:?}: {stderr}");
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{tool} {args:?}: passwd files stayed locked");
}

fn local_config(cmd: &[&str]) -> Config {
    let mut config = Config::default();
    config.spawner.cmd = cmd.iter().map(|s| (*s).to_owned()).collect();
    config.local_process_spawner.interrupt_timeout = 5;
    config
}

#[tokio::test]
async fn a_server_runs_with_the_users_ids_groups_home_and_environment() {
    let user = TestUser::create(&["-m"]);
    let passwd = user.passwd();
    let mut config = local_config(&["/usr/bin/python3", "-c", SERVICE_URL_SERVER]);
    config
        .spawner
        .environment
        .insert("PATH".into(), "/usr/bin:/bin".into());
    let spawner = LocalProcessSpawner::new(&config);

    let started = spawner.start(&request(&config, &user.name)).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    let api = format!("{}/user/{}/api", started.url, user.name);
    wait_for_http_server(&api, Duration::from_secs(20))
        .await
        .unwrap();

    let uid = passwd.uid.to_string();
    let gid = passwd.gid.to_string();
    assert_eq!(status_field(pid, "Uid"), [uid.as_str(); 4]);
    assert_eq!(status_field(pid, "Gid"), [gid.as_str(); 4]);
    let groups: BTreeSet<u32> = status_field(pid, "Groups")
        .iter()
        .map(|g| g.parse().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from([passwd.gid, user.group_id()]));
    assert!(!groups.contains(&0), "root's group leaked into the server");

    assert_eq!(cwd(pid), passwd.home);
    let env = environ(pid);
    assert_eq!(env["USER"], user.name);
    assert_eq!(Path::new(&env["HOME"]), passwd.home);
    assert_eq!(env["SHELL"], passwd.shell);

    spawner.stop(&started.state).await.unwrap();
    assert!(!is_running(pid));
    assert!(spawner.poll(&started.state).await.unwrap().is_some());
}

#[tokio::test]
async fn a_home_the_user_cannot_enter_falls_back_to_an_ancestor() {
    // /root is mode 700: the user can enter neither its missing home nor /root.
    let home = format!("/root/fhsp-missing-{}", std::process::id());
    let user = TestUser::create(&["-M", "-d", &home]);
    let config = local_config(&["sleep", "1000"]);
    let spawner = LocalProcessSpawner::new(&config);

    let started = spawner.start(&request(&config, &user.name)).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    assert_eq!(cwd(pid), Path::new("/"));
    assert_eq!(environ(pid)["HOME"], home);
    spawner.stop(&started.state).await.unwrap();
}

#[tokio::test]
async fn a_user_without_a_local_account_is_no_such_user() {
    let config = local_config(&["sleep", "1000"]);
    let spawner = LocalProcessSpawner::new(&config);
    let result = spawner.start(&request(&config, "fhsp-nobody-here")).await;
    assert!(
        matches!(&result, Err(SpawnError::NoSuchUser(name)) if name == "fhsp-nobody-here"),
        "{result:?}"
    );
}
