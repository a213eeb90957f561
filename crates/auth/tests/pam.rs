//! Real PAM: each test creates a local user (and group) with `useradd`/`chpasswd`,
//! logs in through `Auth` with PAM service `login`, and removes them on drop.
//! Needs root (as the hub does); skipped with a message otherwise.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferrohub_auth::{Auth, Authenticator, LoginOutcome, PamAuthenticator};
use ferrohub_config::{Config, PamAuthenticatorConfig};

const PASSWORD: &str = "Corr3ct-h0rse:battery";

/// Runs a user-management command (with `input` on stdin), retrying while another
/// process (a parallel test, another crate's tests) holds the /etc/passwd lock.
fn run_with_input(program: &str, args: &[&str], input: &str) {
    for _ in 0..50 {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            return;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("lock"),
            "{program} {args:?} failed: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{program} {args:?}: /etc/passwd stayed locked");
}

fn run(program: &str, args: &[&str]) {
    run_with_input(program, args, "");
}

/// A unique name per test, short enough for `useradd` (32 chars).
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A local user with a home and `PASSWORD`; deleted with its home on drop.
struct LocalUser {
    name: String,
}

impl LocalUser {
    fn create() -> Self {
        let name = unique("fhauth");
        run("useradd", &["-m", "-s", "/bin/bash", &name]);
        let user = Self { name };
        set_password(&user.name);
        user
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        cleanup(Command::new("userdel").args(["-r", &self.name]));
    }
}

/// Runs a clean-up command in a `Drop`: it must not panic, and its exit
/// status does not matter, so only a failure to run it is reported.
fn cleanup(command: &mut Command) {
    if let Err(e) = command.output() {
        eprintln!("running {command:?}: {e}");
    }
}

fn set_password(name: &str) {
    run_with_input("chpasswd", &[], &format!("{name}:{PASSWORD}\n"));
}

/// A local group; deleted on drop (declare it after the users it contains).
struct LocalGroup {
    name: String,
}

impl LocalGroup {
    fn create() -> Self {
        let name = unique("fhgrp");
        run("groupadd", &[&name]);
        Self { name }
    }
    fn add(&self, user: &LocalUser) {
        run("usermod", &["-a", "-G", &self.name, &user.name]);
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        cleanup(Command::new("groupdel").arg(&self.name));
    }
}

/// True if the test can run; prints why not otherwise.
fn running_as_root() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        eprintln!(
            "skipped: PAM tests create local users and check their passwords, which needs root"
        );
    }
    root
}

/// `Auth` on PAM service `login` letting everyone who authenticates in.
fn pam_auth(edit: impl FnOnce(&mut Config)) -> Auth {
    let mut config = Config::default();
    assert_eq!(config.jupyterhub.authenticator_class, "pam");
    assert_eq!(config.pam_authenticator.service, "login");
    config.authenticator.allow_all = Some(true);
    edit(&mut config);
    Auth::from_config(&config).unwrap()
}

