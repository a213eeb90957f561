//! A hub without root (SudoSpawner): the real hub binary runs as an
//! unprivileged account in the `shadow` group, real users log in through
//! PAM and get real `jupyterhub-singleuser` servers under their own uids,
//! started and stopped through real `sudo` and a mediator: ferrohub's
//! `ferrohub-sudospawner` in most tests, upstream's Python `sudospawner` in
//! one. The helper's refusals are shown by running it through sudo the way
//! the hub does. Runs as root (CI does): it creates accounts, a sudoers
//! drop-in and the helper's rule file.
//!
//! The accounts, sudoers rule and helper rule file are set up by
//! `support/sudo.rs`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::browser::Browser;
use support::sudo::{SudoSetup, USERS_GROUP, assert_runs_as, helper_bin};
use support::users::LocalUser;
use support::{TestHub, eventually, run_cleanup};

/// A hub as `setup`'s account with PAM login for `users` and SudoSpawner
/// running `mediator`.
fn nonroot_hub(setup: &SudoSetup, users: &[&LocalUser], mediator: &Path) -> TestHub {
    let allowed = users
        .iter()
        .map(|u| format!("\"{}\"", u.name))
        .collect::<Vec<_>>()
        .join(", ");
    let allowed = format!("allowed_users = [{allowed}]");
    let sudo = format!(
        "sudospawner_path = \"{}\"\nmediator_log_level = \"DEBUG\"",
        mediator.display()
    );
    let stop = "interrupt_timeout = 5\nterm_timeout = 5\nkill_timeout = 2";
    TestHub::start_as(
        &setup.hub.name,
        "pam",
        "sudo",
        &[
            ("Authenticator", &allowed),
            ("SudoSpawner", &sudo),
            ("LocalProcessSpawner", stop),
        ],
    )
}

