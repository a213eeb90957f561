//! The repository's Dockerfile, built for real on the test Docker daemon
//! (support/docker.rs) and run: its `prebuilt` target (the same runtime
//! stage as the default image, with the binaries under test instead of a
//! Rust build stage, which needs a registry) on a bookworm base made from
//! this machine's packages (scripts/hub-base-image.sh). The container serves
//! the login page, and its hub runs as the unprivileged user the image
//! names.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::{Path, PathBuf};

use support::{docker, ferrohub_bin, free_port};

/// The base image's name and tarball, from scripts/hub-base-image.sh.
fn base_recipe() -> (String, PathBuf) {
    let dir =
        std::env::var("FERROHUB_DOCKER_DIR").unwrap_or_else(|_| "/opt/ferrohub/docker".into());
    let env_file = Path::new(&dir).join("hub-base.env");
    let text = std::fs::read_to_string(&env_file)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup.sh", env_file.display()));
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map_or_else(|| panic!("{key} in {}", env_file.display()), str::to_owned)
    };
    (
        value("FERROHUB_HUB_BASE_IMAGE"),
        PathBuf::from(value("FERROHUB_HUB_BASE_TARBALL")),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dockerfile_builds_an_image_that_serves_the_login_page_without_root() {
    let docker = docker::shared();
    let (base, tarball) = base_recipe();
    if !docker
        .cli_output(&["image", "inspect", &base])
        .status
        .success()
    {
        docker.cli(&["image", "import", &tarball.display().to_string(), &base]);
    }
    // The build context: the Dockerfile and the binaries under test.
    let context = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(repo.join("Dockerfile"), context.path().join("Dockerfile")).unwrap();
    let bin = context.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let hub = ferrohub_bin();
    for binary in [hub.clone(), hub.with_file_name("ferrohub-proxy")] {
        std::fs::copy(&binary, bin.join(binary.file_name().unwrap())).unwrap();
    }
    let tag = format!("ferrohub/hub-test:{}", std::process::id());
    let built = docker.cli_output(&[
        "build",
        "--network",
        "host",
        "--target",
        "prebuilt",
        "--build-arg",
        &format!("DEBIAN_IMAGE={base}"),
        "--build-arg",
        "PREBUILT=bin",
        "--tag",
        &tag,
        &context.path().display().to_string(),
    ]);
    assert!(
        built.status.success(),
        "docker build: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let image = docker.cli(&["image", "inspect", "--format", "{{.Config.User}}", &tag]);
    assert_eq!(image.trim(), "10001:10001");

    // Run it as shipped, on the host's network (the test daemon has no
    // bridge), with a configuration on the command line.
    let (public_port, hub_port, api_port) = (free_port(), free_port(), free_port());
    let name = format!("fh{}-hub-image", std::process::id());
    let run = docker.cli_output(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--network",
        "host",
        &tag,
        &format!("--JupyterHub.bind_url=http://127.0.0.1:{public_port}"),
        &format!("--JupyterHub.hub_port={hub_port}"),
        &format!("--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}"),
        "--JupyterHub.authenticator_class=dummy",
    ]);
    let cleanup = Cleanup {
        docker,
        container: name.clone(),
        image: tag.clone(),
    };
    assert!(
        run.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let url = format!("http://127.0.0.1:{public_port}/hub/login");
    let page = support::eventually(60, "the login page", || async {
        let response = reqwest::get(&url).await.ok()?;
        (response.status() == 200).then_some(response.text().await.ok()?)
    })
    .await;
    assert!(page.contains("<form"), "{page}");

    // The hub in the container has no root: its uid seen from the host.
    let pid = docker.cli(&["inspect", "--format", "{{.State.Pid}}", &name]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["10001"; 4],
        "{uid_line}"
    );
    drop(cleanup);
}

/// Removes the container and the image built, also when the test fails.
struct Cleanup {
    docker: &'static docker::TestDocker,
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.docker
            .cli_output(&["rm", "--force", "--volumes", &self.container]);
        self.docker
            .cli_output(&["image", "rm", "--force", &self.image]);
    }
}
