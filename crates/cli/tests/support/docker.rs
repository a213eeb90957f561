//! A real Docker daemon for the DockerSpawner tests, and the single-user
//! image in it.
//!
//! The daemon is Debian's `dockerd` (installed by scripts/setup.sh) on a
//! private socket, data root and exec root under
//! `/tmp/ferrohub-test-dockerd`, with no bridge and no iptables rules (the
//! tests use `network_name = "host"`, or a network of their own for the
//! bridge modes), so it never touches the machine's own Docker. The image is imported once from the root-file-system tarball
//! that scripts/singleuser-image.sh builds (`FERROHUB_DOCKER_DIR`, default
//! /opt/ferrohub/docker) and stays in the data root for later runs.
//!
//! One daemon serves every test process (nextest runs each test in its own):
//! each holds a shared lock on `users.lock` for its lifetime, the first one
//! starts the daemon under `start.lock`, and a small watcher stops it (and
//! removes its containers) once no test process has held the shared lock for
//! a few seconds. The lock goes away with the process, so a crashed test
//! does not keep the daemon alive.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the shared daemon lives.
const ROOT: &str = "/tmp/ferrohub-test-dockerd";

/// The running test daemon and the image to use.
#[derive(Debug)]
pub struct TestDocker {
    /// `unix:///…/docker.sock`, for `DOCKER_HOST`.
    pub host: String,
    /// The single-user image (`ferrohub/singleuser:<recipe hash>`).
    pub image: String,
    /// Held (shared) while this process runs: keeps the daemon up.
    _users: File,
}

impl TestDocker {
    /// Runs the docker CLI against the test daemon; panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = self.cli_output(args);
        assert!(
            output.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs the docker CLI against the test daemon.
    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(docker_cli())
            .arg("--host")
            .arg(&self.host)
            .args(args)
            .output()
            .expect("run docker")
    }

