//! A real systemd for the SystemdSpawner tests. These machines have no
//! systemd as PID 1, so each test process starts Debian's
//! `/lib/systemd/systemd --system` as PID 1 of a PID and mount namespace of
//! its own (`unshare --pid --mount --mount-proc`, a tmpfs on `/run`), with
//! only a few empty targets as units (`SYSTEMD_UNIT_PATH`).
//!
//! systemd only answers clients in its own PID namespace (it checks the
//! peer's pid), and a process that only sets its children's PID namespace
//! cannot start threads. So the hub runs under [`Systemd::launcher`],
//! entirely inside systemd's mount and PID namespaces (`nsenter -m -p`,
//! which forks: the hub is nsenter's child, see [`super::TestHub::pid`]),
//! with that namespace's `/proc`; pids the hub writes (the proxy's pid
//! file) are pids of that namespace. The network is shared: the hub, its
//! proxy and the units' servers listen on the host's 127.0.0.1.
//!
//! systemd starts once per test process (each nextest test is a process)
//! and gets SIGKILL when the process ends (`unshare --kill-child`, and the
//! unshare itself is tied to the test process); every process in its PID
//! namespace dies with it. The SystemdSpawner tests run one at a time
//! (`.config/nextest.toml`, test group `systemd`): cgroup v1 here, every
//! such systemd would manage the same cgroup tree.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, spawn_tied_to_process};

/// The units systemd needs to reach `default.target`; all empty.
const TARGETS: [&str; 10] = [
    "sysinit",
    "basic",
    "shutdown",
    "slices",
    "sockets",
    "paths",
    "timers",
    "local-fs",
    "network",
    "multi-user",
];

/// A running systemd in namespaces of its own.
#[derive(Debug)]
pub struct Systemd {
    /// The `unshare` process (its child is systemd).
    _unshare: Daemon,
    /// systemd's pid as seen from here.
    pid: i32,
    /// The unit directory and systemd's output.
    pub dir: tempfile::TempDir,
}

/// The systemd of this test process, started on first use.
pub fn shared() -> &'static Systemd {
    static SHARED: OnceLock<Systemd> = OnceLock::new();
    SHARED.get_or_init(Systemd::start)
}

impl Systemd {
    fn start() -> Self {
        assert!(
            std::path::Path::new("/lib/systemd/systemd").exists(),
            "no /lib/systemd/systemd; run scripts/setup.sh"
        );
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "the SystemdSpawner tests start systemd in namespaces: run them as root (CI does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-systemd-")
            .tempdir()
            .unwrap();
        let units = dir.path().join("units");
        std::fs::create_dir(&units).unwrap();
        for target in TARGETS {
            std::fs::write(
                units.join(format!("{target}.target")),
                format!("[Unit]\nDescription={target}\n"),
            )
            .unwrap();
        }
        std::fs::write(
            units.join("default.target"),
            "[Unit]\nDescription=default\nWants=basic.target multi-user.target\n",
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("systemd.log")).unwrap();
        let mut command = Command::new("unshare");
        command
            .args([
                "--pid",
                "--fork",
                "--kill-child=SIGKILL",
                "--mount",
                "--propagation",
                "private",
                "--mount-proc",
                "sh",
                "-c",
                "mount -t tmpfs -o mode=755 tmpfs /run && exec /lib/systemd/systemd --system --unit=default.target --log-target=console",
            ])
            .env("SYSTEMD_UNIT_PATH", &units)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let unshare = Daemon::new(spawn_tied_to_process(command).unwrap());
        let unshare_pid = unshare.pid();
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{unshare_pid}/task/{unshare_pid}/children"))
                    .unwrap_or_default();
            let child = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(child) = child
                && std::fs::read_to_string(format!("/proc/{child}/comm"))
                    .is_ok_and(|comm| comm.trim() == "systemd")
            {
                break child;
            }
            assert!(
                Instant::now() < deadline,
                "systemd did not start in 30 s: {}",
                std::fs::read_to_string(dir.path().join("systemd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let systemd = Self {
            _unshare: unshare,
            pid,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = systemd.run(&["systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&state.stdout).trim().to_owned();
            if state == "running" || state == "degraded" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "systemd is not running after 30 s ({state}): {}",
                systemd.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        systemd
    }

    /// systemd's pid as seen from the test process.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// What systemd wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("systemd.log")).unwrap_or_default()
    }

    /// The command prefix that runs a program (the hub) where it can talk to
    /// this systemd: see the module's documentation.
    pub fn launcher(&self) -> Vec<String> {
        vec![
            "nsenter".to_owned(),
            "-t".to_owned(),
            self.pid.to_string(),
            "-m".to_owned(),
            "-p".to_owned(),
            "--".to_owned(),
        ]
    }

    /// Runs `args` inside systemd's namespaces (`nsenter -m -p`).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.pid.to_string(), "-m", "-p", "--"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `systemctl show -p <properties> <unit>` as a map.
    pub fn show(&self, unit: &str, properties: &[&str]) -> BTreeMap<String, String> {
        let mut args = vec!["systemctl", "show", unit];
        for property in properties {
            args.extend(["-p", property]);
        }
        let out = self.run(&args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// `systemctl is-active <unit>`: `active`, `inactive`, `failed`, ...
    pub fn state(&self, unit: &str) -> String {
        let out = self.run(&["systemctl", "is-active", unit]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The uid a process of systemd's namespace (its pid there) runs as.
    pub fn uid_of(&self, pid_in_namespace: &str) -> Option<u32> {
        let out = self.run(&["stat", "-c", "%u", &format!("/proc/{pid_in_namespace}")]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// A file as a process in systemd's mount namespace sees it.
    pub fn path(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.pid))
    }
}
