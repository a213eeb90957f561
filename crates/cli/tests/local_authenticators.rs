//! The authenticators that need no identity provider, with upstream's option
//! names, against a real hub binary: PAM with real local users and groups
//! (`allowed_groups`, `create_system_users`, `username_map`,
//! `username_pattern`), `SharedPasswordAuthenticator` and `NullAuthenticator`.
//! Runs as root (CI does): it creates and removes local users and groups.
//! Every PAM login here uses the right password, so no test waits out PAM's
//! 2-3.5 s failure delay.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::process::Command;

use reqwest::Method;
use serde_json::Value;
use support::api::Api;
use support::browser::Browser;
use support::users::LocalUser;
use support::{TestHub, ferrohub_bin, run_cleanup};

/// A 32-character API token for `JupyterHub.api_tokens`.
const TOKEN: &str = "local-auth-test-token-0123456789";

/// A system group, removed on drop.
struct LocalGroup {
    name: String,
}

impl LocalGroup {
    /// Creates `fhg<tag><pid>` with `members` as supplementary members.
    fn create(tag: &str, members: &[&LocalUser]) -> Self {
        let name = format!("fhg{tag}{}", std::process::id());
        run_cleanup(Command::new("groupdel").arg(&name));
        run_ok(Command::new("groupadd").arg(&name));
        for member in members {
            run_ok(Command::new("gpasswd").args(["-a", &member.name, &name]));
        }
        Self { name }
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        run_cleanup(Command::new("groupdel").arg(&self.name));
    }
}

/// System accounts the hub creates, removed on drop (also when a test fails).
struct CreatedAccounts(Vec<String>);

impl Drop for CreatedAccounts {
    fn drop(&mut self) {
        for name in &self.0 {
            run_cleanup(Command::new("userdel").args(["-r", name]));
        }
    }
}

fn run_ok(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `getent passwd <name>`: the passwd line, or `None` if there is no account.
fn getent_passwd(name: &str) -> Option<String> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The signed-in user's model (`GET /hub/api/user` with the login cookie).
async fn who_am_i(browser: &Browser) -> Value {
    let response = browser.hub_api(Method::GET, "/user").send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Logs in through the real form; returns the status (302 is success).
async fn login_status(browser: &Browser, user: &str, password: &str) -> u16 {
    browser.login(user, password, None).await.status().as_u16()
}

/// `allowed_groups`: a supplementary member and a user whose primary group is
/// listed log in through PAM; a user in neither is refused, with the right
/// password. An unknown group in the list admits nobody and breaks nothing.
#[tokio::test(flavor = "multi_thread")]
async fn allowed_groups_admit_members_and_refuse_others() {
    let member = LocalUser::create("agm");
    let primary = LocalUser::create("agp");
    let outsider = LocalUser::create("ago");
    let group = LocalGroup::create("ag", &[&member]);
    // `useradd` gives each user a primary group of its own name.
    let groups = format!(
        "allowed_groups = [\"{}\", \"{}\", \"fh-no-such-group\"]",
        group.name, primary.name
    );
    let hub = TestHub::start_with("pam", "localprocess", &[("LocalAuthenticator", &groups)]);

    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &member.name, &member.password).await,
        302,
        "a group member is admitted; log:\n{}",
        hub.log()
    );
    assert_eq!(who_am_i(&browser).await["name"], member.name.as_str());
    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &primary.name, &primary.password).await,
        302,
        "the primary group counts"
    );
    let browser = Browser::new(&hub.public_url());
    let refused = browser
        .login(&outsider.name, &outsider.password, None)
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Invalid username or password")
    );
    assert!(
        hub.log()
            .contains(&format!("user \"{}\" is not allowed", outsider.name)),
        "refused by the allow rules, not by PAM; log:\n{}",
        hub.log()
    );
}

