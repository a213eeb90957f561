//! SystemdSpawner end to end: the real hub binary with `spawner_class =
//! "systemdspawner.SystemdSpawner"`, a real systemd (Debian's, as PID 1 of
//! namespaces of its own; support/systemd.rs) that the hub's `systemd-run`
//! and `systemctl` talk to, real local users, and the real
//! `jupyterhub-singleuser` from the project's virtualenv in each unit.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::Value;
use support::TestHub;
use support::api::{Api, token_for};
use support::systemd::{self, Systemd};
use support::users::LocalUser;

/// The hub configured for SystemdSpawner, run where it reaches `systemd`,
/// with `user` in its database.
fn systemd_hub(systemd: &Systemd, user: &str, spawner: &str, systemd_section: &str) -> TestHub {
    TestHub::start_launched(
        &systemd.launcher(),
        None,
        "dummy",
        "systemdspawner.SystemdSpawner",
        &[
            ("Authenticator", &format!("allowed_users = [\"{user}\"]")),
            ("Spawner", spawner),
            ("SystemdSpawner", systemd_section),
        ],
        &[],
    )
}

/// upstream's default unit name for `user`.
fn unit_of(user: &str) -> String {
    format!("jupyter-{user}-singleuser")
}

/// The user's default server in the hub's model (`null` if none).
async fn server_model(api: &Api, token: &str, user: &str) -> Value {
    let (status, model) = api.get(token, &format!("/users/{user}")).await;
    assert_eq!(status, 200, "{model}");
    model["servers"][""].clone()
}

/// Starts the user's server through the API and waits until the hub says
/// it is ready.
async fn start_server(hub: &TestHub, systemd: &Systemd, api: &Api, token: &str, user: &str) {
    let response = api
        .call(token, Method::POST, &format!("/users/{user}/server"))
        .send()
        .await
        .unwrap();
    assert!(
        [201, 202].contains(&response.status().as_u16()),
        "{}: {}\n{}\n{}",
        response.status(),
        response.text().await.unwrap_or_default(),
        hub.log(),
        systemd.log()
    );
    support::eventually(120, "the server to be ready", || async {
        (server_model(api, token, user).await["ready"] == true).then_some(())
    })
    .await;
}