    /// A user-defined bridge network of the test daemon (created on first
    /// use; the watcher removes it with the daemon), for bridge-mode tests:
    /// containers on it are reached at their own address or through a port
    /// published on 127.0.0.1 (by docker-proxy, as there are no iptables
    /// rules here).
    pub fn network(&self, name: &str) {
        if !self
            .cli_output(&["network", "inspect", name])
            .status
            .success()
        {
            let created = self.cli_output(&["network", "create", name]);
            // A parallel test may have created it meanwhile.
            assert!(
                created.status.success()
                    || self
                        .cli_output(&["network", "inspect", name])
                        .status
                        .success(),
                "docker network create {name}: {}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
    }

    /// `docker inspect` of a container, or `None` if there is none.
    pub fn inspect(&self, container: &str) -> Option<serde_json::Value> {
        let output = self.cli_output(&["container", "inspect", container]);
        if !output.status.success() {
            return None;
        }
        let mut list: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
        list.pop()
    }
}

/// The daemon and image, started and imported on first use in this process.
pub fn shared() -> &'static TestDocker {
    static SHARED: OnceLock<TestDocker> = OnceLock::new();
    SHARED.get_or_init(start)
}

fn docker_cli() -> &'static str {
    if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

fn start() -> TestDocker {
    assert!(
        Path::new("/usr/sbin/dockerd").exists(),
        "no /usr/sbin/dockerd; run scripts/setup.sh"
    );
    let (image, tarball, changes) = image_recipe();
    let root = Path::new(ROOT);
    std::fs::create_dir_all(root).unwrap();
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let users = File::options()
        .create(true)
        .append(true)
        .open(root.join("users.lock"))
        .unwrap();
    flock(&users, nix::fcntl::FlockArg::LockShared);
    let starting = File::options()
        .create(true)
        .append(true)
        .open(root.join("start.lock"))
        .unwrap();
    flock(&starting, nix::fcntl::FlockArg::LockExclusive);
    let socket = root.join("docker.sock");
    let host = format!("unix://{}", socket.display());
    if !answers(&host) {
        start_daemon(root, &host);
    }
    let docker = TestDocker {
        host,
        image: image.clone(),
        _users: users,
    };
    if !docker
        .cli_output(&["image", "inspect", &image])
        .status
        .success()
    {
        let started = Instant::now();
        let mut args = vec!["image".to_owned(), "import".to_owned()];
        for change in &changes {
            args.push("--change".into());
            args.push(change.clone());
        }
        args.push(tarball.display().to_string());
        args.push(image.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker.cli(&args);
        eprintln!(
            "imported {image} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Images of older recipes are not used any more.
        let listed = docker.cli(&[
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "ferrohub/singleuser",
        ]);
        for old in listed.lines().filter(|tag| *tag != image) {
            docker.cli_output(&["image", "rm", old]);
        }
    }
    drop(starting);
    docker
}

/// The image name, tarball and `docker import --change` lines written by
/// scripts/singleuser-image.sh.
fn image_recipe() -> (String, PathBuf, Vec<String>) {
    let dir =
        std::env::var("FERROHUB_DOCKER_DIR").unwrap_or_else(|_| "/opt/ferrohub/docker".into());
    let env_file = Path::new(&dir).join("singleuser.env");
    let text = std::fs::read_to_string(&env_file)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup.sh", env_file.display()));
    let (mut image, mut tarball, mut changes) = (None, None, Vec::new());
    for line in text.lines() {
        match line.split_once('=') {
            Some(("FERROHUB_SINGLEUSER_IMAGE", v)) => image = Some(v.to_owned()),
            Some(("FERROHUB_SINGLEUSER_TARBALL", v)) => tarball = Some(PathBuf::from(v)),
            Some(("FERROHUB_SINGLEUSER_CHANGES", v)) => changes.push(v.to_owned()),
            _ => {}
        }
    }
    let tarball = tarball.expect("tarball in singleuser.env");
    assert!(
        tarball.exists(),
        "{} is missing; run scripts/setup.sh",
        tarball.display()
    );
    (image.expect("image in singleuser.env"), tarball, changes)
}

fn answers(host: &str) -> bool {
    Command::new(docker_cli())
        .args(["--host", host, "version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts dockerd and its watcher in a session of their own (they outlive
/// this test process on purpose), and waits until the daemon answers.
fn start_daemon(root: &Path, host: &str) {
    let config = root.join("daemon.json");
    // cgroupfs and low default ulimits: these VMs lack CAP_SYS_RESOURCE and
    // have hybrid cgroups (see the research notes on containers).
    std::fs::write(
        &config,
        r#"{"exec-opts": ["native.cgroupdriver=cgroupfs"],
 "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 1024},
                     "nproc": {"Name": "nproc", "Soft": 1024, "Hard": 1024}}}"#,
    )
    .unwrap();
    let r = root.display();
    // The watcher: every 5 s, if no test process holds users.lock, take it
    // exclusively (so a newcomer waits), remove the containers and networks
    // (their bridge interfaces), stop the daemon and exit.
    let script = format!(
        r#"
dockerd --config-file {r}/daemon.json --host {host} --data-root {r}/data \
    --exec-root {r}/exec --pidfile {r}/dockerd.pid --bridge none --iptables=false \
    --ip-masq=false >>{r}/dockerd.log 2>&1 </dev/null &
daemon=$!
exec 9>>{r}/users.lock
while sleep 5; do
    kill -0 "$daemon" 2>/dev/null || exit 0
    if flock -x -n 9; then
        ids=$({cli} --host {host} ps -aq)
        [ -n "$ids" ] && {cli} --host {host} rm -f $ids >/dev/null 2>&1
        {cli} --host {host} network prune -f >/dev/null 2>&1
        kill -TERM "$daemon"
        wait "$daemon"
        exit 0
    fi
done
"#,
        cli = docker_cli(),
    );
    // A shell that puts the watcher in a session of its own and exits at
    // once (so nothing is left for this process to reap).
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"setsid /bin/sh -c "$1" </dev/null >/dev/null 2>&1 &"#)
        .arg("sh")
        .arg(script)
        .status()
        .expect("start dockerd");
    assert!(status.success(), "starting dockerd: {status}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers(host) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    panic!(
        "dockerd did not answer in 60 s; log:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}

fn flock(file: &File, how: nix::fcntl::FlockArg) {
    use std::os::fd::AsRawFd as _;
    #[allow(
        deprecated,
        reason = "nix's Flock wrapper takes ownership of the file; this lock lives with the File"
    )]
    nix::fcntl::flock(file.as_raw_fd(), how).expect("flock");
}
