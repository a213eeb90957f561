//! Start, poll and stop real server processes with the simple spawner (no
//! user switch), the way the hub drives them.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use ferrohub_spawn::{SpawnError, from_config, wait_for_http_server, wait_until_ready};
use support::*;
use tokio::time::Instant;

#[tokio::test]
async fn a_server_gets_upstreams_environment_answers_http_and_stops_on_sigint() {
    let homes = tempfile::tempdir().unwrap();
    let mut config = simple_config(homes.path(), &["python3", "-c", SERVICE_URL_SERVER]);
    config.spawner.env_keep = vec!["LANG".into(), "CARGO_MANIFEST_DIR".into()];
    config.spawner.default_url = "/lab/tree/{username}".into();
    config.spawner.notebook_dir = "~/work".into();
    config.spawner.environment = BTreeMap::from([
        // A PATH of our own chooses Debian's python, not the hub's.
        ("PATH".into(), "/usr/bin:/bin".into()),
        (
            "JUPYTERHUB_API_URL".into(),
            "http://hub-for-{username}/api".into(),
        ),
    ]);
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "ada")).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    let port = port_of(&started.url);
    assert_eq!(started.url, format!("http://127.0.0.1:{port}"));
    // The state names the process beyond its pid (start time, uid, boot), so a
    // restarted hub can tell it from a later process with the same pid.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start_time: u64 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(
        started.state,
        serde_json::json!({
            "pid": pid,
            "start_time": start_time,
            "uid": nix::unistd::getuid().as_raw(),
            "boot_id": boot_id.trim(),
        })
    );

    let version = wait_for_http_server(
        &format!("{}/user/ada/api", started.url),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert_eq!(version, None, "python's 404 has no version header");
    assert_eq!(spawner.poll(&started.state).await.unwrap(), None);

    let home = homes.path().join("ada");
    let env = environ(pid);
    assert_eq!(
        env["JUPYTERHUB_SERVICE_URL"],
        format!("http://127.0.0.1:{port}/user/ada/")
    );
    assert_eq!(env["JUPYTERHUB_API_TOKEN"], "token-of-ada");
    assert_eq!(env["JUPYTERHUB_USER"], "ada");
    assert_eq!(env["JUPYTERHUB_SERVICE_PREFIX"], "/user/ada/");
    assert_eq!(
        env["JUPYTERHUB_API_URL"], "http://hub-for-ada/api",
        "environment wins"
    );
    assert_eq!(env["JUPYTERHUB_DEFAULT_URL"], "/lab/tree/ada");
    assert_eq!(
        env["JUPYTERHUB_ROOT_DIR"],
        home.join("work").to_str().unwrap()
    );
    assert_eq!(env["HOME"], home.to_str().unwrap());
    assert_eq!(env["USER"], "ada");
    assert_eq!(env["SHELL"], "/bin/bash");
    assert_eq!(env["PATH"], "/usr/bin:/bin");
    assert!(!env.contains_key("JUPYTERHUB_DEBUG"));
    for kept in ["LANG", "CARGO_MANIFEST_DIR"] {
        assert_eq!(env.get(kept), std::env::var(kept).ok().as_ref(), "{kept}");
    }
    let ours = [
        "HOME",
        "USER",
        "SHELL",
        "PATH",
        "LANG",
        "CARGO_MANIFEST_DIR",
    ];
    for (key, _) in std::env::vars() {
        if !ours.contains(&key.as_str()) && !key.starts_with("JUPYTERHUB_") {
            assert!(!env.contains_key(&key), "hub variable {key} leaked");
        }
    }

    assert_eq!(cwd(pid), home);
    let mode = std::fs::metadata(&home).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);

    let stopping = Instant::now();
    spawner.stop(&started.state).await.unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "SIGINT should have stopped python, not the SIGTERM after 30 s"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} was not reaped"
    );
    assert!(spawner.poll(&started.state).await.unwrap().is_some());
}

#[tokio::test]
async fn a_configured_port_is_used_and_announced() {
    let homes = tempfile::tempdir().unwrap();
    let mut config = simple_config(homes.path(), &["sleep", "1000"]);
    config.spawner.port = ferrohub_spawn::port::free_port().unwrap();
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "bo")).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    assert_eq!(
        started.url,
        format!("http://127.0.0.1:{}", config.spawner.port)
    );
    assert_eq!(
        environ(pid)["JUPYTERHUB_SERVICE_URL"],
        format!("http://127.0.0.1:{}/user/bo/", config.spawner.port)
    );
    spawner.stop(&started.state).await.unwrap();
    assert!(!is_running(pid));
}

#[tokio::test]
async fn a_process_that_exits_by_itself_reports_its_status_and_is_reaped() {
    let homes = tempfile::tempdir().unwrap();
    let config = simple_config(homes.path(), &["/bin/sh", "-c", "exit 3"]);
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "cy")).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    let mut status = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while status.is_none() && Instant::now() < deadline {
        status = spawner.poll(&started.state).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(3));
    assert_eq!(proc_state(pid), None, "exited child left as a zombie");
    spawner.stop(&started.state).await.unwrap();
}

