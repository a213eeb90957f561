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
