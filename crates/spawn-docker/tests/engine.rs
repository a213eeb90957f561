//! DockerSpawner's bridge modes against the real test daemon (the fixture
//! of the whole-system tests, crates/cli/tests/support/docker.rs), called
//! through the `Spawner` trait without a hub: on a user-defined bridge
//! network, a server is reached at the container's own address
//! (`use_internal_ip`, upstream's default there) or through its port
//! published on `host_ip`. The server is Python's `http.server` from the
//! single-user image, so no hub needs to answer it. `post_start_cmd` runs
//! in the container once it has started.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(
    dead_code,
    unreachable_pub,
    reason = "the fixture serves several test binaries; `pub` is what their test files see"
)]
#[path = "../../cli/tests/support/docker.rs"]
mod docker;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrohub_config::Config;
use ferrohub_spawn::{ProgressReporter, ServerSettings, SpawnRequest, Spawner};
use ferrohub_spawn_docker::DockerSpawner;

const NETWORK: &str = "ferrohub-test";

fn spawner_config(docker: &docker::TestDocker, prefix: &str, internal: bool) -> Config {
    let mut config = Config::default();
    config.docker_spawner.image.clone_from(&docker.image);
    config.docker_spawner.network_name = NETWORK.into();
    config.docker_spawner.use_internal_ip = Some(internal);
    config.docker_spawner.pull_policy = ferrohub_config::PullPolicy::Never;
    config.docker_spawner.remove = true;
    config.docker_spawner.prefix = prefix.into();
    // http.server ignores SIGTERM as PID 1: one second, then SIGKILL.
    config.docker_spawner.extra_create_kwargs.stop_timeout = Some(1);
    config.docker_spawner.post_start_cmd = "sh -c 'echo started > /tmp/post-start'".into();
    config
}

fn request(user: &str) -> SpawnRequest {
    let mut settings = ServerSettings::from_config(&Config::default().spawner);
    settings.cmd = ["python3", "-m", "http.server", "8888"]
        .map(String::from)
        .to_vec();
    SpawnRequest {
        username: user.into(),
        server_name: String::new(),
        base_url: format!("/user/{user}/"),
        hub_env: BTreeMap::new(),
        settings,
        user_options: serde_json::json!({}),
        progress: ProgressReporter::ignore(),
        reports: ferrohub_spawn::ServerReports::new(),
    }
}

/// GET `url` until it answers 200 (the server needs a moment to bind).
async fn answers(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(2), http_get(url)).await
            && (response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A minimal HTTP/1.0 GET of `http://ip:port/`, returning the raw answer.
async fn http_get(url: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

async fn start_poll_stop(internal: bool, user: &str) -> String {
    let docker = docker::shared();
    docker.network(NETWORK);
    let prefix = format!("fh{}-engine", std::process::id());
    let spawner =
        DockerSpawner::with_host(&spawner_config(docker, &prefix, internal), &docker.host);
    let started = spawner.start(&request(user)).await.unwrap();
    assert!(
        answers(&started.url).await,
        "nothing answers at {}",
        started.url
    );
    assert_eq!(spawner.poll(&started.state).await.unwrap(), None, "running");
    let container = format!("{prefix}-{user}");
    let inspect = docker.inspect(&container).expect("the container");
    assert_eq!(inspect["HostConfig"]["NetworkMode"], NETWORK);
    // post_start_cmd ran in the container (detached, so give it a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !docker
        .cli_output(&["exec", &container, "cat", "/tmp/post-start"])
        .stdout
        .starts_with(b"started")
    {
        assert!(Instant::now() < deadline, "post_start_cmd did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    spawner.stop(&started.state).await.unwrap();
    assert!(
        docker.inspect(&container).is_none(),
        "removed (remove = true)"
    );
    assert!(
        spawner.poll(&started.state).await.unwrap().is_some(),
        "gone"
    );
    started.url
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_named_network_the_server_is_reached_at_the_containers_address() {
    let url = start_poll_stop(true, "nina").await;
    assert!(!url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.ends_with(":8888"), "the container's own port: {url}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_internal_ip_the_server_is_reached_at_its_published_port() {
    let url = start_poll_stop(false, "omar").await;
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "published on host_ip: {url}"
    );
    assert!(!url.ends_with(":8888"), "a port docker chose: {url}");
}

/// A start abandoned after its container was created (the hub's
/// `start_timeout`, or a stop request while it starts, drops the future)
/// leaves no container behind that the hub does not know.
#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_start_removes_the_container_it_created() {
    let docker = docker::shared();
    docker.network(NETWORK);
    let prefix = format!("fh{}-abandon", std::process::id());
    let spawner = DockerSpawner::with_host(&spawner_config(docker, &prefix, true), &docker.host);
    let (created, mut told) = tokio::sync::mpsc::unbounded_channel();
    let mut request = request("pia");
    // The spawner reports "Starting container" once the container exists.
    request.progress = ProgressReporter::new(move |_, message| {
        if message.starts_with("Starting container") {
            created.send(()).ok();
        }
    });
    let container = format!("{prefix}-pia");
    tokio::select! {
        started = spawner.start(&request) => panic!("the start finished first: {started:?}"),
        _ = told.recv() => {}
    }
    // Dropped: the container it had created goes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while docker.inspect(&container).is_some() {
        assert!(
            Instant::now() < deadline,
            "the abandoned container is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
