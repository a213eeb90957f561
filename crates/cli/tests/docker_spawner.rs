//! DockerSpawner against a real Docker daemon (support/docker.rs) and a real
//! single-user image (Debian's Python and the suite's jupyterhub-singleuser,
//! built by scripts/singleuser-image.sh): servers start in containers on the
//! host network, are reached through the proxy, write into templated
//! per-user volumes, carry their limits, survive a hub restart without a
//! second container, and are stopped (and removed) through the Engine API.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};
use support::browser::{Browser, hidden_xsrf};
use support::docker::{self, TestDocker};
use support::eventually;

/// A hub whose servers run in containers of the test daemon, on the host's
/// network; `extra` is appended to `[DockerSpawner]`. Container names start
/// with a prefix of this process, so parallel tests never collide.
fn docker_hub(docker: &TestDocker, prefix: &str, extra: &str) -> TestHub {
    docker_hub_with(docker, prefix, extra, "")
}

/// [`docker_hub`] with extra `[Spawner]` lines.
fn docker_hub_with(docker: &TestDocker, prefix: &str, extra: &str, spawner: &str) -> TestHub {
    let body = format!(
        r#"image = "{image}"
network_name = "host"
pull_policy = "never"
prefix = "{prefix}"
{extra}"#,
        image = docker.image
    );
    TestHub::start_with_env(
        "dummy",
        "dockerspawner.DockerSpawner",
        &[
            ("DockerSpawner", &body),
            ("Authenticator", USERS),
            ("Spawner", spawner),
        ],
        &[("DOCKER_HOST", &docker.host)],
    )
}

/// The test users, created at start-up so `ferrohub token` finds them.
const USERS: &str = r#"allowed_users = ["alice", "bob", "carol", "dave"]"#;

fn prefix(test: &str) -> String {
    format!("fh{}-{test}", std::process::id())
}

/// The answer to a start request and the progress events, followed from
/// the moment the spawn is known (the stream replays the spawn's steps so
/// far to a new follower), while the request may still wait for the server.
struct Start {
    status: u16,
    answer: Value,
    events: Vec<Value>,
}

async fn start(api: &Api, token: &str, user: &str) -> Start {
    let request = api
        .call(token, Method::POST, &format!("/users/{user}/server"))
        .json(&json!({}));
    let answer = tokio::spawn(async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or_default())
    });
    let path = format!("/users/{user}/server/progress");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let events = loop {
        let response = api
            .call(token, Method::GET, &path)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break support::api::progress_events(response, |_| false).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the spawn never showed up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, answer) = answer.await.unwrap();
    Start {
        status,
        answer,
        events,
    }
}