/// `create_system_users` with upstream's default `add_user_cmd` (`adduser`) and
/// `uids`: at start-up the hub creates the account of an admin user that has
/// none, and when that admin adds a user through the REST API, the account is
/// created with the configured uid (`getent passwd`). A name the command
/// would read as an option is refused with 400 and no account.
#[tokio::test(flavor = "multi_thread")]
async fn create_system_users_creates_accounts_for_added_users() {
    let pid = std::process::id();
    let admin = format!("fhcsadm{pid}");
    let added = format!("fhcsnew{pid}");
    let _cleanup = CreatedAccounts(vec![admin.clone(), added.clone()]);
    for name in [&admin, &added] {
        run_cleanup(Command::new("userdel").args(["-r", name]));
    }
    // A uid nobody has.
    let uid = (42_000..60_000)
        .map(|base| base + pid % 1000)
        .find(|uid| {
            !Command::new("getent")
                .args(["passwd", &uid.to_string()])
                .status()
                .unwrap()
                .success()
        })
        .unwrap();
    let hub = TestHub::start_with(
        "pam",
        "localprocess",
        &[
            (
                "JupyterHub",
                &format!("api_tokens = {{ \"{TOKEN}\" = \"{admin}\" }}"),
            ),
            ("Authenticator", &format!("admin_users = [\"{admin}\"]")),
            (
                "LocalAuthenticator",
                &format!("create_system_users = true\nuids = {{ \"{added}\" = {uid} }}"),
            ),
        ],
    );
    assert!(
        getent_passwd(&admin).is_some(),
        "the admin's account is created at start-up; log:\n{}",
        hub.log()
    );
    assert_eq!(getent_passwd(&added), None);

    let api = Api::new(&hub);
    let created = api
        .call(TOKEN, Method::POST, &format!("/users/{added}"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "log:\n{}", hub.log());
    let line = getent_passwd(&added).expect("the account exists after the API call");
    let fields: Vec<&str> = line.split(':').collect();
    assert_eq!(fields[0], added);
    assert_eq!(
        fields[2],
        uid.to_string(),
        "the uid from LocalAuthenticator.uids: {line}"
    );
    assert!(
        std::path::Path::new(fields[5]).is_dir(),
        "adduser made the home directory: {line}"
    );
    let (status, user) = api.get(TOKEN, &format!("/users/{added}")).await;
    assert_eq!((status, user["name"].as_str()), (200, Some(added.as_str())));

    let refused = api
        .call(TOKEN, Method::POST, "/users")
        .json(&serde_json::json!({ "usernames": ["-fhopt"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Failed to create user -fhopt"),
        "{body}"
    );
    assert_eq!(getent_passwd("-fhopt"), None);
    assert_eq!(
        api.get(TOKEN, "/users/-fhopt").await.0,
        404,
        "not kept in the database"
    );
}

/// Without `create_system_users`, adding a user who has no system account
/// through the API is refused with upstream's 400, and the user is not kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_pam_hub_refuses_to_add_a_user_without_a_system_account() {
    let pid = std::process::id();
    let admin = LocalUser::create("nsadm");
    let hub = TestHub::start_with(
        "pam",
        "localprocess",
        &[
            (
                "JupyterHub",
                &format!("api_tokens = {{ \"{TOKEN}\" = \"{}\" }}", admin.name),
            ),
            (
                "Authenticator",
                &format!("admin_users = [\"{}\"]", admin.name),
            ),
        ],
    );
    let api = Api::new(&hub);
    let ghost = format!("fhghost{pid}");
    let refused = api
        .call(TOKEN, Method::POST, &format!("/users/{ghost}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not exist on the system"),
        "{body}"
    );
    assert_eq!(api.get(TOKEN, &format!("/users/{ghost}")).await.0, 404);
    assert_eq!(getent_passwd(&ghost), None);
}

/// `username_map` turns one local account's login into another hub user;
/// `username_pattern` refuses a login (right PAM password) and an API-created
/// user whose names do not match, with a 400 that names the option.
#[tokio::test(flavor = "multi_thread")]
async fn username_map_and_username_pattern_apply_to_logins_and_the_api() {
    let from = LocalUser::create("mpf");
    let to = LocalUser::create("mpt");
    let off_pattern = LocalUser::create("xpat");
    let map = format!(
        "allow_all = true\nusername_pattern = \"fhmp\"\nusername_map = {{ \"{}\" = \"{}\" }}\nadmin_users = [\"{}\"]",
        from.name, to.name, to.name
    );
    let hub = TestHub::start_with(
        "pam",
        "localprocess",
        &[
            (
                "JupyterHub",
                &format!("api_tokens = {{ \"{TOKEN}\" = \"{}\" }}", to.name),
            ),
            ("Authenticator", &map),
        ],
    );

    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &from.name, &from.password).await,
        302,
        "log:\n{}",
        hub.log()
    );
    let me = who_am_i(&browser).await;
    assert_eq!(me["name"], to.name.as_str(), "logged in as the mapped name");

    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &off_pattern.name, &off_pattern.password).await,
        403
    );
    assert!(
        hub.log()
            .contains("does not match Authenticator.username_pattern"),
        "refused by the pattern, not by PAM; log:\n{}",
        hub.log()
    );

    let api = Api::new(&hub);
    let refused = api
        .call(TOKEN, Method::POST, "/users/someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid username: someone-else")
            && message.contains("Authenticator.username_pattern"),
        "{body}"
    );
    assert_eq!(api.get(TOKEN, "/users/someone-else").await.0, 404);
}