/// `GET /user/<name>/api/status` through the proxy with the user's token.
async fn server_status(api: &Api, token: &str, user: &str) -> u16 {
    api.public(token, &format!("/user/{user}/api/status"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_runs_as_a_transient_unit_of_its_user_with_the_options_properties() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sdu");
    let name = user.name.as_str();
    let hub = systemd_hub(
        systemd,
        name,
        "mem_limit = \"300M\"\ncpu_limit = 0.5",
        r#"isolate_tmp = true
readonly_paths = ["/opt"]
slice = "ferrohub-users.slice"
unit_extra_properties = { LimitNOFILE = "4321", Description = "server of {USERNAME}" }"#,
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, name);
    start_server(&hub, systemd, &api, &token, name).await;

    let unit = unit_of(name);
    let shown = systemd.show(
        &unit,
        &[
            "ActiveState",
            "MainPID",
            "User",
            "MemoryMax",
            "CPUQuotaPerSecUSec",
            "PrivateTmp",
            "ReadOnlyPaths",
            "NoNewPrivileges",
            "LimitNOFILE",
            "Slice",
            "Description",
            "EnvironmentFiles",
        ],
    );
    let uid = user.uid().to_string();
    assert_eq!(shown["ActiveState"], "active", "{shown:?}");
    assert_eq!(shown["User"], uid, "the unit runs as the user: {shown:?}");
    let main_pid = &shown["MainPID"];
    assert_eq!(
        systemd.uid_of(main_pid),
        Some(user.uid()),
        "the server process (pid {main_pid} in systemd's namespace) has the user's uid"
    );
    assert_eq!(shown["MemoryMax"], (300 * 1024 * 1024).to_string());
    assert_eq!(shown["CPUQuotaPerSecUSec"], "500ms");
    assert_eq!(shown["PrivateTmp"], "yes");
    assert_eq!(shown["ReadOnlyPaths"], "/opt");
    assert_eq!(
        shown["NoNewPrivileges"], "yes",
        "disable_user_sudo's default"
    );
    assert_eq!(shown["LimitNOFILE"], "4321");
    assert_eq!(shown["Slice"], "ferrohub-users.slice");
    assert_eq!(shown["Description"], format!("server of {name}"));
    assert!(
        shown["EnvironmentFiles"].starts_with(&format!("/run/{unit}/{unit}.env ")),
        "{shown:?}"
    );

    // The proxy reaches the server in the unit, with the user's token.
    assert_eq!(
        server_status(&api, &token, name).await,
        200,
        "{}",
        hub.log()
    );

    // Stop: the unit is stopped and gone.
    let stopped = api
        .call(&token, Method::DELETE, &format!("/users/{name}/server"))
        .send()
        .await
        .unwrap();
    assert!(
        [202, 204].contains(&stopped.status().as_u16()),
        "{}",
        stopped.status()
    );
    support::eventually(60, "the unit to stop", || async {
        (systemd.state(&unit) != "active").then_some(())
    })
    .await;
    let after = systemd.show(&unit, &["ActiveState", "LoadState"]);
    assert!(
        after["LoadState"] == "not-found" || after["ActiveState"] == "inactive",
        "{after:?}"
    );
    support::eventually(30, "the hub to see the server stopped", || async {
        server_model(&api, &token, name)
            .await
            .is_null()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_hub_reattaches_to_the_unit_and_sees_it_stopped_behind_its_back() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sdr");
    let name = user.name.as_str();
    let mut hub = systemd_hub(systemd, name, "", "");
    let api = Api::new(&hub);
    let token = token_for(&hub, name);
    start_server(&hub, systemd, &api, &token, name).await;
    let unit = unit_of(name);
    let main_pid = systemd.show(&unit, &["MainPID"])["MainPID"].clone();
    assert_ne!(main_pid, "0");

    // kill -9 of the hub; the new hub on the same database re-attaches.
    let status = hub.kill(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(systemd.state(&unit), "active", "the unit outlives the hub");
    hub.launch();
    assert_eq!(
        server_model(&api, &token, name).await["ready"],
        true,
        "re-attached: {}",
        hub.log()
    );
    assert_eq!(
        systemd.show(&unit, &["MainPID"])["MainPID"],
        main_pid,
        "the same server process, not a second start"
    );
    assert_eq!(
        hub.log().matches("systemd unit started").count(),
        1,
        "one start over both hubs"
    );
    assert_eq!(server_status(&api, &token, name).await, 200);

    // systemctl stop behind the hub's back: the poll sees the unit gone.
    let out = systemd.run(&["systemctl", "stop", &unit]);
    assert!(out.status.success(), "{out:?}");
    support::eventually(60, "the hub to notice the stopped unit", || async {
        server_model(&api, &token, name)
            .await
            .is_null()
            .then_some(())
    })
    .await;
    assert_ne!(server_status(&api, &token, name).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_unit_of_the_same_name_is_reset_before_the_start() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sdf");
    let name = user.name.as_str();
    let unit = unit_of(name);
    // A unit of the server's name that failed (a server of an earlier hub
    // that crashed): it keeps the name taken until reset.
    let out = systemd.run(&["systemd-run", "--unit", &unit, "/bin/false"]);
    assert!(out.status.success(), "{out:?}");
    support::eventually(30, "the leftover unit to fail", || async {
        (systemd.state(&unit) == "failed").then_some(())
    })
    .await;

    let hub = systemd_hub(systemd, name, "", "");
    let api = Api::new(&hub);
    let token = token_for(&hub, name);
    start_server(&hub, systemd, &api, &token, name).await;
    assert_eq!(systemd.state(&unit), "active");
    assert!(
        hub.log().contains("resetting it"),
        "the reset is logged: {}",
        hub.log()
    );
    assert_eq!(server_status(&api, &token, name).await, 200);
}

/// The environment of a process of systemd's namespace (its pid there).
fn environ_of(systemd: &Systemd, pid: &str) -> Vec<String> {
    let out = systemd.run(&["cat", &format!("/proc/{pid}/environ")]);
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unit_name_directory_and_environment_follow_the_options() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sde");
    let name = user.name.as_str();
    // Removed when the test ends, however it ends.
    let work = tempfile::Builder::new()
        .prefix("ferrohub-systemd-work-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let workdir = format!("{}/{name}", work.path().display());
    std::fs::create_dir(&workdir).unwrap();
    std::os::unix::fs::chown(&workdir, Some(user.uid()), None).unwrap();
    let hub = systemd_hub(
        systemd,
        name,
        "",
        &format!(
            r#"unit_name_template = "fh-{{USERID}}-{{USERNAME}}"
user_workingdir = "{}/{{USERNAME}}"
extra_paths = ["/opt/{{USERNAME}}/bin"]
default_shell = "/bin/sh""#,
            work.path().display()
        ),
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, name);
    start_server(&hub, systemd, &api, &token, name).await;

    let listed = systemd.run(&["systemctl", "list-units", "--plain", "--no-legend", "fh-*"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let unit = listed
        .split_whitespace()
        .find(|word| word.ends_with(&format!("-{name}.service")))
        .unwrap_or_else(|| panic!("no fh-<id>-{name} unit: {listed}"))
        .trim_end_matches(".service")
        .to_owned();
    let id = unit
        .strip_prefix("fh-")
        .and_then(|rest| rest.strip_suffix(&format!("-{name}")))
        .unwrap();
    assert!(
        id.parse::<u64>().is_ok_and(|id| id > 0),
        "{{USERID}} is the hub's user id: {unit}"
    );
    let main_pid = systemd.show(&unit, &["MainPID"])["MainPID"].clone();
    let cwd = systemd.run(&["readlink", &format!("/proc/{main_pid}/cwd")]);
    assert_eq!(String::from_utf8_lossy(&cwd.stdout).trim(), workdir);
    let env = environ_of(systemd, &main_pid);
    assert!(env.contains(&"SHELL=/bin/sh".to_owned()), "{env:?}");
    assert!(
        env.iter()
            .any(|v| v.starts_with(&format!("PATH=/opt/{name}/bin:"))),
        "{env:?}"
    );
    assert!(env.contains(&format!("USER={name}")), "{env:?}");
    assert!(
        env.iter().any(|v| v.starts_with("JUPYTERHUB_API_TOKEN=")),
        "the hub's variables came through the environment file"
    );
    // That file holds the server's token: nobody else's to read (systemd
    // hands the runtime directory and what is in it to the unit's user).
    let file = format!("/run/{unit}/{unit}.env");
    let stat = systemd.run(&["stat", "-c", "%a %u", &file]);
    let stat = String::from_utf8_lossy(&stat.stdout).trim().to_owned();
    assert!(
        stat == "400 0" || stat == format!("400 {}", user.uid()),
        "{file}: {stat}"
    );
    let dir = systemd.run(&["stat", "-c", "%a", &format!("/run/{unit}")]);
    assert_eq!(String::from_utf8_lossy(&dir.stdout).trim(), "700");
    assert_eq!(server_status(&api, &token, name).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_users_run_the_server_as_an_account_systemd_allocates() {
    let systemd = systemd::shared();
    // No local account: systemd makes one for the unit.
    let name = format!("fhsddyn{}", std::process::id());
    let _state = StateDirectory(name.clone());
    let hub = systemd_hub(systemd, &name, "", "dynamic_users = true");
    let api = Api::new(&hub);
    let token = token_for(&hub, &name);
    start_server(&hub, systemd, &api, &token, &name).await;
    let unit = unit_of(&name);
    let shown = systemd.show(
        &unit,
        &[
            "DynamicUser",
            "StateDirectory",
            "MainPID",
            "WorkingDirectory",
        ],
    );
    assert_eq!(shown["DynamicUser"], "yes");
    assert_eq!(shown["StateDirectory"], name);
    assert_eq!(shown["WorkingDirectory"], format!("/var/lib/{name}"));
    let uid = systemd.uid_of(&shown["MainPID"]).unwrap();
    assert_ne!(uid, 0);
    assert!(
        nix::unistd::User::from_uid(uid.into()).unwrap().is_none(),
        "uid {uid} is no account of the host"
    );
    let env = environ_of(systemd, &shown["MainPID"]);
    assert!(env.contains(&format!("HOME=/var/lib/{name}")), "{env:?}");
    assert_eq!(server_status(&api, &token, &name).await, 200);
}

/// A dynamic user's `StateDirectory=`, which persists in the host's
/// `/var/lib` (systemd's mount namespace shares its file system): removed
/// when the test ends, however it ends.
struct StateDirectory(String);

impl Drop for StateDirectory {
    fn drop(&mut self) {
        let name = &self.0;
        support::remove_if_present(std::path::Path::new(&format!("/var/lib/{name}")));
        match std::fs::remove_dir_all(format!("/var/lib/private/{name}")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!("removing the state directory: {e}");
            }
            _ => {}
        }
    }
}

/// A named server runs in a unit of its own beside the default server's
/// (upstream's single unit name per user would stop one for the other).
#[tokio::test(flavor = "multi_thread")]
async fn a_named_server_gets_a_unit_of_its_own_beside_the_default_one() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sdn");
    let name = user.name.as_str();
    let hub = TestHub::start_launched(
        &systemd.launcher(),
        None,
        "dummy",
        "systemdspawner.SystemdSpawner",
        &[
            ("JupyterHub", "allow_named_servers = true"),
            ("Authenticator", &format!("allowed_users = [\"{name}\"]")),
        ],
        &[],
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, name);
    start_server(&hub, systemd, &api, &token, name).await;
    let response = api
        .call(&token, Method::POST, &format!("/users/{name}/servers/gpu"))
        .send()
        .await
        .unwrap();
    assert!(
        [201, 202].contains(&response.status().as_u16()),
        "{}\n{}",
        response.status(),
        hub.log()
    );
    support::eventually(120, "the named server to be ready", || async {
        let (_, model) = api.get(&token, &format!("/users/{name}")).await;
        (model["servers"]["gpu"]["ready"] == true).then_some(())
    })
    .await;
    let default_unit = unit_of(name);
    let named_unit = format!("{default_unit}-gpu");
    assert_eq!(systemd.state(&default_unit), "active", "{}", hub.log());
    assert_eq!(systemd.state(&named_unit), "active");
    assert_eq!(server_status(&api, &token, name).await, 200);
    let named_status = api
        .public(&token, &format!("/user/{name}/gpu/api/status"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(named_status, 200);

    // Stopping the named server leaves the default one running.
    let stopped = api
        .call(
            &token,
            Method::DELETE,
            &format!("/users/{name}/servers/gpu"),
        )
        .send()
        .await
        .unwrap();
    assert!([202, 204].contains(&stopped.status().as_u16()));
    support::eventually(60, "the named unit to stop", || async {
        (systemd.state(&named_unit) != "active").then_some(())
    })
    .await;
    assert_eq!(systemd.state(&default_unit), "active");
    assert_eq!(server_status(&api, &token, name).await, 200);
}