fn running(docker: &TestDocker, container: &str) -> bool {
    docker
        .inspect(container)
        .is_some_and(|c| c["State"]["Running"] == true)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_runs_in_a_container_with_its_volume_and_limits() {
    let docker = docker::shared();
    let prefix = prefix("main");
    let volumes = tempfile::tempdir().unwrap();
    std::fs::set_permissions(volumes.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let home = volumes.path().join("alice");
    std::fs::create_dir(&home).unwrap();
    // The image's user (uid 1000) writes there.
    std::fs::set_permissions(&home, PermissionsExt::from_mode(0o777)).unwrap();
    // The memory limit is DockerSpawner's own, the CPU limit [Spawner]'s.
    let hub = docker_hub_with(
        docker,
        &prefix,
        &format!(
            r#"remove = true
mem_limit = "512M"
volumes = {{ "{}/{{username}}" = "/home/jovyan/work" }}"#,
            volumes.path().display()
        ),
        "cpu_limit = 0.5",
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, "alice");

    let Start { status, events, .. } = start(&api, &token, "alice").await;
    assert!(matches!(status, 201 | 202), "start: {status}");
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(
        events.last().unwrap()["ready"],
        true,
        "{events:?}\n{}",
        hub.log()
    );
    for step in ["Creating container", "Starting container"] {
        assert!(messages.contains(&step), "{step:?} in {messages:?}");
    }

    // The server in the container answers through the proxy.
    let container = format!("{prefix}-alice");
    let status = api
        .public(&token, "/user/alice/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let inspect = docker.inspect(&container).expect("the container exists");
    assert_eq!(inspect["State"]["Running"], true);
    assert_eq!(inspect["HostConfig"]["NetworkMode"], "host");
    assert_eq!(inspect["HostConfig"]["Memory"], 512 << 20);
    assert_eq!(inspect["HostConfig"]["CpuPeriod"], 100_000);
    assert_eq!(inspect["HostConfig"]["CpuQuota"], 50_000);
    assert_eq!(inspect["Config"]["Image"], docker.image);
    assert_eq!(inspect["Config"]["Labels"]["ferrohub.user"], "alice");
    let env: Vec<&str> = inspect["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"JUPYTERHUB_USER=alice"), "{env:?}");
    assert!(env.contains(&"MEM_LIMIT=536870912"), "{env:?}");
    assert!(env.contains(&"CPU_LIMIT=0.5"), "{env:?}");

    // A file saved through the Jupyter contents API lands in alice's volume.
    let saved = reqwest::Client::new()
        .put(format!(
            "{}/user/alice/api/contents/work/from-docker.txt",
            hub.public_url()
        ))
        .header("Authorization", format!("token {token}"))
        .json(&json!({"type": "file", "format": "text", "content": "hello from a container"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 201, "{}", saved.text().await.unwrap());
    assert_eq!(
        std::fs::read_to_string(home.join("from-docker.txt")).unwrap(),
        "hello from a container"
    );

    // A user who logs in gets JupyterLab from the container (after the
    // server's OAuth login through the hub) and runs a kernel there, as the
    // image's user.
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    let lab = browser
        .follow
        .get(format!("{}/user/alice/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200, "{}", hub.log());
    assert_eq!(
        browser
            .run_code("alice", "import os; (os.getuid(), os.getcwd())")
            .await,
        "(1000, '/home/jovyan')"
    );

    // Stopping stops the container and, with remove = true, removes it.
    let stopped = api
        .call(&token, Method::DELETE, "/users/alice/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    eventually(60, "the container to be removed", || async {
        docker.inspect(&container).is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_hub_re_adopts_the_container_and_stop_keeps_it_for_the_next_start() {
    let docker = docker::shared();
    let prefix = prefix("restart");
    let mut hub = docker_hub(docker, &prefix, "remove = false");
    let api = Api::new(&hub);
    let token = token_for(&hub, "bob");
    let Start { status, events, .. } = start(&api, &token, "bob").await;
    assert!(matches!(status, 201 | 202), "start: {status}");
    assert_eq!(
        events.last().unwrap()["ready"],
        true,
        "{events:?}\n{}",
        hub.log()
    );
    let container = format!("{prefix}-bob");
    let id = docker.inspect(&container).unwrap()["Id"].clone();

    let status = hub.kill(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(
        running(docker, &container),
        "the container outlives the hub"
    );
    hub.launch();
    let (code, model) = api.get(&token, "/users/bob").await;
    assert_eq!(code, 200);
    assert_eq!(model["servers"][""]["ready"], true, "re-adopted: {model}");
    let ours = docker.cli(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("name={prefix}-"),
    ]);
    assert_eq!(
        ours.lines().collect::<Vec<_>>(),
        [id.as_str().unwrap()],
        "no second container"
    );
    let status = api
        .public(&token, "/user/bob/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);

    // remove = false: the stopped container is kept, with what the user
    // wrote into it.
    docker.cli(&["exec", &container, "sh", "-c", "echo kept > /tmp/work.txt"]);
    let stopped = api
        .call(&token, Method::DELETE, "/users/bob/server")
        .send()
        .await
        .unwrap();
    assert!(matches!(stopped.status().as_u16(), 202 | 204));
    eventually(60, "the container to stop", || async {
        (!running(docker, &container)).then_some(())
    })
    .await;
    assert_eq!(
        docker.inspect(&container).unwrap()["Id"],
        id,
        "kept, stopped"
    );

    // The next start runs the same container again (upstream's "Found
    // existing container"), and the server still authenticates with the
    // hub token it was created with.
    let Start { status, events, .. } = start(&api, &token, "bob").await;
    assert!(matches!(status, 201 | 202), "restart: {status}");
    assert_eq!(
        events.last().unwrap()["ready"],
        true,
        "{events:?}\n{}",
        hub.log()
    );
    assert_eq!(
        docker.inspect(&container).unwrap()["Id"],
        id,
        "the same container"
    );
    assert!(running(docker, &container));
    assert_eq!(
        docker
            .cli(&["exec", &container, "cat", "/tmp/work.txt"])
            .trim(),
        "kept"
    );
    let status = api
        .public(&token, "/user/bob/api/status")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200, "{}", hub.log());
    // The server's own token (its OAuth secret, its activity reports)
    // is the one in the container, and the hub knows it again.
    let env = docker.inspect(&container).unwrap()["Config"]["Env"].clone();
    let server_token = env
        .as_array()
        .unwrap()
        .iter()
        .find_map(|line| line.as_str()?.strip_prefix("JUPYTERHUB_API_TOKEN="))
        .unwrap()
        .to_owned();
    let (code, whoami) = api.get(&server_token, "/user").await;
    assert_eq!(code, 200, "the server's token: {whoami}");
    assert_eq!(whoami["name"], "bob");
    let (_, tokens) = api.get(&token, "/users/bob/tokens").await;
    let notes: Vec<&str> = tokens["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["note"].as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.ends_with("retrieved from the spawner")),
        "the server's old token is its token again: {notes:?}"
    );
    assert_eq!(
        notes.iter().filter(|n| n.starts_with("Server at")).count(),
        1,
        "the unused generated token is gone: {notes:?}"
    );
    docker.cli(&["rm", "-f", &container]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_image_with_pull_policy_never_fails_with_a_clear_message() {
    let docker = docker::shared();
    let prefix = prefix("missing");
    let body = format!(
        r#"image = "ferrohub/not-there:1"
network_name = "host"
pull_policy = "never"
prefix = "{prefix}""#
    );
    let hub = TestHub::start_with_env(
        "dummy",
        "DockerSpawner",
        &[("DockerSpawner", &body), ("Authenticator", USERS)],
        &[("DOCKER_HOST", &docker.host)],
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, "carol");
    let Start {
        status,
        answer,
        events,
    } = start(&api, &token, "carol").await;
    // The failure comes within the request's wait: the answer says why
    // (upstream: 500 with the spawner's message), and so does the stream.
    assert_eq!(status, 500, "{answer}");
    let last = events.last().unwrap();
    assert_eq!(last["failed"], true, "{events:?}");
    for message in [&answer["message"], &last["message"]] {
        let message = message.as_str().unwrap();
        assert!(
            message.contains("ferrohub/not-there:1") && message.contains("pull_policy is never"),
            "{message}"
        );
    }
    assert!(docker.inspect(&format!("{prefix}-carol")).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_images_make_the_spawn_form_and_bound_the_choice() {
    let docker = docker::shared();
    let prefix = prefix("form");
    let hub = docker_hub(
        docker,
        &prefix,
        &format!(
            r#"remove = true
allowed_images = {{ "Default" = "{}", "Broken" = "ferrohub/not-there:1" }}"#,
            docker.image
        ),
    );
    let api = Api::new(&hub);
    let token = token_for(&hub, "dave");

    // Through the API: a label resolves to its image (this one is absent,
    // so the start fails: 500 with the spawner's message); anything else is
    // refused before a start, naming the choices (400, as upstream).
    for (choice, status, says) in [
        ("Broken", 500, "image ferrohub/not-there:1 is not present"),
        (
            "evil:1",
            400,
            "image evil:1 is not in the allowed list: Broken, Default",
        ),
    ] {
        let answer = api
            .call(&token, Method::POST, "/users/dave/server")
            .json(&json!({ "image": choice }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{choice}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    assert!(docker.inspect(&format!("{prefix}-dave")).is_none());

    // The spawn page offers the labels (upstream's default options form);
    // the chosen one runs.
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("dave", "pw", None).await.status(), 302);
    let page = browser
        .single
        .get(format!("{}/hub/spawn", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for shown in [
        r#"<select class="form-control" id="image" name="image""#,
        r#"<option value="Default">Default</option>"#,
        r#"<option value="Broken">Broken</option>"#,
    ] {
        assert!(html.contains(shown), "form lacks {shown}: {html}");
    }
    let xsrf = hidden_xsrf(&html).expect("the form has an _xsrf field");
    let submitted = browser
        .single
        .post(format!("{}/hub/spawn", hub.public_url()))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("_spawn_form", "1"),
            ("image", "Default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 302);
    let model = eventually(150, "dave's server to be ready", || async {
        let model: Value = browser
            .hub_api(Method::GET, "/users/dave")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (model["servers"][""]["ready"] == true).then_some(model)
    })
    .await;
    assert_eq!(
        model["servers"][""]["user_options"],
        json!({"image": ["Default"]})
    );
    let inspect = docker
        .inspect(&format!("{prefix}-dave"))
        .expect("dave's container");
    assert_eq!(inspect["Config"]["Image"], docker.image);
}