/// Logs `user` in through PAM, starts their server, and checks it runs
/// under their uid and answers their token through the proxy; its pid.
async fn log_in_and_start(hub: &TestHub, user: &LocalUser) -> (Browser, i32, String) {
    let browser = Browser::new(&hub.public_url());
    let login = browser.login(&user.name, &user.password, None).await;
    assert_eq!(
        login.status(),
        302,
        "PAM login of {} failed; hub log:\n{}",
        user.name,
        hub.log()
    );
    browser.start_server(&user.name).await;
    let pids = hub.server_pids(&user.name);
    assert_eq!(pids.len(), 1, "{}: {pids:?}", user.name);
    assert_runs_as(pids[0], user.uid(), &format!("{}'s server", user.name));
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", pids[0])).unwrap();
    assert_eq!(cwd, PathBuf::from(format!("/home/{}", user.name)));
    let token: Value = browser
        .hub_api(
            reqwest::Method::POST,
            &format!("/users/{}/tokens", user.name),
        )
        .json(&json!({"note": "nonroot test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    assert_eq!(status_with_token(hub, &user.name, &token).await, 200);
    (browser, pids[0], token)
}

/// `GET /user/<name>/api/status` through the proxy with `token`.
async fn status_with_token(hub: &TestHub, user: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/user/{user}/api/status", hub.public_url()))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_without_root_serves_two_users_under_their_own_uids() {
    let setup = SudoSetup::new();
    let alice = SudoSetup::user("sa");
    let bob = SudoSetup::user("sb");
    // May log in, but is outside the helper's rules (not in its group).
    let outsider = LocalUser::create("sx");
    let mut hub = nonroot_hub(&setup, &[&alice, &bob, &outsider], &helper_bin());

    // Neither the hub nor its proxy has root or any capability.
    let hub_uid = setup.hub.uid();
    assert_runs_as(hub.pid(), hub_uid, "the hub");
    let proxy = eventually(30, "the proxy's pid file", || async { hub.proxy_pid() }).await;
    assert_runs_as(proxy, hub_uid, "the proxy");

    let (alice_browser, alice_pid, alice_token) = log_in_and_start(&hub, &alice).await;
    let (bob_browser, bob_pid, bob_token) = log_in_and_start(&hub, &bob).await;
    assert_ne!(alice_pid, bob_pid);
    // Each token opens its own server only.
    assert_eq!(status_with_token(&hub, &bob.name, &alice_token).await, 403);
    // The server got the hub's variables but none that load code.
    let environ = std::fs::read(format!("/proc/{alice_pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains(&format!("JUPYTERHUB_USER={}", alice.name)));
    assert!(environ.contains(&format!("HOME=/home/{}", alice.name)));

    // A hub killed outright and started again finds both servers running.
    hub.kill(nix::sys::signal::Signal::SIGKILL);
    hub.launch();
    assert_runs_as(hub.pid(), hub_uid, "the restarted hub");
    assert_eq!(
        status_with_token(&hub, &alice.name, &alice_token).await,
        200
    );
    assert_eq!(
        hub.server_pids(&alice.name),
        [alice_pid],
        "re-adopted, not restarted"
    );

    // Stopping goes through the mediator and removes the process.
    alice_browser.stop_server(&alice.name).await;
    eventually(60, "alice's server to exit", || async {
        hub.server_pids(&alice.name).is_empty().then_some(())
    })
    .await;
    assert!(
        !Path::new(&format!("/proc/{alice_pid}/environ")).exists()
            || std::fs::read(format!("/proc/{alice_pid}/environ"))
                .unwrap_or_default()
                .is_empty()
    );
    assert_eq!(
        hub.server_pids(&bob.name),
        [bob_pid],
        "bob's server is untouched"
    );
    assert_eq!(status_with_token(&hub, &bob.name, &bob_token).await, 200);
    bob_browser.stop_server(&bob.name).await;
    eventually(60, "bob's server to exit", || async {
        hub.server_pids(&bob.name).is_empty().then_some(())
    })
    .await;
    assert!(
        hub.log().contains("ferrohub-sudospawner"),
        "the helper's log reaches the hub's"
    );

    // A start the helper refuses fails with its reason, and nothing runs.
    let browser = Browser::new(&hub.public_url());
    let login = browser
        .login(&outsider.name, &outsider.password, None)
        .await;
    assert_eq!(login.status(), 302);
    let start = browser
        .hub_api(
            reqwest::Method::POST,
            &format!("/users/{}/server", outsider.name),
        )
        .send()
        .await
        .unwrap();
    let start_status = start.status().as_u16();
    let start_body = start.text().await.unwrap();
    let reason = "not in allowed_users or allowed_groups";
    eventually(60, "the refusal in the hub's log", || async {
        hub.log().contains(reason).then_some(())
    })
    .await;
    // Clients learn that it failed; the reason (which names paths and
    // commands) is for the hub's log, as with any spawner's launch error.
    assert!(
        start_status == 202 || (start_status == 500 && start_body.contains("Spawn failed")),
        "{start_status} {start_body}"
    );
    assert!(
        hub.log().contains(&format!(
            "the mediator failed (exit status: 1): user {}",
            outsider.name
        )),
        "{}",
        hub.log()
    );
    let model: Value = browser
        .hub_api(reqwest::Method::GET, &format!("/users/{}", outsider.name))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(model["servers"][""]["ready"], true, "{model}");
    assert!(hub.server_pids(&outsider.name).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn upstreams_python_sudospawner_works_as_the_mediator() {
    // The narrow rule of docs/non-root-hub.md: the served group, never root.
    let setup = SudoSetup::with_runas(&format!("%{USERS_GROUP}, !root"));
    let carol = SudoSetup::user("sc");
    let sudospawner = support::venv().join("bin/sudospawner");
    let as_root = setup.sudo_as_hub("root", &sudospawner, &[], &json!({}));
    assert!(!as_root.status.success(), "sudo let the hub act as root");
    assert!(
        String::from_utf8_lossy(&as_root.stderr).contains("sudo"),
        "{as_root:?}"
    );
    let hub = nonroot_hub(&setup, &[&carol], &sudospawner);
    let (browser, pid, _token) = log_in_and_start(&hub, &carol).await;
    // The Python mediator's own log line reached the hub's.
    assert!(hub.log().contains("Spawning"), "{}", hub.log());
    browser.stop_server(&carol.name).await;
    eventually(60, "the server to exit", || async {
        hub.server_pids(&carol.name).is_empty().then_some(())
    })
    .await;
    assert!(
        std::fs::read(format!("/proc/{pid}/environ"))
            .unwrap_or_default()
            .is_empty(),
        "pid {pid} still runs"
    );
}

/// Pids of processes whose environment has `marker` (a test's request).
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| String::from_utf8_lossy(&env).contains(marker))
        })
        .collect()
}

/// Checks the helper refused: exit 1, `ok: false`, an error naming `why`.
fn assert_refused(output: &Output, why: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout {stdout}, stderr {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answer["ok"], false, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains(why), "{error:?} does not say {why:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_helper_refuses_root_system_and_unlisted_users_and_other_commands() {
    let setup = SudoSetup::new();
    let dave = SudoSetup::user("sd");
    let outsider = LocalUser::create("so");
    let helper = helper_bin();
    let marker = format!("refusal-marker-{}", std::process::id());
    let spawn = json!({
        "action": "spawn",
        "args": [],
        "env": {"JUPYTERHUB_API_TOKEN": marker},
    });

    // The sudoers rule lets the hub run the helper as anyone; the helper
    // itself refuses root, a system account and a user outside its rules.
    let as_root = setup.sudo_as_hub("root", &helper, &[], &spawn);
    assert_refused(&as_root, "refusing to run as root");
    let as_daemon = setup.sudo_as_hub("daemon", &helper, &[], &spawn);
    assert_refused(&as_daemon, "below min_uid");
    let as_outsider = setup.sudo_as_hub(&outsider.name, &helper, &[], &spawn);
    assert_refused(&as_outsider, "not in allowed_users or allowed_groups");

    // A command outside allowed_commands, an unknown action or key, a
    // group-wide pid, an unneeded signal, an unknown argument.
    let shell = json!({
        "action": "spawn",
        "cmd": ["/bin/sh", "-c", "sleep 600"],
        "args": [],
        "env": {"JUPYTERHUB_API_TOKEN": marker},
    });
    assert_refused(
        &setup.sudo_as_hub(&dave.name, &helper, &[], &shell),
        "not in allowed_commands",
    );
    let exec = json!({"action": "exec", "args": ["/bin/sh"]});
    assert_refused(
        &setup.sudo_as_hub(&dave.name, &helper, &[], &exec),
        "bad request",
    );
    let cwd = json!({"action": "spawn", "args": [], "env": {}, "cwd": "/tmp"});
    assert_refused(
        &setup.sudo_as_hub(&dave.name, &helper, &[], &cwd),
        "bad request",
    );
    let everyone = json!({"action": "kill", "pid": -1, "signal": 9});
    assert_refused(
        &setup.sudo_as_hub(&dave.name, &helper, &[], &everyone),
        "does not name one process",
    );
    let stop = json!({"action": "kill", "pid": 1, "signal": 19});
    assert_refused(
        &setup.sudo_as_hub(&dave.name, &helper, &[], &stop),
        "signal 19",
    );
    let flag = setup.sudo_as_hub(&dave.name, &helper, &["--rules=/tmp/mine.toml"], &spawn);
    assert_refused(&flag, "unknown argument");

    // Nothing of any of these started.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(processes_with(&marker), Vec::<i32>::new());

    // A process of the user's own that no hub started is not signalled.
    let mut own = Command::new("setpriv")
        .arg(format!("--reuid={}", dave.uid()))
        .arg(format!("--regid={}", dave.uid()))
        .args(["--init-groups", "--", "sleep", "600"])
        .spawn()
        .unwrap();
    let own_pid = i64::from(own.id());
    eventually(10, "sleep to run as dave", || async {
        (std::fs::read_to_string(format!("/proc/{own_pid}/status"))
            .is_ok_and(|s| s.contains(&format!("Uid:\t{}", dave.uid()))))
        .then_some(())
    })
    .await;
    let kill = json!({"action": "kill", "pid": own_pid, "signal": 15});
    let answer = setup.sudo_as_hub(&dave.name, &helper, &[], &kill);
    assert!(answer.status.success(), "{answer:?}");
    let answer: Value = serde_json::from_slice(&answer.stdout).unwrap();
    assert_eq!(answer, json!({"ok": true, "alive": false}));
    assert_eq!(own.try_wait().unwrap(), None, "dave's sleep was signalled");
    support::kill_and_reap(&mut own, "sleep");

    // And an allowed user gets exactly an allowed command (the rules' second,
    // named in the request), which the helper can then stop.
    let sleep = json!({
        "action": "spawn",
        "cmd": ["/usr/bin/sleep", "600"],
        "args": [],
        "env": {"JUPYTERHUB_API_TOKEN": marker},
    });
    let ok = setup.sudo_as_hub(&dave.name, &helper, &[], &sleep);
    let answer: Value = serde_json::from_slice(&ok.stdout).unwrap_or_default();
    assert_eq!(
        answer["ok"],
        true,
        "{answer} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let pid = answer["pid"].as_i64().unwrap();
    let started = processes_with(&marker);
    assert_eq!(started, [i32::try_from(pid).unwrap()]);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"/usr/bin/sleep\x00600\x00");
    assert_runs_as(
        i32::try_from(pid).unwrap(),
        dave.uid(),
        "the helper's server",
    );
    let term = json!({"action": "kill", "pid": pid, "signal": 9});
    let killed = setup.sudo_as_hub(&dave.name, &helper, &[], &term);
    assert!(killed.status.success(), "{killed:?}");
    eventually(10, "the server to go", || async {
        processes_with(&marker).is_empty().then_some(())
    })
    .await;
    run_cleanup(Command::new("pkill").args(["-KILL", "-u", &dave.name]));
}