const USER_PASSWORD: &str = "shared-user-pw";
const ADMIN_PASSWORD: &str = "a-shared-admin-password-of-40-characters";

/// `SharedPasswordAuthenticator`: an allowed user logs in with the user
/// password and is no admin; the admin logs in with the admin password only
/// and is made admin; `allowed_users` still applies.
#[tokio::test(flavor = "multi_thread")]
async fn shared_password_logs_in_users_and_admins() {
    let hub = TestHub::start_with(
        "shared-password",
        "simple",
        &[
            (
                "Authenticator",
                "allowed_users = [\"alice\"]\nadmin_users = [\"boss\"]",
            ),
            (
                "SharedPasswordAuthenticator",
                &format!(
                    "user_password = \"{USER_PASSWORD}\"\nadmin_password = \"{ADMIN_PASSWORD}\""
                ),
            ),
        ],
    );
    let fresh = || Browser::new(&hub.public_url());

    let alice = fresh();
    assert_eq!(login_status(&alice, "alice", USER_PASSWORD).await, 302);
    let model = who_am_i(&alice).await;
    assert_eq!(
        (model["name"].as_str(), model["admin"].as_bool()),
        (Some("alice"), Some(false))
    );

    let boss = fresh();
    assert_eq!(login_status(&boss, "boss", ADMIN_PASSWORD).await, 302);
    let model = who_am_i(&boss).await;
    assert_eq!(
        (model["name"].as_str(), model["admin"].as_bool()),
        (Some("boss"), Some(true))
    );

    for (user, password, why) in [
        (
            "boss",
            USER_PASSWORD,
            "an admin must use the admin password",
        ),
        (
            "alice",
            ADMIN_PASSWORD,
            "the admin password is for admins only",
        ),
        ("alice", "shared-user-pwX", "a wrong password"),
        ("mallory", USER_PASSWORD, "allowed_users still applies"),
    ] {
        assert_eq!(login_status(&fresh(), user, password).await, 403, "{why}");
    }
}