#[tokio::test]
async fn a_process_ignoring_sigint_and_sigterm_is_killed_with_its_children() {
    let homes = tempfile::tempdir().unwrap();
    let script = r#"trap '' INT TERM; sleep 1000 & echo $! > "$HOME/child.pid"; wait"#;
    let mut config = simple_config(homes.path(), &["/bin/sh", "-c", script]);
    config.local_process_spawner.interrupt_timeout = 1;
    config.local_process_spawner.term_timeout = 1;
    config.local_process_spawner.kill_timeout = 5;
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "di")).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);
    let pid_file = homes.path().join("di/child.pid");
    assert!(eventually(Duration::from_secs(5), || pid_file.exists()).await);
    let child: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(is_running(child));

    let stopping = Instant::now();
    spawner.stop(&started.state).await.unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "stopped after {took:?}: signals not ignored?"
    );
    assert!(took < Duration::from_secs(5), "SIGKILL took {took:?}");
    assert_eq!(spawner.poll(&started.state).await.unwrap(), Some(-9));
    assert!(!is_running(pid));
    assert!(
        eventually(Duration::from_secs(2), || !is_running(child)).await,
        "the server's child {child} survived"
    );
}

#[tokio::test]
async fn a_restarted_hub_adopts_a_running_server_and_stops_it() {
    let homes = tempfile::tempdir().unwrap();
    let config = simple_config(homes.path(), &["sleep", "1000"]);
    let before_restart = from_config(&config).unwrap();
    let started = before_restart.start(&request(&config, "ed")).await.unwrap();
    let pid = pid_of(&started);
    let _server = KillOnDrop(pid);

    let after_restart = from_config(&config).unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&started.state).unwrap()).unwrap();
    assert_eq!(after_restart.poll(&state).await.unwrap(), None);
    after_restart.stop(&state).await.unwrap();
    assert!(!is_running(pid));
    assert_eq!(after_restart.poll(&state).await.unwrap(), Some(0));
    // The first instance learns of the exit from its own reaper task, which
    // may not have run yet on a loaded machine: give it up to 2 s.
    let mut status = None;
    for _ in 0..100 {
        status = before_restart.poll(&state).await.unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, Some(-2), "SIGINT");
}

#[tokio::test]
async fn missing_or_empty_state_means_not_running() {
    let homes = tempfile::tempdir().unwrap();
    let spawner = from_config(&simple_config(homes.path(), &["sleep", "1"])).unwrap();
    for state in [serde_json::json!({}), serde_json::json!({"pid": 0})] {
        assert_eq!(spawner.poll(&state).await.unwrap(), Some(0));
        spawner.stop(&state).await.unwrap();
    }
}

#[tokio::test]
async fn shell_cmd_runs_the_quoted_command_through_the_shell() {
    let homes = tempfile::tempdir().unwrap();
    let script = r#"printf '%s|' "$@" > "$HOME/args""#;
    let mut config = simple_config(homes.path(), &["/bin/sh", "-c", script, "argv0"]);
    config.spawner.args = vec!["two words".into(), "it's".into(), "$HOME".into()];
    config.local_process_spawner.shell_cmd = vec!["/bin/sh".into(), "-c".into()];
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "fay")).await.unwrap();
    let args = homes.path().join("fay/args");
    assert!(
        eventually(Duration::from_secs(5), || {
            std::fs::read_to_string(&args).is_ok_and(|text| !text.is_empty())
        })
        .await
    );
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "two words|it's|$HOME|"
    );
    spawner.stop(&started.state).await.unwrap();
}

#[tokio::test]
async fn a_missing_command_is_a_launch_error_naming_it() {
    let homes = tempfile::tempdir().unwrap();
    for program in ["ferrohub-no-such-server", "/nonexistent/ferrohub-server"] {
        let config = simple_config(homes.path(), &[program]);
        let spawner = from_config(&config).unwrap();
        match spawner.start(&request(&config, "gus")).await {
            Err(error @ SpawnError::Launch { .. }) => {
                assert!(error.to_string().contains(program), "{error}");
            }
            other => panic!("expected a launch error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_server_that_dies_at_start_fails_readiness_at_once() {
    let homes = tempfile::tempdir().unwrap();
    let config = simple_config(homes.path(), &["/bin/sh", "-c", "exit 7"]);
    let spawner = from_config(&config).unwrap();

    let started = spawner.start(&request(&config, "hal")).await.unwrap();
    let waiting = Instant::now();
    let result = wait_until_ready(
        spawner.as_ref(),
        &started.state,
        &format!("{}/user/hal/api", started.url),
        Duration::from_secs(30),
    )
    .await;
    assert!(matches!(result, Err(SpawnError::Exited(7))), "{result:?}");
    assert!(waiting.elapsed() < Duration::from_secs(5));
}