#[tokio::test]
async fn right_password_logs_in_wrong_one_does_not() {
    if !running_as_root() {
        return;
    }
    let user = LocalUser::create();
    let auth = pam_auth(|_| {});
    assert_eq!(auth.backend_name(), "PAMAuthenticator");

    let outcome = auth.login(&user.name, PASSWORD, false).await.unwrap();
    assert_eq!(
        outcome,
        LoginOutcome::Accepted {
            name: user.name.clone(),
            admin: None,
            auth_state: None,
            groups: None,
        }
    );

    let outcome = auth
        .login(&user.name, "Corr3ct-h0rse:batter", false)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, LoginOutcome::Rejected(r) if r.contains("wrong user name or password")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn unknown_user_and_nul_bytes_are_refused() {
    if !running_as_root() {
        return;
    }
    let user = LocalUser::create();
    let auth = pam_auth(|_| {});
    let ghost = unique("fhghost");
    let outcome = auth.login(&ghost, PASSWORD, false).await.unwrap();
    assert!(matches!(outcome, LoginOutcome::Rejected(_)), "{outcome:?}");

    // A NUL byte cannot reach C; it is a plain refusal, before PAM is asked.
    let pam = PamAuthenticator::new(&PamAuthenticatorConfig::default()).unwrap();
    let truncated_name = format!("{}\0junk", user.name);
    assert_eq!(
        pam.authenticate(&truncated_name, PASSWORD).await.unwrap(),
        None
    );
    let truncated_password = format!("{PASSWORD}\0junk");
    assert_eq!(
        pam.authenticate(&user.name, &truncated_password)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn admin_groups_decide_admin() {
    if !running_as_root() {
        return;
    }
    let user = LocalUser::create();
    let group = LocalGroup::create();
    let auth = pam_auth(|c| c.pam_authenticator.admin_groups = vec![group.name.clone()]);

    // Not a member: admin_groups is authoritative, as upstream.
    let outcome = auth.login(&user.name, PASSWORD, false).await.unwrap();
    assert_eq!(
        outcome,
        LoginOutcome::Accepted {
            name: user.name.clone(),
            admin: Some(false),
            auth_state: None,
            groups: None,
        }
    );

    group.add(&user);
    let outcome = auth.login(&user.name, PASSWORD, false).await.unwrap();
    assert_eq!(
        outcome,
        LoginOutcome::Accepted {
            name: user.name.clone(),
            admin: Some(true),
            auth_state: None,
            groups: None,
        }
    );
}

#[tokio::test]
async fn check_account_refuses_expired_accounts() {
    if !running_as_root() {
        return;
    }
    let user = LocalUser::create();
    // Expired on 1970-01-02: the password is still right, the account is not usable.
    run("chage", &["-E", "1", &user.name]);

    let checked = pam_auth(|_| {});
    let outcome = checked.login(&user.name, PASSWORD, false).await.unwrap();
    assert!(matches!(outcome, LoginOutcome::Rejected(_)), "{outcome:?}");

    let unchecked = pam_auth(|c| c.pam_authenticator.check_account = false);
    let outcome = unchecked.login(&user.name, PASSWORD, false).await.unwrap();
    assert!(
        matches!(&outcome, LoginOutcome::Accepted { name, .. } if *name == user.name),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn allowed_users_still_apply_to_pam_logins() {
    if !running_as_root() {
        return;
    }
    let user = LocalUser::create();
    let other = LocalUser::create();
    let auth = pam_auth(|c| {
        c.authenticator.allow_all = None;
        c.authenticator.allowed_users = vec![user.name.clone()];
    });
    let outcome = auth.login(&user.name, PASSWORD, false).await.unwrap();
    assert!(
        matches!(outcome, LoginOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    let outcome = auth.login(&other.name, PASSWORD, false).await.unwrap();
    assert!(
        matches!(&outcome, LoginOutcome::Rejected(r) if r.contains("not allowed")),
        "{outcome:?}"
    );
}

/// Threads of this process named `ferrohub-pam-*` (the PAM workers).
fn pam_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with("ferrohub-pam"))
        })
        .count()
}

/// `executor_threads` bounds the PAM conversations running at once, as
/// upstream's thread pool: six wrong passwords (six names, so no per-name rule
/// applies) on two threads take three rounds of PAM's fail delay, not one.
/// Linux-PAM draws each delay from base × (1 ± 1/5), so one round (measured
/// first) is at most 1.2 × base and three rounds at least 2.4 × base: 1.6 ×
/// one round separates "three rounds" from "all at once" for any draw.
#[tokio::test(flavor = "multi_thread")]
async fn executor_threads_bound_concurrent_pam_conversations() {
    if !running_as_root() {
        return;
    }
    let auth = std::sync::Arc::new(pam_auth(|c| c.pam_authenticator.executor_threads = 2));
    // A new thread names itself once it runs.
    for _ in 0..100 {
        if pam_threads() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pam_threads(), 2);

    let started = std::time::Instant::now();
    let outcome = auth
        .login(&unique("fhnobody"), "wrong", false)
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Rejected(_)), "{outcome:?}");
    let one_round = started.elapsed();

    let started = std::time::Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (auth, name) = (std::sync::Arc::clone(&auth), unique("fhnobody"));
        logins.spawn(async move { auth.login(&name, "wrong", false).await.unwrap() });
    }
    while let Some(outcome) = logins.join_next().await {
        let outcome = outcome.unwrap();
        assert!(matches!(outcome, LoginOutcome::Rejected(_)), "{outcome:?}");
    }
    let six = started.elapsed();
    assert!(
        six >= one_round.mul_f64(1.6),
        "six wrong passwords on two threads took {six:?}, one took {one_round:?}"
    );
    assert_eq!(pam_threads(), 2, "no PAM thread beyond executor_threads");
}