/// Start-up refuses (exit 64, one clear line) passwords shorter than
/// upstream's minimum, and the same password for users and admins.
#[test]
fn shared_password_refuses_short_passwords_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (settings, must_say) in [
        (
            "user_password = \"seven77\"".to_owned(),
            "SharedPasswordAuthenticator.user_password must be at least 8 characters",
        ),
        (
            format!("admin_password = \"{}\"", "x".repeat(31)),
            "SharedPasswordAuthenticator.admin_password must be at least 32 characters, not 31",
        ),
        (
            format!(
                "user_password = \"{0}\"\nadmin_password = \"{0}\"",
                "y".repeat(32)
            ),
            "cannot be the same",
        ),
    ] {
        let config = dir.path().join("shared.toml");
        std::fs::write(
            &config,
            format!(
                "[JupyterHub]\nauthenticator_class = \"shared-password\"\ndb_url = \"sqlite:///{}/db.sqlite\"\n[SharedPasswordAuthenticator]\n{settings}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let out = Command::new(ferrohub_bin())
            .arg("-f")
            .arg(&config)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{settings}: {stderr}");
        assert!(stderr.contains(must_say), "{settings}: {stderr}");
        assert!(
            !dir.path().join("db.sqlite").exists(),
            "refused before the database is created"
        );
    }
}

/// `NullAuthenticator` (also by upstream's class path): the login page has
/// no form and says why, and the API works with tokens.
#[tokio::test(flavor = "multi_thread")]
async fn null_authenticator_shows_no_form_and_accepts_api_tokens() {
    let hub = TestHub::start_with(
        "jupyterhub.auth.NullAuthenticator",
        "simple",
        &[(
            "JupyterHub",
            &format!("api_tokens = {{ \"{TOKEN}\" = \"robot\" }}"),
        )],
    );
    let browser = Browser::new(&hub.public_url());
    let page = browser
        .single
        .get(format!("{}/hub/login", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("<form"), "no login form: {html}");
    assert!(!html.contains("name=\"password\""), "{html}");
    assert!(html.contains("API tokens only"), "{html}");

    let api = Api::new(&hub);
    let (status, me) = api.get(TOKEN, "/user").await;
    assert_eq!((status, me["name"].as_str()), (200, Some("robot")));
    assert_eq!(api.get("not-a-token", "/user").await.0, 403);
}

/// `pam_normalize_username`: a second account name for the same uid (an
/// alias PAM accepts with its own password) logs in as the account's own
/// name, found by name to uid to name.
#[tokio::test(flavor = "multi_thread")]
async fn pam_normalize_username_logs_an_alias_in_as_its_account() {
    let account = LocalUser::create("pna");
    let alias = format!("fhpnalias{}", std::process::id());
    let _cleanup = CreatedAccounts(vec![alias.clone()]);
    run_cleanup(Command::new("userdel").arg(&alias));
    let uid = account.uid().to_string();
    run_ok(Command::new("useradd").args(["-o", "-u", &uid, "-M", "-s", "/bin/bash", &alias]));
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = chpasswd.stdin.take().unwrap();
        writeln!(stdin, "{alias}:{}", account.password).unwrap();
    }
    assert!(chpasswd.wait().unwrap().success());

    let hub = TestHub::start_with(
        "pam",
        "localprocess",
        &[
            (
                "Authenticator",
                &format!("allowed_users = [\"{}\"]", account.name),
            ),
            ("PAMAuthenticator", "pam_normalize_username = true"),
        ],
    );
    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &alias, &account.password).await,
        302,
        "log:\n{}",
        hub.log()
    );
    assert_eq!(who_am_i(&browser).await["name"], account.name.as_str());
}

/// A PAM service of the test's own, removed on drop.
struct PamService {
    name: String,
}

impl Drop for PamService {
    fn drop(&mut self) {
        support::remove_if_present(&std::path::Path::new("/etc/pam.d").join(&self.name));
    }
}

/// `open_sessions`: the hub opens a PAM session for the user when the server
/// starts and closes it when it stops. The test's own PAM service records each
/// session call with `pam_exec` (real PAM, real server as the local user).
#[tokio::test(flavor = "multi_thread")]
async fn open_sessions_opens_and_closes_a_pam_session_around_the_server() {
    let user = LocalUser::create("ses");
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("sessions.log");
    let script = work.path().join("record.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$PAM_TYPE $PAM_USER\" >> {}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let service = PamService {
        name: format!("fhsess{}", std::process::id()),
    };
    std::fs::write(
        std::path::Path::new("/etc/pam.d").join(&service.name),
        format!(
            "auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_exec.so {}\n",
            script.display()
        ),
    )
    .unwrap();

    let hub = TestHub::start_with(
        "pam",
        "localprocess",
        &[
            (
                "Authenticator",
                &format!("allowed_users = [\"{}\"]", user.name),
            ),
            (
                "PAMAuthenticator",
                &format!("service = \"{}\"\nopen_sessions = true", service.name),
            ),
        ],
    );
    let browser = Browser::new(&hub.public_url());
    assert_eq!(
        login_status(&browser, &user.name, &user.password).await,
        302,
        "log:\n{}",
        hub.log()
    );
    assert!(!record.exists(), "logging in opens no session");
    browser.start_server(&user.name).await;
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        format!("open_session {}\n", user.name)
    );
    browser.stop_server(&user.name).await;
    let log = support::eventually(60, "the session to be closed", || async {
        std::fs::read_to_string(&record)
            .ok()
            .filter(|log| log.lines().count() == 2)
    })
    .await;
    assert_eq!(
        log,
        format!("open_session {0}\nclose_session {0}\n", user.name)
    );
}
